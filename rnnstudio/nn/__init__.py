"""Pure PyTorch: models, model files, decoding. No Qt, no OpenCV."""
