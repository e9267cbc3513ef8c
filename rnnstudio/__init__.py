"""RNN Studio: see recurrent neural networks work, live, on real models."""

__version__ = "0.1.0"
