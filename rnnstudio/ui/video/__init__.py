"""The video panel (rnnstudio.panels.VIDEO)."""
