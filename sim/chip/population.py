"""The neurons a batch of chips simulates: per-chip integer parameters and the fan-out table.

Shared by every kernel (`kernel_numba`, `kernel_numpy`, `kernel_cupy`). Sources are
renumbered so that the population stays dense: input channel j keeps id j, simulated
neuron `index[i]` becomes source M + i and target i. Synapses from or onto neurons that
are not simulated (when no state is recorded: those that can never spike, see
`can_spike`) drop out: such a neuron sends nothing, and nobody reads its inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.chip.config import ChipConfig
from sim.chip.mismatch import NeuronParams


# What a kernel's run returns: spikes [B, T, K]; the state (v, isyn, refr) or None; and, when
# counting, each neuron's spikes [B, n] int64 and those of the last step [B, n] bool, or None.
KernelOutput = tuple[np.ndarray, "tuple[np.ndarray, ...] | None", "tuple[np.ndarray, np.ndarray] | None"]


@dataclass(frozen=True)
class Population:
    """Parameters [B, (4,) n] int32 of the simulated neurons and their synaptic tables."""

    index: np.ndarray     # chip neuron ids simulated, ascending [n]
    n_inputs: int         # M
    dmem: np.ndarray      # [B, n]
    theta: np.ndarray     # [B, n]
    idc: np.ndarray       # [B, n]
    t_ref: np.ndarray     # [B, n]
    dsyn: np.ndarray      # [B, 4, n]
    wsyn: np.ndarray      # [B, 4, n]
    enabled: np.ndarray   # [n] bool
    indptr: np.ndarray    # int64 [M + n + 1]: source j feeds targets[indptr[j]:indptr[j + 1]]
    targets: np.ndarray   # int32: type · n + target position, one entry per CAM slot

    @classmethod
    def build(cls, config: ChipConfig, params: NeuronParams, index: np.ndarray) -> "Population":
        """The neurons `index` of chips with parameters `params` (leading axis = chips)."""
        pick = lambda a: np.ascontiguousarray(a[..., index], dtype=np.int32)  # noqa: E731
        m, n = config.spec.inputs, index.size
        rank = np.full(config.spec.n_neurons, -1, np.int64)
        rank[index] = np.arange(n)
        source, target, kind = config.synapses()
        from_neuron = source >= m
        source_rank = rank[np.where(from_neuron, source - m, 0)]
        source = np.where(from_neuron, np.where(source_rank >= 0, m + source_rank, -1), source)
        keep = (source >= 0) & (rank[target] >= 0)
        source, target, kind = source[keep], rank[target[keep]], kind[keep]
        order = np.argsort(source * (4 * n) + kind * n + target, kind="stable")  # each fan-out in memory order
        indptr = np.zeros(m + n + 1, np.int64)
        np.cumsum(np.bincount(source, minlength=m + n), out=indptr[1:])
        return cls(index=index, n_inputs=m, dmem=pick(params.dmem), theta=pick(params.theta), idc=pick(params.idc),
                   t_ref=pick(params.t_ref), dsyn=pick(params.dsyn), wsyn=pick(params.wsyn),
                   enabled=np.ascontiguousarray(params.enabled[index]),
                   indptr=indptr, targets=(kind * n + target)[order].astype(np.int32))

    @property
    def n_sources(self) -> int:
        return self.n_inputs + self.index.size

    @property
    def fan_out(self) -> np.ndarray:
        """Number of CAM slots each source feeds [M + n]."""
        return np.diff(self.indptr)

    def dense(self) -> np.ndarray:
        """Connection counts [M + n, 4 n] float32: src @ dense gives every c[k, i] (exact below 2**24)."""
        matrix = np.zeros((self.n_sources, 4 * self.index.size), np.float32)
        np.add.at(matrix, (np.repeat(np.arange(self.n_sources), self.fan_out), self.targets), 1.0)
        return matrix


def can_spike(config: ChipConfig, params: NeuronParams, amplitude: int) -> np.ndarray:
    """[N] bool: the neurons that may spike on some chip of `params` at noise amplitude
    `amplitude`; every other neuron never spikes, whatever the inputs.

    A neuron can spike only if it is enabled and driven: its largest idc + amplitude is
    positive, or an excitatory CAM slot with a nonzero weight on some chip holds an input
    channel or a neuron that can spike (the least fixed point, grown from the first two).
    Otherwise its total current is never positive (inhibitory isyn only subtract), and from
    v = 0 the leak v − ((v · dmem) >> 16) keeps v <= 0 < theta (CHIP_SPEC §4)."""
    m, n = config.spec.inputs, config.spec.n_neurons
    source, target, kind = config.synapses()
    weighted = np.any(params.wsyn.reshape(-1, 4, n) > 0, axis=0)  # [4, N]: on some chip
    keep = (kind < 2) & weighted[kind, target]
    source, target = source[keep], target[keep]
    driven = params.idc.reshape(-1, n).max(axis=0).astype(np.int64) + amplitude > 0
    driven[target[source < m]] = True
    live = driven & params.enabled
    from_neuron = source >= m
    source, target = source[from_neuron] - m, target[from_neuron]
    for _ in range(n):  # each round adds a neuron or ends
        grown = live.copy()
        grown[target[live[source]]] = True
        grown &= params.enabled
        if np.array_equal(grown, live):
            break
        live = grown
    return live


def prefer_dense(events: int, n_chips: int, dense_size: int, event_cost: float) -> bool:
    """True when propagating `events` fan-out entries costs more than one dense product
    of `n_chips` source vectors with a [sources, 4 n] matrix of `dense_size` entries."""
    return events * event_cost > dense_size * n_chips
