"""The device worker: the one thread that owns the accelerator and the loaded models."""
