"""A chip's calibration as a file: its fitted readout (`harness.calibration`) stored as JSON
keyed by the chip's identity and the compiled network's fingerprint, so it is only ever
applied to the chip and network it was made for; every field is checked on loading.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivers.chip import ChipIdentity
from harness.boards.realise import same_level
from harness.calibration import SPLITS, TOWARDS, CalibrationError, RidgeChoice
from harness.compiler import CompiledNetwork
from harness.compiler.decoding import Decoder
from harness.networks import compiled_fingerprint
from sim.atomic import write_json
from sim.tasks.base import Task

FORMAT = "snn-hil-calibration"


@dataclass(frozen=True)
class Calibration:
    """A chip's fitted readout and what it was made for."""

    chip: dict[str, Any]      # the chip's identity (spec version and name, chip id, firmware, mismatch)
    network: str              # fingerprint of the compiled network (harness.networks.compiled_fingerprint)
    trials: int
    split: str
    ridge: RidgeChoice
    decoder: Decoder

    def save(self, path: str | Path) -> Path:
        return write_json(path, {"format": FORMAT, "chip": self.chip, "network": self.network, "trials": self.trials,
                                 "split": self.split, "ridge": {"strength": self.ridge.strength, "towards": self.ridge.towards},
                                 "decoder": self.decoder.to_dict()})

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        """The calibration in `path`, every field checked (CalibrationError naming the file and field)."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CalibrationError(f"{path}: no such calibration file") from None
        except OSError as exc:
            raise CalibrationError(f"{path}: cannot read calibration file ({exc.strerror or exc})") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise CalibrationError(f"{path}: not a calibration file (binary data, not JSON; make one with "
                                   "`harness calibrate`)") from None
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path}: not a calibration file (invalid JSON: {exc}); make one with "
                                   "`harness calibrate`") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError(f"{path}: not a calibration file (make one with `harness calibrate`)")
        fields = CalibrationFields(path, data)
        return cls(fields.chip(), fields.text("network"), fields.integer("trials", low=1),
                   fields.choice("split", SPLITS), fields.ridge(), fields.decoder())

    def check(self, identity: ChipIdentity, compiled: CompiledNetwork, task: Task) -> None:
        """CalibrationError unless this calibration was made for the chip `identity` names (spec,
        chip, mismatch) and for `compiled` (fingerprint, the decoder's neurons, sizes and filter),
        and its trials can be drawn class-balanced from its split of `task`."""
        made = self.chip
        for name in ("spec_name", "spec_version", "chip_id"):
            if made[name] != getattr(identity, name):
                what = "chip" if name == "chip_id" else name.replace("_", " ")
                raise CalibrationError(f"this calibration was made for {what} {made[name]}, not "
                                       f"{getattr(identity, name)} (field 'chip.{name}'); calibrate this chip with "
                                       "`harness calibrate`")
        if not same_level(made["mismatch"], identity.mismatch, compiled.config.spec):
            raise CalibrationError(f"this calibration was made for chip {made['chip_id']} at mismatch "
                                   f"{made['mismatch']}, not at mismatch {identity.mismatch} (field "
                                   "'chip.mismatch'); calibrate the chip at this mismatch")
        fingerprint = compiled_fingerprint(compiled)
        if self.network != fingerprint:
            raise CalibrationError(f"this calibration was made for compiled network {self.network}, not "
                                   f"{fingerprint} (field 'network'); recalibrate after compiling")
        ours, theirs = self.decoder, compiled.decoder
        if ours.neurons.shape != theirs.neurons.shape or np.any(ours.neurons != theirs.neurons):
            raise CalibrationError(f"field 'decoder.neurons' reads out neurons {_ids(ours.neurons)}, not the compiled "
                                   f"decoder's {_ids(theirs.neurons)}; recalibrate with `harness calibrate`")
        if ours.w_out.shape != theirs.w_out.shape:
            raise CalibrationError(f"field 'decoder.w_out' is {ours.w_out.shape[0]} x {ours.w_out.shape[1]}, not the "
                                   f"compiled decoder's {theirs.w_out.shape[0]} x {theirs.w_out.shape[1]}")
        if ours.tau_out != theirs.tau_out:
            raise CalibrationError(f"field 'decoder.tau_out' is {ours.tau_out:g}, not the compiled decoder's "
                                   f"{theirs.tau_out:g}")
        size = len(getattr(task, self.split))
        if self.trials % task.n_classes or self.trials > size:
            raise CalibrationError(f"field 'trials' is {self.trials}: calibration trials are a multiple of the "
                                   f"task's {task.n_classes} classes and at most its {self.split} split's {size} "
                                   "samples")


def _ids(neurons: np.ndarray) -> str:
    shown = ", ".join(str(n) for n in neurons[:6])
    return f"[{shown}{', ...' if len(neurons) > 6 else ''}] ({len(neurons)})"


class CalibrationFields:
    """The fields of a parsed calibration file, each checked with an error naming the file and field."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path, self.data = path, data

    def fail(self, name: str, problem: str) -> CalibrationError:
        return CalibrationError(f"{self.path}: field '{name}' {problem}")

    def get(self, name: str) -> Any:
        value: Any = self.data
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                raise self.fail(name, "is missing")
            value = value[part]
        return value

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, f"must be a non-empty string, got {value!r}")
        return value

    def integer(self, name: str, low: int) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(name, f"must be an integer >= {low}, got {value!r}")
        return value

    def number(self, name: str, positive: bool = False) -> float:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
                (positive and value <= 0):
            raise self.fail(name, f"must be a finite number{' > 0' if positive else ''}, got {value!r}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.get(name)
        if value not in choices:
            raise self.fail(name, f"must be {' or '.join(repr(c) for c in choices)}, got {value!r}")
        return value

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A list of finite numbers (nested to `shape`) as float64."""
        value = self.get(name)
        try:
            array = np.asarray(value, np.float64) if isinstance(value, list) else None
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape != shape:
            raise self.fail(name, f"must be a list of numbers of shape {list(shape)}")
        if not np.all(np.isfinite(array)):
            raise self.fail(name, f"has {int(np.sum(~np.isfinite(array)))} values that are not finite (NaN or "
                                  "infinite)")
        return array

    def chip(self) -> dict[str, Any]:
        chip = self.get("chip")
        if not isinstance(chip, dict):
            raise self.fail("chip", f"must be the chip's identity (an object), got {chip!r}")
        for name in ("spec_name", "spec_version", "chip_id", "mismatch"):
            self.text(f"chip.{name}")
        return dict(chip)

    def ridge(self) -> RidgeChoice:
        return RidgeChoice(self.number("ridge.strength", positive=True),
                           self.choice("ridge.towards", TOWARDS))

    def decoder(self) -> Decoder:
        neurons = self.get("decoder.neurons")
        if not isinstance(neurons, list) or not neurons or \
                not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in neurons):
            raise self.fail("decoder.neurons", "must be a non-empty list of neuron ids (integers >= 0)")
        n_out = self.integer("decoder.n_out", low=1)
        w_out = self.array("decoder.w_out", (len(neurons), n_out))
        bias = None if self.data["decoder"].get("bias") is None else self.array("decoder.bias", (n_out,))
        return Decoder(np.asarray(neurons, np.int64), w_out, self.number("decoder.tau_out", positive=True), bias)
