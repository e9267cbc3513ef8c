"""Corpora and data sets. No Qt."""
