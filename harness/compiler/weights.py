"""Float weights → integer connection counts in the CAM, with one wsyn per core and type.

Every float connection becomes a synapse with a desired current per source event J
(itot units): a weight w into network neuron n on core c gives
    recurrent:  J = κ_c·|w|·g_n·(1 − k_c)/(τ_n·(1 − e^(−1/τ_n)))   (same total charge as
                the float current w/τ_n decaying by e^(−1/τ_n), on the core's decay k_c)
    input:      J = κ_c·|w|·g_n·(1 − k_c)/scale_i                    (steady current c·w)
    bias:       J = |residual_n|·(1 − k_c)/rate                      (bias channel at `rate`)
Sign picks the type: w > 0 → AMPA (fast) / NMDA (slow), w < 0 → GABA_A / GABA_B; inputs
travel on the fast types (negative input channels swap the two).

A synapse realises n·wsyn[c, type] with an integer multiplicity n (CAM slots). Counts
minimise Σ ρ·((n·wsyn − J)/(1 − k))² — the squared error of delivered charge weighted by the
source's event rate ρ — subject to fan_in slots per neuron and an optional cap: the greedy
solution is n = clip(ceil(q − ½ − λ/(2s)), 0, cap) with q = J/wsyn, s = ρ·(wsyn/(1 − k))² and
the smallest per-neuron λ ≥ 0 that fits; small, rarely used weights are pruned first. Only
each neuron's fan_in strongest synapses per type (by ρ·J²/(1 − k)²) are candidates. wsyn
per core and type is chosen by coordinate descent over a geometric grid below the largest J.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.compiler.biases import CoreBiases, code
from harness.compiler.encoding import NONE, Encoder
from harness.compiler.neurons import Normalised
from sim.chip.config import EMPTY, ChipConfig
from sim.chip.spec import WSYN_RANGE, ChipSpec
from sim.network import SpikingNetwork

MATRICES = ("w_in", "bias", "w_fast", "w_slow")
LEVELS = 2.0 ** (np.arange(17) / 2)  # candidate wsyn = largest J / level
SWEEPS = 2
BISECTIONS = 48
REFERENCE_PERCENTILE = 90
MIN_RATE_FACTOR = 1 / 16  # lowest fraction of its counts an input or the bias channel is cut to


@dataclass
class Synapses:
    """One row per candidate CAM connection (source → chip neuron, type)."""

    source: np.ndarray      # CAM source id
    target: np.ndarray      # chip neuron id
    kind: np.ndarray        # synapse type 0..3
    want: np.ndarray        # desired current per source event J (> 0)
    decay: np.ndarray       # the type's decay factor k on the target's core
    rate: np.ndarray        # source events per step ρ
    matrix: np.ndarray      # index into MATRICES
    weight: np.ndarray      # the float weight (or residual drive) it stands for
    count: np.ndarray | None = None  # allocated multiplicity

    def realised_weight(self, wsyn: np.ndarray, core: np.ndarray) -> np.ndarray:
        """Float-equivalent weight of each synapse after quantisation."""
        return self.weight * self.count * wsyn[core, self.kind] / self.want

    def take(self, keep: np.ndarray) -> "Synapses":
        return Synapses(**{k: v[keep] for k, v in vars(self).items() if v is not None})

    @staticmethod
    def concat(parts: list["Synapses"]) -> "Synapses":
        return Synapses(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in vars(parts[0])
                           if getattr(parts[0], k) is not None})


def synapse_rows(source: np.ndarray | int, target: np.ndarray, kind: np.ndarray, want: np.ndarray,
                 decay: np.ndarray, rate: np.ndarray | float, matrix: str, weight: np.ndarray) -> Synapses:
    """Rows for synapses onto `target` (one per entry); scalars broadcast."""
    n = target.size
    full = lambda a, dtype: np.broadcast_to(np.asarray(a, dtype), (n,)).copy()  # noqa: E731
    return Synapses(full(source, np.int64), full(target, np.int64), full(kind, np.int64), full(want, float),
                    full(decay, float), full(rate, float), full(MATRICES.index(matrix), np.int64),
                    full(weight, float))


def build_synapses(net: SpikingNetwork, norm: Normalised, chip_id: np.ndarray, biases: CoreBiases,
                   encoder: Encoder, spec: ChipSpec, neuron_rate: np.ndarray, channel_rate: np.ndarray) -> Synapses:
    """All candidate synapses of `net` placed at `chip_id`; rates are events per step.

    Inputs and the bias share the fast types' wsyn with fast recurrent weights, so a channel's
    counts are lowered (`encoder.scale`, `encoder.bias_rate`) until its J (largest for an
    input, median for the bias) reaches the REFERENCE_PERCENTILE of the fast recurrent J:
    small J would round to zero slots next to strong recurrent weights."""
    core = spec.core_of(chip_id)
    k_fast, k_slow = biases.decay[core, 0], biases.decay[core, 1]  # per network neuron
    scale = biases.kappa[core] * norm.gain  # itot units per float current unit, per post neuron
    parts = []
    recurrent = (("w_fast", norm.tau_fast, k_fast, (0, 2)), ("w_slow", norm.tau_slow, k_slow, (1, 3)))
    for matrix, tau, decay, kinds in recurrent:
        weights = getattr(net, matrix)
        pre, post = np.nonzero(weights)
        w = weights[pre, post]
        charge = 1.0 / (tau[post] * -np.expm1(-1.0 / tau[post]))  # float charge per unit weight
        want = scale[post] * np.abs(w) * (1 - decay[post]) * charge
        parts.append(synapse_rows(spec.inputs + chip_id[pre], chip_id[post], np.where(w > 0, *kinds), want,
                                  decay[post], neuron_rate[pre], matrix, w))
    fast_ref = np.percentile(parts[0].want, REFERENCE_PERCENTILE) if parts[0].want.size else np.inf

    pre, post = np.nonzero(net.w_in)
    w = net.w_in[pre, post]
    per_unit = scale[post] * np.abs(w) * (1 - k_fast[post])  # J per count at one count per unit input
    peak = np.zeros(net.n_in)
    np.maximum.at(peak, pre, per_unit / encoder.scale[pre])
    lower = lowered(peak, fast_ref)
    encoder.scale = encoder.scale * np.where(peak > 0, lower, 1.0)
    want, factor = per_unit / encoder.scale[pre], lower[pre]
    kind = np.where(w > 0, 0, 2)  # type on the positive channel; the negative channel takes the other
    parts.append(synapse_rows(encoder.positive[pre], chip_id[post], kind, want, k_fast[post],
                              channel_rate[encoder.positive[pre]] * factor, "w_in", w))
    signed = encoder.negative[pre] != NONE
    parts.append(synapse_rows(encoder.negative[pre][signed], chip_id[post][signed], 2 - kind[signed],
                              want[signed], k_fast[post][signed],
                              channel_rate[encoder.negative[pre][signed]] * factor[signed], "w_in", w[signed]))
    if encoder.bias_channel != NONE:
        parts.append(bias_rows(biases.residual, chip_id, encoder, k_fast, fast_ref))
    return Synapses.concat(parts)


def lowered(largest: np.ndarray | float, reference: float) -> np.ndarray:
    """Fraction of counts to keep so that J per count `largest` grows toward `reference`."""
    if not np.isfinite(reference):
        return np.ones_like(np.asarray(largest, float))
    return np.clip(np.asarray(largest, float) / reference, MIN_RATE_FACTOR, 1.0)


def bias_rows(residual: np.ndarray, chip_id: np.ndarray, encoder: Encoder, decay: np.ndarray,
              reference: float) -> Synapses:
    """Fast synapses from the bias channel carrying each neuron's residual drive; sets
    `encoder.bias_rate`: one count every step (a steady drive) unless the median residual
    is small next to the fast recurrent weights, then sparser counts (the membrane smooths them)."""
    post = np.flatnonzero(residual)
    charge = np.abs(residual[post]) * (1 - decay[post])  # J at one count per step
    encoder.bias_rate = float(lowered(np.median(charge) if post.size else 0.0, reference))
    return synapse_rows(encoder.bias_channel, chip_id[post], np.where(residual[post] > 0, 0, 2),
                        charge / encoder.bias_rate, decay[post], encoder.bias_rate, "bias", residual[post])


def allocate(syn: Synapses, wsyn: np.ndarray, core: np.ndarray, n_neurons: int, budget: int,
             cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per synapse and weighted squared error per synapse for per-(core, type) `wsyn`."""
    w = wsyn[core, syn.kind]
    usable = w > 0
    q = np.where(usable, syn.want / np.where(usable, w, 1.0), 0.0)
    s = syn.rate * (w / (1.0 - syn.decay)) ** 2

    def counts(lam: np.ndarray) -> np.ndarray:
        shrink = np.divide(lam[syn.target], 2 * s, out=np.full_like(q, np.inf), where=s > 0)
        return np.where(usable, np.clip(np.ceil(q - 0.5 - shrink), 0, cap), 0)

    lam = np.zeros(n_neurons)
    over = np.bincount(syn.target, counts(lam), n_neurons) > budget
    if over.any():  # geometric bisection of λ for the neurons whose rounded counts overflow
        hi = np.zeros(n_neurons)
        np.maximum.at(hi, syn.target, 2 * s * q)
        hi = np.maximum(hi, 1e-300)
        lo = hi * 1e-15
        for _ in range(BISECTIONS):
            mid = np.sqrt(lo * hi)
            fits = np.bincount(syn.target, counts(np.where(over, mid, 0)), n_neurons) <= budget
            hi, lo = np.where(fits, mid, hi), np.where(fits, lo, mid)
        lam = np.where(over, hi, 0.0)
    n = counts(lam)
    error = syn.rate * ((n * w - syn.want) / (1.0 - syn.decay)) ** 2
    return n.astype(np.int64), error


