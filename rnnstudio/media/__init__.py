"""Frame sources: cameras, video files, images and a generated shapes stream (OpenCV). No Qt."""
