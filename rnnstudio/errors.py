"""Errors that carry a message meant for the person using the app.

A `UserError` is bad input: the command line prints its message on one line and exits
with status 2; a panel shows it inline. Its message says what is wrong and what to do.
"""


class UserError(Exception):
    """Bad input from the user: a file, an argument, a setting.

    `details` optionally carries data a panel can show beside the message (for example
    the characters a model does not know, to mark them in the text).
    """

    def __init__(self, message: str, details=None):
        super().__init__(message)
        self.details = details


class TextFileError(UserError):
    """A text file that cannot be used as a corpus or a prompt."""


class ModelFileError(UserError):
    """A model file that is missing, damaged, of another task or of a newer format."""


class PeerLost(Exception):
    """Under torchrun: another training process stopped, and this one cannot go on alone."""
