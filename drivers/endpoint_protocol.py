"""What a virtual board listens on (`Endpoint`) and the byte streams it hands out (`ByteStream`)."""
from __future__ import annotations

from typing import Protocol

WRITE_STALL_S = 2.0   # give up on a write the peer does not drain for this long


class ByteStream(Protocol):
    def read(self, timeout: float) -> bytes: ...     # b"" on timeout; EOFError when the peer left
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class Endpoint(Protocol):
    url: str
    def accept(self, timeout: float) -> ByteStream | None: ...
    def close(self) -> None: ...
