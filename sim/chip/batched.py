"""The batched vc1 simulator: B chips (own seeds, one configuration) at once.

Bit-identical to `drivers.emulator.EmulatorChip` (CHIP_SPEC §4–5), written for speed.
The work is done by a kernel chosen from the backend and `kernel`:

* NumPy, "fused" (default): `kernel_numba`, every chip's run in one compiled pass,
  chips in parallel, propagation through the fan-out table;
* CuPy, "fused": `kernel_cupy`, RawKernels per step, propagation by fan-out with atomics
  or by a matrix product (`propagation` "auto", "events" or "dense");
* NumPy, "vector": `kernel_numpy`, the pure-NumPy step loop kept as the benchmark
  baseline (`propagation` as on CuPy).

Without recorded state only the neurons that can spike are simulated (`can_spike`: the
enabled ones with a drive or an excitatory input); the others never spike, so they cannot
affect any other, and read as silent. Every run also returns the activity counters of each
chip (`sim.chip.activity`) unless `count=False`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from sim.backend import Backend, get_backend
from sim.chip.activity import Activity, EventFanOut
from sim.chip.config import ChipConfig
from sim.chip.inputs import check_inputs
from sim.chip.kernel_cupy import CupyKernel
from sim.chip.kernel_numpy import VectorKernel
from sim.chip.mismatch import MismatchLevel, batch_params, check_chip_seed
from sim.chip.noise import check_noise_amplitude, check_noise_seeds, noise_keys
from sim.chip.population import KernelOutput, Population, can_spike

KERNELS = ("fused", "vector")
PROPAGATIONS = ("auto", "events", "dense")


class Kernel(Protocol):
    """Runs the chips of one population: see kernel_numba, kernel_numpy, kernel_cupy."""

    pop: Population

    def run(self, x: np.ndarray, keys: np.ndarray, amplitude: int, selected: np.ndarray, record_state: bool,
            count: bool = True) -> KernelOutput: ...


@dataclass
class BatchResult:
    """Spikes [B, T, K] of the selected neurons; full state [B, T, ...] when recorded."""

    spikes: np.ndarray
    neurons: np.ndarray
    v: np.ndarray | None = None     # [B, T, N]
    isyn: np.ndarray | None = None  # [B, T, 4, N]
    refr: np.ndarray | None = None  # [B, T, N]
    activity: Activity | None = None


class BatchedChips:
    """Chips `chip_seeds` (repeats allowed) at mismatch `mismatch`, all loaded with `config`.

    `threads` bounds the CPU threads (None: every core). `propagation` picks the path of
    the CuPy and vector kernels; the fused CPU kernel always walks the fan-out table, which
    is never more work than the dense product, and gives the same bits either way."""

    def __init__(self, config: ChipConfig, chip_seeds: Sequence[int], mismatch: MismatchLevel = "spec",
                 backend: Backend | str = "auto", propagation: str = "auto", threads: int | None = None,
                 kernel: str = "fused"):
        if propagation not in PROPAGATIONS:
            raise ValueError(f"propagation {propagation!r}: choose one of {', '.join(PROPAGATIONS)}")
        if kernel not in KERNELS:
            raise ValueError(f"kernel {kernel!r}: choose one of {', '.join(KERNELS)}")
        if len(chip_seeds) < 1:
            raise ValueError("BatchedChips needs at least one chip seed")
        self.chip_seeds = [check_chip_seed(seed) for seed in chip_seeds]
        self.config = config.validate()
        self.spec = config.spec
        self.backend = get_backend(backend)
        if self.backend.name == "cupy" and kernel == "vector":
            raise ValueError("kernel 'vector' is the NumPy baseline: use backend 'numpy'")
        self.kernel = kernel
        self.propagation = propagation
        self.threads = threads or os.cpu_count() or 1
        self._params = batch_params(config, self.chip_seeds, mismatch)
        self._fan_out = EventFanOut.of(config)
        self._kernels: dict[bytes, Kernel] = {}
        self._live: dict[int, np.ndarray] = {}

    @property
    def n_chips(self) -> int:
        return len(self.chip_seeds)

    def can_spike(self, amplitude: int) -> np.ndarray:
        """[N] bool: the neurons simulated when no state is recorded, at noise `amplitude`."""
        if amplitude not in self._live:
            self._live[amplitude] = can_spike(self.config, self._params, amplitude)
        return self._live[amplitude]

    def _kernel_for(self, everyone: bool, amplitude: int) -> Kernel:
        """The kernel over all neurons, or over those that can spike at noise `amplitude`
        (built once per distinct set)."""
        live = np.ones(self.spec.n_neurons, bool) if everyone else self.can_spike(amplitude)
        key = np.packbits(live).tobytes()
        if key not in self._kernels:
            pop = Population.build(self.config, self._params, np.flatnonzero(live))
            if self.backend.name == "cupy":
                self._kernels[key] = CupyKernel(pop, self.propagation)
            elif self.kernel == "vector":
                self._kernels[key] = VectorKernel(pop, self.propagation, self.threads)
            else:
                from sim.chip.kernel_numba import NumbaKernel  # noqa: PLC0415 - numba takes ~0.5 s to import
                self._kernels[key] = NumbaKernel(pop, self.threads)
        return self._kernels[key]

    def run(self, inputs: Any, *, noise_amplitude: int = 0, noise_seeds: int | Sequence[int] = 0,
            record_state: bool = False, neurons: Sequence[int] | None = None, count: bool = True) -> BatchResult:
        """Run every chip on `inputs` ([T, M] shared, or [B, T, M] one per chip) from power-on;
        `noise_seeds` is one seed for every chip or one per chip; `count`: with the activity
        counters."""
        spec = self.spec
        batched = np.ndim(inputs) == 3
        x = check_inputs(inputs, spec, batched=batched)
        if batched and x.shape[0] != self.n_chips:
            raise ValueError(f"inputs hold {x.shape[0]} rasters for {self.n_chips} chips")
        n_all = spec.n_neurons
        selected = np.arange(n_all) if neurons is None else np.asarray(neurons, np.int64)
        if selected.ndim != 1 or (selected.size and (selected.min() < 0 or selected.max() >= n_all)):
            raise ValueError(f"neurons must be indices in 0..{n_all - 1}")
        amplitude = check_noise_amplitude(noise_amplitude)
        keys = noise_keys(self.chip_seeds, check_noise_seeds(noise_seeds, self.n_chips))
        kernel = self._kernel_for(record_state, amplitude)
        index = kernel.pop.index
        # position of each selected neuron in the population; those absent (never spiking) read as silent
        position = np.minimum(np.searchsorted(index, selected), max(index.size - 1, 0))
        present = index[position] == selected if index.size else np.zeros(selected.size, bool)
        spikes, states, counts = kernel.run(x if batched else x[None], keys, amplitude, position[present],
                                            record_state, count)
        if present.all():
            result = BatchResult(spikes, selected)
        else:
            result = BatchResult(np.zeros((self.n_chips, x.shape[-2], selected.size), bool), selected)
            result.spikes[:, :, present] = spikes
        if states is not None:
            result.v, result.isyn, result.refr = states
        if counts is not None:
            per_channel = np.broadcast_to(x.sum(axis=-2, dtype=np.int64), (self.n_chips, spec.inputs))
            result.activity = Activity.from_counts(self._fan_out, per_channel, *counts, index)
        return result
