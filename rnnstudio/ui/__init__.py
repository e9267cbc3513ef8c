"""Qt only: the main window, one module per panel, shared widgets. No model maths."""
