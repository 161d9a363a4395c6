"""The compiler's one error type."""
from __future__ import annotations


class CompileError(ValueError):
    """A network cannot be compiled for a spec, or a compiled file cannot be used."""
