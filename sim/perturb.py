"""The paper's perturbation protocol on float networks, vectorised over draws.

A `Perturbation` is applied to a `sim.lif.LIFParams` holding D copies of one network
(one per draw), in place, then `sim.lif.simulate` runs every draw on the test set:

- **quantisation** to `bits` bits, first (the chip stores programmed weights): per
  matrix (`w_in`, `w_fast`, `w_slow` separately), uniform and symmetric,
  `q = round(w / Δ) · Δ` with `Δ = max|w| / (2^(bits−1) − 1)`, so at most `2^bits − 1`
  levels including 0. Deterministic.
- **mismatch** σ: every element of `tau_mem`, `tau_slow`, `v_th`, `w_in`, `w_fast` and
  `w_slow` is multiplied by `max(1 + σ·z, 0.05)`, z ~ N(0, 1) independently per element
  and per draw (Gaussian multiplicative; the floor keeps time constants and thresholds
  positive and stops a weight from changing sign, which a chip's synapse type fixes; it
  binds only for z < −0.95/σ, i.e. with probability < 1e-3 at σ ≤ 30 %). Not perturbed:
  `tau_fast`, `v_rest`, `bias` (the paper's list) and the readout `w_out`, which runs
  on the host, not on the chip.
- **membrane noise**: Gaussian current noise of standard deviation `noise_std` (same
  units as `bias` and `v_th`, one independent sample per neuron per 1 ms step), added
  to the input current by `sim.lif.simulate`.
- **neuron death**: exactly `round(death · N)` neurons, chosen per draw, are silenced
  (`alive = 0`).
- **chip mismatch** (`ChipMismatch`): the float network as a vc1 chip with device
  mismatch (CHIP_SPEC §3) realises it, at the spec's cv per parameter class or one level
  for every class: per-neuron gains per synapse type, leak, threshold and drive; see
  `ChipDraw`. Applied after quantisation.

Random numbers come from a host NumPy generator, so NumPy and CuPy see the same draws.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from sim.backend import Backend, get_backend
from sim.chip.mismatch import CLASS_OF, DRAW_ORDER, MismatchLevel, lognormal_multiplier, mismatch_z, resolve_cv
from sim.chip.spec import DEFAULT_SPEC, DSYN_RANGE, ChipSpec, load_spec
from sim.lif import LIFParams, lif_params, simulate
from sim.network import SpikingNetwork
from sim.tasks.base import Dataset, Task

MISMATCH_FLOOR = 0.05
MISMATCH_FIELDS = ("tau_mem", "tau_slow", "v_th", "w_in", "w_fast", "w_slow")
QUANTISED_FIELDS = ("w_in", "w_fast", "w_slow")
TRIAL_BYTES = 256 * 2**20  # budget for one simulate call's input drive [D, S, T, N]
MAX_DECAY = DSYN_RANGE[1] / 65536  # largest fraction of a current a chip synapse loses per step
EXC_INH = {"fast": (0, 2), "slow": (1, 3)}  # chip synapse types (AMPA, GABA_A), (NMDA, GABA_B)


@dataclass(frozen=True)
class ChipMismatch:
    """Mismatch of a vc1 chip spec at `level`: "spec" (the spec's cv per class), a fraction
    (every class) or {class: cv} (other classes 0), as `sim.chip.mismatch.resolve_cv` reads it."""

    level: MismatchLevel = "spec"
    spec: str | ChipSpec = DEFAULT_SPEC
    per_type_tau: bool = False  # each synapse type's own τ (`apply_chip_mismatch`), not one per class

    @property
    def cv(self) -> dict[str, float]:
        """Coefficient of variation per mismatch class (sim.chip.mismatch.resolve_cv)."""
        return resolve_cv(self.level, load_spec(self.spec))

    @property
    def label(self) -> str:
        if isinstance(self.level, dict):
            return "chip " + ", ".join(f"{name} {cv * 100:g}%" for name, cv in self.level.items())
        return f"chip {self.level if isinstance(self.level, str) else f'{float(self.level) * 100:g}%'}"


@dataclass
class ChipDraw:
    """Per-neuron multipliers of D sampled chips, on the backend: [D, 1, N], types [4, D, 1, N].

    The float network as a vc1 chip realises it (harness.compiler): a neuron's incoming
    weights of one synapse type share that neuron's gain for the type. Recurrent weights
    w > 0 are AMPA (fast) / NMDA (slow), w < 0 GABA_A / GABA_B; an input's positive part
    uses the type of its weight's sign and its negative part the other (signed channels).
    A type's charge per event scales as wsyn/dsyn; its decay per step 1 − e^{−1/τ} as dsyn
    (the float τ of a class takes the geometric mean of its two types, the charge stays
    per type; `typed_synapse` gives each type its own τ instead). The chip's leak is dmem:
    τ_mem/m_dmem, and the currents it integrates are
    not scaled, so every input current and the drive (v_rest − v_reset + bias, carried by
    idc) are divided by m_dmem; the drive is multiplied by m_idc; the threshold span
    v_th − v_reset by m_theta. Not modelled: rounding and clipping of chip integers
    (except the largest dsyn), and the compiler's split of the drive between idc and a
    bias channel (all of it is taken as idc). With every multiplier 1 (cv 0) each
    quantity is returned unchanged, bit for bit.
    """

    dmem: Any
    theta: Any
    idc: Any
    dsyn: Any
    wsyn: Any

    @classmethod
    def sample(cls, mismatch: ChipMismatch, n_neurons: int, draws: int, rng: np.random.Generator,
               xp: Any = np, dtype: Any = np.float32) -> "ChipDraw":
        """D fresh chips' multipliers: lognormal with the class's cv (CHIP_SPEC §3), per neuron."""
        return cls._from_z({name: rng.standard_normal((draws, 1, n_neurons)) for name in DRAW_ORDER},
                           mismatch.cv, xp, dtype)

    @classmethod
    def of_chips(cls, mismatch: ChipMismatch, chip_seeds: Sequence[int], neurons: np.ndarray,
                 xp: Any = np, dtype: Any = np.float32) -> "ChipDraw":
        """The multipliers that chips `chip_seeds` draw for chip neurons `neurons` (the network's
        neurons in order): the chips' own random numbers (`sim.chip.mismatch.mismatch_z`), so
        draw d predicts chip chip_seeds[d] (up to the chip's integer rounding)."""
        n_chip = load_spec(mismatch.spec).n_neurons
        z = [mismatch_z(seed, n_chip) for seed in chip_seeds]
        return cls._from_z({name: np.stack([chip[name][neurons] for chip in z])[:, None, :] for name in DRAW_ORDER},
                           mismatch.cv, xp, dtype)

    @classmethod
    def _from_z(cls, z: dict[str, np.ndarray], cv: dict[str, float], xp: Any, dtype: Any) -> "ChipDraw":
        m = {name: xp.asarray(lognormal_multiplier(z[name], cv[CLASS_OF[name]]), dtype=dtype) for name in DRAW_ORDER}
        return cls(dmem=m["dmem"], theta=m["theta"], idc=m["idc"],
                   dsyn=xp.stack([m[f"dsyn{k}"] for k in range(4)]), wsyn=xp.stack([m[f"wsyn{k}"] for k in range(4)]))

    def single(self, index: int = 0) -> "ChipDraw":
        """Chip `index` alone, its multipliers as vectors [N] (types [4, N])."""
        return ChipDraw(dmem=self.dmem[index, 0], theta=self.theta[index, 0], idc=self.idc[index, 0],
                        dsyn=self.dsyn[:, index, 0], wsyn=self.wsyn[:, index, 0])

    def _dsyn(self, kind: int, tau: Any, xp: Any) -> Any:
        """dsyn multiplier of type `kind`, limited by the largest decay a chip realises."""
        return xp.minimum(self.dsyn[kind], MAX_DECAY / -xp.expm1(-1.0 / tau))

    def _charge(self, kind: int, tau: Any, xp: Any) -> Any:
        """Charge per event of type `kind` relative to nominal, in the membrane's units."""
        return self.wsyn[kind] / self._dsyn(kind, tau, xp) / self.dmem

    def tau_mem(self, tau: Any) -> Any:
        return tau / self.dmem

    def threshold(self, v_th: Any, v_reset: float) -> Any:
        return v_th + (v_th - v_reset) * (self.theta - 1)

    @property
    def drive_scale(self) -> Any:
        """Factor on the drive v_rest − v_reset + bias: m_idc / m_dmem."""
        return self.idc / self.dmem

    def rest_and_bias(self, v_rest: Any, bias: Any, v_reset: float) -> tuple[Any, Any]:
        """v_rest and bias with the drive scaled by `drive_scale`."""
        return v_rest + (v_rest - v_reset) * (self.drive_scale - 1), bias * self.drive_scale

    def synapse(self, w: Any, tau: Any, kind: str, xp: Any) -> tuple[Any, Any]:
        """(τ, w) of a recurrent class ("fast" or "slow") whose weights w [D, N, N] feed
        neurons with time constants tau [D, 1, N]."""
        return self.synapse_tau(tau, kind, xp), w * self.synapse_gain(w, tau, kind, xp)

    def synapse_tau(self, tau: Any, kind: str, xp: Any) -> Any:
        exc, inh = EXC_INH[kind]
        return _scaled_decay_tau(tau, xp.sqrt(self._dsyn(exc, tau, xp) * self._dsyn(inh, tau, xp)), xp)

    def charge_gain(self, w: Any, tau: Any, kind: str, xp: Any) -> Any:
        """Factor on weights w of class `kind` ("fast" or "slow") into neurons with synaptic
        time constants tau: the chip's charge per event of the type that w's sign selects."""
        exc, inh = EXC_INH[kind]
        return xp.where(w > 0, self._charge(exc, tau, xp), self._charge(inh, tau, xp))

    def synapse_gain(self, w: Any, tau: Any, kind: str, xp: Any) -> Any:
        """`charge_gain`, corrected for the float increment w/τ under `synapse_tau`'s τ."""
        return self.charge_gain(w, tau, kind, xp) * _increment(self.synapse_tau(tau, kind, xp), tau, xp)

    def typed_synapse(self, w: Any, tau: Any, kind: str, xp: Any) -> tuple[Any, Any, Any]:
        """(τ of w > 0, τ of w < 0, w) of a recurrent class as the chip realises its two
        synapse types, each with its own τ (its dsyn) and charge per event."""
        taus, gains = [], []
        for k in EXC_INH[kind]:
            taus.append(_scaled_decay_tau(tau, self._dsyn(k, tau, xp), xp))
            gains.append(self._charge(k, tau, xp) * _increment(taus[-1], tau, xp))
        return taus[0], taus[1], w * xp.where(w > 0, gains[0], gains[1])

    def input_gains(self, w_in: Any, tau_fast: Any, xp: Any) -> tuple[Any, Any]:
        """Factors on w_in [D, n_in, N] for the inputs' positive and negative parts."""
        exc, inh = (self._charge(k, tau_fast, xp) for k in EXC_INH["fast"])
        return xp.where(w_in > 0, exc, inh), xp.where(w_in > 0, inh, exc)


def _scaled_decay_tau(tau: Any, m: Any, xp: Any) -> Any:
    """The τ whose decay per step 1 − e^{−1/τ} is m times that of `tau` (up to MAX_DECAY)."""
    return xp.where(m == 1, tau, -1.0 / xp.log1p(xp.maximum(xp.expm1(-1.0 / tau) * m, -MAX_DECAY)))


def _increment(new_tau: Any, tau: Any, xp: Any) -> Any:
    """Factor on w that keeps the charge of the float increment w/τ when τ becomes new_tau."""
    return new_tau * -xp.expm1(-1.0 / new_tau) / (tau * -xp.expm1(-1.0 / tau))


def apply_chip_mismatch(params: LIFParams, draw: ChipDraw, xp: Any, per_type_tau: bool = False) -> None:
    """Realise every draw of `params` as its chip of `draw` (in place); see `ChipDraw`. With
    `per_type_tau` the inhibitory currents decay with their own τ (`params.tau_*_inh`,
    `ChipDraw.typed_synapse`), as the chip's four synapse types do."""
    pos, neg = draw.input_gains(params.w_in, params.tau_fast, xp)
    separate = params.w_in_neg is not None  # the negative parts have their own weights
    w_neg = params.w_in_neg if separate else params.w_in
    params.w_in, params.w_in_neg = params.w_in * pos, w_neg * neg
    if not separate and bool(xp.all(pos == neg)):
        params.w_in_neg = None
    if per_type_tau:
        params.tau_fast, params.tau_fast_inh, params.w_fast = draw.typed_synapse(params.w_fast, params.tau_fast,
                                                                                 "fast", xp)
        params.tau_slow, params.tau_slow_inh, params.w_slow = draw.typed_synapse(params.w_slow, params.tau_slow,
                                                                                 "slow", xp)
    else:
        params.tau_fast, params.w_fast = draw.synapse(params.w_fast, params.tau_fast, "fast", xp)
        params.tau_slow, params.w_slow = draw.synapse(params.w_slow, params.tau_slow, "slow", xp)
    params.v_rest, params.bias = draw.rest_and_bias(params.v_rest, params.bias, params.v_reset)
    params.v_th = draw.threshold(params.v_th, params.v_reset)
    params.tau_mem = draw.tau_mem(params.tau_mem)


@dataclass(frozen=True)
class Perturbation:
    """One column of the robustness table; the defaults perturb nothing."""

    mismatch: float = 0.0
    bits: int | None = None
    noise_std: float = 0.0
    death: float = 0.0
    chip: ChipMismatch | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.mismatch < 1.0:
            raise ValueError(f"mismatch must be a fraction in [0, 1), got {self.mismatch}")
        if self.bits is not None and not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be between 2 and 16, got {self.bits}")
        if self.noise_std < 0.0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")
        if not 0.0 <= self.death < 1.0:
            raise ValueError(f"death must be a fraction in [0, 1), got {self.death}")

    @property
    def stochastic(self) -> bool:
        """False when every draw is identical (only quantisation, or nothing)."""
        chip = self.chip is not None and any(v > 0 for v in self.chip.cv.values())
        return self.mismatch > 0 or self.noise_std > 0 or self.death > 0 or chip

    @property
    def label(self) -> str:
        parts = []
        if self.bits is not None:
            parts.append(f"{self.bits} bit")
        if self.chip is not None:
            parts.append(self.chip.label)
        if self.mismatch > 0 or not (parts or self.stochastic):
            parts.append(f"mismatch {self.mismatch * 100:g}%")
        if self.noise_std > 0:
            parts.append(f"noise {self.noise_std:g}")
        if self.death > 0:
            parts.append(f"death {self.death * 100:g}%")
        return ", ".join(parts)


DEFAULT_COLUMNS: tuple[Perturbation, ...] = (
    *(Perturbation(mismatch=m) for m in (0.0, 0.05, 0.1, 0.2, 0.3)),
    *(Perturbation(bits=b) for b in (2, 3, 4, 5, 6)),
    *(Perturbation(noise_std=s) for s in (0.1, 0.3, 1.0)),
    Perturbation(death=0.4),
)


def quantise(w: Any, bits: int, xp: Any) -> Any:
    """Uniform symmetric quantisation of each matrix in the stack `w` [D, a, b]."""
    steps = 2 ** (bits - 1) - 1
    scale = xp.max(xp.abs(w), axis=(-2, -1), keepdims=True) / steps
    scale = xp.where(scale > 0, scale, 1.0)
    return xp.round(w / scale) * scale


def apply_perturbation(params: LIFParams, p: Perturbation, rng: np.random.Generator,
                       backend: Backend | str = "numpy") -> None:
    """Perturb every draw of `params` in place (quantise, then chip mismatch, then mismatch,
    then death)."""
    xp = get_backend(backend).xp
    if p.bits is not None:
        for name in QUANTISED_FIELDS:
            setattr(params, name, quantise(getattr(params, name), p.bits, xp))
    if p.chip is not None:
        draw = ChipDraw.sample(p.chip, params.w_slow.shape[-1], params.draws, rng, xp, params.w_slow.dtype)
        apply_chip_mismatch(params, draw, xp, p.chip.per_type_tau)
    if p.mismatch > 0:
        for name in MISMATCH_FIELDS:
            a = getattr(params, name)
            factor = np.maximum(1.0 + p.mismatch * rng.standard_normal(a.shape), MISMATCH_FLOOR)
            setattr(params, name, a * xp.asarray(factor, dtype=a.dtype))
    if p.death > 0:
        d, _, n = params.alive.shape
        alive = np.ones((d, 1, n))
        n_dead = int(round(p.death * n))
        for k in range(d):
            alive[k, 0, rng.permutation(n)[:n_dead]] = 0.0
        params.alive = xp.asarray(alive, dtype=params.alive.dtype)


def _chunk_sizes(net: SpikingNetwork, n_steps: int, n_samples: int, draws: int) -> tuple[int, int]:
    """Draws and samples per simulate call, keeping the input drive within TRIAL_BYTES."""
    trials = max(1, TRIAL_BYTES // (4 * n_steps * net.n_neurons))
    samples = min(n_samples, trials)
    return max(1, min(draws, trials // samples)), samples


def evaluate(net: SpikingNetwork, task: Task, p: Perturbation = Perturbation(), *, draws: int = 1,
             seed: int = 0, backend: Backend | str = "numpy", data: Dataset | None = None,
             w_in_neg: np.ndarray | None = None) -> np.ndarray:
    """Accuracy of each of `draws` perturbed copies of `net` on `data` (default: the test split).
    `w_in_neg` [n_in, N]: weights of the inputs' negative parts where they differ from
    `net.w_in` (a compiled network's float model, `harness.compiler.float_model`).

    Draws of a deterministic perturbation are identical, so it is simulated once and
    repeated. Returns a NumPy vector [draws].
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if net.n_in != task.n_in or net.n_out != task.n_out:
        raise ValueError(f"network has {net.n_in} inputs and {net.n_out} outputs, task {task.name!r} "
                         f"needs {task.n_in} and {task.n_out}")
    be = get_backend(backend)
    data = task.test if data is None else data
    todo = draws if p.stochastic else 1
    per_call, per_sample = _chunk_sizes(net, data.inputs.shape[1], len(data), todo)
    seeds = np.random.SeedSequence(seed).spawn(todo)
    accuracies = []
    for first in range(0, todo, per_call):
        d = min(per_call, todo - first)
        params = lif_params(net, be, draws=d)
        if w_in_neg is not None:
            params.w_in_neg = be.xp.asarray(np.repeat(np.asarray(w_in_neg, params.w_in.dtype)[None], d, axis=0))
        apply_perturbation(params, p, np.random.default_rng(seeds[first]), be)
        outputs = [be.to_numpy(simulate(params, data.inputs[s:s + per_sample], be, noise_std=p.noise_std,
                                        seed=int(seeds[first].generate_state(1)[0]) + s).outputs)
                   for s in range(0, len(data), per_sample)]
        accuracies.append(np.atleast_1d(task.accuracy(np.concatenate(outputs, axis=1), data)))
    acc = np.concatenate(accuracies)
    return acc if p.stochastic else np.repeat(acc, draws)


def nominal_accuracy(net: SpikingNetwork, task: Task, backend: Backend | str = "numpy") -> float:
    """Unperturbed accuracy of `net` on the task's test split."""
    return float(evaluate(net, task, backend=backend)[0])


def summarise(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Median and quartiles of accuracies."""
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "n": int(np.size(values))}


def robustness_table(nets: Sequence[SpikingNetwork], task: Task, *,
                     columns: Sequence[Perturbation] = DEFAULT_COLUMNS, draws: int = 20, seed: int = 0,
                     backend: Backend | str = "numpy",
                     progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Accuracies of every network under every perturbation, grouped by `meta["method"]`.

    Returns {"columns": labels, "draws": D, "methods": {method: {label: summary}},
    "networks": [{"method", "seed", "accuracies": {label: [D values]}}]}; summaries pool
    networks × draws of one method.
    """
    labels = [p.label for p in columns]
    records = []
    for i, net in enumerate(nets):
        acc = {}
        for j, p in enumerate(columns):
            acc[p.label] = evaluate(net, task, p, draws=draws, seed=seed + 1000 * j, backend=backend).tolist()
            if progress is not None:
                progress({"network": i, "column": p.label, "median": float(np.median(acc[p.label]))})
        records.append({"method": str(net.meta.get("method", "unknown")), "seed": net.meta.get("seed"),
                        "accuracies": acc})
    methods: dict[str, dict[str, dict[str, float]]] = {}
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method]
        methods[method] = {label: summarise(np.concatenate([r["accuracies"][label] for r in mine]))
                           for label in labels}
    return {"columns": labels, "draws": draws, "task": task.name, "n_test": len(task.test),
            "methods": methods, "networks": records}


def format_table(table: dict[str, Any]) -> str:
    """Plain-text table: one row per method, `median [q25–q75]` in % per column."""
    labels = table["columns"]
    width = max(8, *(len(m) for m in table["methods"]))
    cells = {m: [f"{s[lab]['median'] * 100:.0f} [{s[lab]['q25'] * 100:.0f}-{s[lab]['q75'] * 100:.0f}]"
                 for lab in labels] for m, s in table["methods"].items()}
    col_w = [max(len(lab), *(len(c[k]) for c in cells.values())) for k, lab in enumerate(labels)]
    lines = ["method".ljust(width) + "  " + "  ".join(lab.rjust(w) for lab, w in zip(labels, col_w))]
    for method, row in cells.items():
        lines.append(method.ljust(width) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, col_w)))
    return "\n".join(lines)
