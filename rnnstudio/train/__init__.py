"""Training loops, as objects stepped one small piece at a time. No Qt."""
