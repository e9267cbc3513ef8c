"""The captioning panel: a live source captioned word by word, and where the model looked."""
