"""The one error type of NIR import and export."""
from __future__ import annotations


class NirError(ValueError):
    """A NIR graph cannot be read, imported, simulated or exported; the message names the file or node."""
