"""The question-answering panel: ask about a picture in your own words, and evaluate the model."""
