"""Activity counters of a run (docs/chip-spec.md, "Activity counters"): what the power model charges.

Per trial: `spike_count` (spikes generated, every neuron, every step), `input_events`
(the input counts summed), `synaptic_events` (one CAM slot receiving its source's count at
a step, counts multiplying; a spike of step t − 1 reaches its targets at step t, so the
spikes of the last step reach none within the run) and `routed_events` (an event delivered
to one core holding at least one CAM slot of its source).

Every path counts at the events: the emulator sums the counts its CAM slots receive; the
batched kernels count each neuron's spikes as it fires (and the last step's spikes apart),
which `from_counts` turns into events through the configuration's fan-out (`EventFanOut`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np

from sim.chip.config import ChipConfig

COUNTERS = ("spike_count", "input_events", "synaptic_events", "routed_events")


@dataclass(frozen=True, eq=False)
class EventFanOut:
    """Per source id (inputs, then neurons; [M + N] int64): the CAM slots it feeds and the
    cores those slots lie in, over the whole configuration (enabled or not: a disabled
    neuron's CAM still receives its events)."""

    slots: np.ndarray
    cores: np.ndarray

    @classmethod
    def of(cls, config: ChipConfig) -> "EventFanOut":
        spec = config.spec
        source, target, _ = config.synapses()
        slots = np.bincount(source, minlength=spec.n_sources).astype(np.int64)
        pairs = np.unique(source * spec.cores + spec.core_of(target))
        cores = np.bincount(pairs // spec.cores, minlength=spec.n_sources).astype(np.int64)
        return cls(slots, cores)

    @functools.cached_property
    def weights(self) -> np.ndarray:
        """[M + N, 2] int64: slots and cores per source.

        Integer, so that the products below stay off BLAS: a multithreaded BLAS leaves a
        thread spinning after each call, which took a third of both cores from the next
        run's kernel threads (1.1x instead of 1.9x from one thread to two, B = 256)."""
        return np.stack([self.slots, self.cores], axis=1)


@dataclass
class Activity:
    """Counters [B] int64, one entry per trial (see the module docstring)."""

    spike_count: np.ndarray
    input_events: np.ndarray
    synaptic_events: np.ndarray
    routed_events: np.ndarray

    @classmethod
    def from_counts(cls, fan_out: EventFanOut, inputs: np.ndarray, fired: np.ndarray, last: np.ndarray,
                    neurons: np.ndarray) -> "Activity":
        """Counters from input counts per channel `inputs` [B, M], spikes per neuron `fired`
        [B, n] and of the last step `last` [B, n] (neurons `neurons` of the chip; the others
        never fired)."""
        m = inputs.shape[-1]
        weights = fan_out.weights
        delivered = np.subtract(fired, last, dtype=np.int64)
        events = np.asarray(inputs, np.int64) @ weights[:m] + delivered @ weights[m + np.asarray(neurons)]
        synaptic, routed = np.ascontiguousarray(events.T)
        return cls(np.asarray(fired, np.int64).sum(axis=1), np.asarray(inputs, np.int64).sum(axis=1), synaptic, routed)

    @classmethod
    def zeros(cls, trials: int) -> "Activity":
        return cls(*(np.zeros(trials, np.int64) for _ in COUNTERS))

    @classmethod
    def join(cls, parts: Sequence[tuple[Any, "Activity"]], trials: int) -> "Activity":
        """One Activity of `trials` trials from (trial index or slice, Activity) parts."""
        whole = cls.zeros(trials)
        for where, part in parts:
            for name in COUNTERS:
                getattr(whole, name)[where] = getattr(part, name)
        return whole

    @classmethod
    def stack(cls, runs: Sequence["Activity"]) -> "Activity":
        """Trials of several runs, in order."""
        return cls(*(np.concatenate([getattr(r, name) for r in runs]) for name in COUNTERS))

    def subset(self, trials: Any) -> "Activity":
        return Activity(*(np.atleast_1d(getattr(self, name)[trials]) for name in COUNTERS))

    def counts(self, trial: int) -> dict[str, float]:
        """One trial's counters by name (what the power model charges)."""
        return {name: float(getattr(self, name)[trial]) for name in COUNTERS}

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
