"""`CompiledNetwork`: a chip configuration plus what the host needs to use it.

Saved as one chip-configuration file (`ChipConfig.save`, atomic): the encoder, decoder,
the network's metadata and the mapping report ride in the configuration's metadata, so
the file also loads anywhere a plain configuration does (`harness chip run`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.compiler.decoding import Decoder
from harness.compiler.encoding import Encoder
from harness.compiler.errors import CompileError
from sim.chip.config import ChipConfig, ConfigError

FORMAT = "snn-hil-compiled"
FORMAT_VERSION = 1


@dataclass
class CompiledNetwork:
    config: ChipConfig
    encoder: Encoder
    decoder: Decoder
    meta: dict[str, Any] = field(default_factory=dict)    # the float network's metadata (task, method, ...)
    report: dict[str, Any] = field(default_factory=dict)  # the mapping report (see harness.compiler.report)

    @property
    def task(self) -> str | None:
        return self.meta.get("task")

    def save(self, path: str | Path) -> Path:
        """Write atomically as one configuration file."""
        record = {"compiled": {"format": FORMAT, "format_version": FORMAT_VERSION, "encoder": self.encoder.to_dict(),
                               "decoder": self.decoder.to_dict(), "network": self.meta, "report": self.report}}
        return replace(self.config, meta=record).save(path)

    @classmethod
    def load(cls, path: str | Path) -> "CompiledNetwork":
        """Read a file written by `save`; CompileError names the file and what is wrong."""
        try:
            config = ChipConfig.load(path)
        except ConfigError as exc:
            raise CompileError(f"not a compiled network: {exc}") from None
        record = (config.meta or {}).get("compiled")
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise CompileError(f"{path}: a chip configuration, but not a compiled network "
                               "(no encoder/decoder); make one with `harness compile`")
        if record.get("format_version") != FORMAT_VERSION:
            raise CompileError(f"{path}: compiled-network format version {record.get('format_version')} is not "
                               f"supported (this harness reads {FORMAT_VERSION})")
        try:
            encoder, decoder = Encoder.from_dict(record["encoder"]), Decoder.from_dict(record["decoder"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CompileError(f"{path}: corrupted compiled-network record ({exc!r})") from None
        return cls(config, encoder, decoder, dict(record.get("network") or {}), dict(record.get("report") or {}))
