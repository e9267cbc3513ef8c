"""The sentiment panel."""