def candidates(syn: Synapses, budget: int) -> np.ndarray:
    """Mask of each neuron's `budget` strongest synapses per type."""
    strength = syn.rate * (syn.want / (1.0 - syn.decay)) ** 2
    order = np.lexsort((-strength, syn.kind, syn.target))
    group = syn.target[order] * 4 + syn.kind[order]
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    rank = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    keep = np.zeros(order.size, bool)
    keep[order[rank < budget]] = True
    return keep


def quantise(syn: Synapses, config: ChipConfig, cap: int | None) -> tuple[Synapses, np.ndarray]:
    """Choose wsyn codes (written into `config`) and counts; returns (synapses with counts, wsyn values)."""
    spec = config.spec
    budget, cap = spec.fan_in, spec.fan_in if cap is None else cap
    keep = candidates(syn, budget)
    pool = syn.take(keep)
    core = spec.core_of(pool.target)
    largest = np.zeros((spec.cores, 4))
    np.maximum.at(largest, (core, pool.kind), pool.want)
    grid = np.zeros((spec.cores, 4, LEVELS.size))  # realised wsyn per (core, type, level)
    codes = np.zeros((spec.cores, 4, LEVELS.size, 2), np.int64)
    for c, k in zip(*np.nonzero(largest)):
        for j, level in enumerate(LEVELS):
            codes[c, k, j], grid[c, k, j] = code(largest[c, k] / level, max(WSYN_RANGE[0], 1), WSYN_RANGE[1])
    choice = np.zeros((spec.cores, 4), np.int64)
    choice[largest > 0] = min(4, LEVELS.size - 1)
    pick = lambda ch: np.take_along_axis(grid, ch[..., None], 2)[..., 0]  # noqa: E731

    def core_error(ch: np.ndarray) -> np.ndarray:
        error = allocate(pool, pick(ch), core, spec.n_neurons, budget, cap)[1]
        return np.bincount(core, error, spec.cores)

    best = core_error(choice)
    for _ in range(SWEEPS):
        for k in np.flatnonzero(largest.any(0)):
            for j in range(LEVELS.size):
                trial = choice.copy()
                trial[largest[:, k] > 0, k] = j
                error = core_error(trial)
                better = error < best
                choice[better], best[better] = trial[better], error[better]
    wsyn = pick(choice)
    config.wsyn[:] = np.take_along_axis(codes, choice[..., None, None], 2)[:, :, 0]
    counts = np.zeros(syn.source.size, np.int64)
    counts[keep] = allocate(pool, wsyn, core, spec.n_neurons, budget, cap)[0]
    syn.count = counts
    write_cam(config, syn)
    return syn, wsyn


def write_cam(config: ChipConfig, syn: Synapses) -> None:
    """Fill each neuron's CAM slots with its synapses, `count` slots each."""
    used = np.flatnonzero(syn.count)
    row = np.repeat(used, syn.count[used])
    order = np.argsort(syn.target[row], kind="stable")
    row = row[order]
    target = syn.target[row]
    first = np.searchsorted(target, target, side="left")
    slot = np.arange(row.size) - first
    config.cam_source[:] = EMPTY
    config.cam_type[:] = 0
    config.cam_source[target, slot] = syn.source[row]
    config.cam_type[target, slot] = syn.kind[row]
