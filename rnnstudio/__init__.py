"""RNN Studio: see recurrent neural networks work, live, on real models."""

import os

__version__ = "0.1.0"

# Before anything imports OpenCV: a picture of a few hundred bytes can declare 20000 x 20000
# pixels, and OpenCV's own limit (2^30 pixels) would decode it into gigabytes. 2^26 pixels
# (8192 x 8192) is far beyond any camera frame or data set picture the app shows.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 26))
