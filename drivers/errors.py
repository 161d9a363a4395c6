"""What can go wrong between the host and a board, as `ChipError` subclasses.

Each message names the port URL and says what happened: the board refused, is busy,
speaks another protocol version, the line carries garbage, or nothing answered.
"""
from __future__ import annotations

from drivers.chip import ChipError


class ProtocolError(ChipError):
    """The peer sent something the wire protocol does not allow."""


class FramingError(ProtocolError):
    """A frame is not valid COBS, fails its CRC, or is too long."""


class VersionMismatch(ProtocolError):
    """A message of another wire-protocol version (raised by the decoder)."""

    def __init__(self, message: str, version: int):
        super().__init__(message)
        self.version = version


class LinkError(ChipError):
    """The link to the board failed: port vanished, no answer, wrong protocol."""


class LinkTimeout(LinkError, TimeoutError):
    """The board did not answer within the link timeout."""


class ProtocolVersionError(LinkError):
    """The board speaks another version of the wire protocol."""


class BoardResetError(LinkError):
    """The board rebooted (new boot id): whatever it held, configuration included, is gone."""

    def __init__(self, message: str, new_boot: int):
        super().__init__(message)
        self.new_boot = new_boot


class PortBusyError(ChipError):
    """Another process (or another open in this one) holds the board."""


class BoardBusyError(PortBusyError):
    """The board answered that it is serving another client."""


class ConfigMismatchError(ChipError):
    """The board holds another configuration than the one this host loaded."""


class UnknownTargetError(ChipError, ValueError):
    """A target that is neither the emulator, a device path, nor a supported URL scheme."""
