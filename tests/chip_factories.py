"""Random valid vc1 chip configurations and input rasters for the chip tests.

Two layers:

* seeded generators (`random_config`, `random_inputs`, ...) that take a NumPy Generator and
  return valid objects, usable from plain parametrised tests;
* hypothesis strategies (`configs`, `input_rasters`, `chip_seeds`, `mismatch_levels`, ...)
  built on top of them, for property tests.

`CPU_PATHS` and `GPU_PATHS` list the simulator's kernel paths; `simulated` opens one as a
chip population.

The configurations cover the whole valid range of every code, and deliberately include
the extremes of CHIP_SPEC §2–4: isyn saturation (2**24-1), v clipping (±2**23), disabled
neurons, empty CAM slots, t_ref 0..255, input counts 0..15.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from drivers.population import SimulatedPopulation
from sim.chip.config import EMPTY, ChipConfig
from sim.chip.spec import MISMATCH_CLASSES, SPEC_VERSION, ChipSpec, load_spec

BUILTIN = ("dynapse1", "dense1k")
U64 = 2**64 - 1

# Every way BatchedChips (and so SimulatedPopulation) can run: (backend, kernel, propagation).
# The fused CPU kernel walks the fan-out table whatever `propagation` says, so it is listed once.
CPU_PATHS = (("numpy", "fused", "auto"), ("numpy", "vector", "events"), ("numpy", "vector", "dense"),
             ("numpy", "vector", "auto"))
GPU_PATHS = (("cupy", "fused", "events"), ("cupy", "fused", "dense"), ("cupy", "fused", "auto"))



def simulated(level: Any, path: tuple[str, str, str], threads: int | None = None) -> SimulatedPopulation:
    """The batched simulator at mismatch `level` on kernel `path` ((backend, kernel, propagation)),
    as a chip population."""
    backend, kernel, propagation = path
    return SimulatedPopulation(level, backend, kernel=kernel, propagation=propagation, threads=threads)


# Inclusive value ranges of each DAC-coded bias (CHIP_SPEC §2).
VALUE_RANGES = {
    "dmem": (1, 65535),
    "dsyn": (1, 65535),
    "theta": (1, 2**23 - 1),
    "wsyn": (0, 2**15 - 1),
    "idc": (0, 2**15 - 1),  # magnitude; the sign bit is separate
}


def make_spec(name: str = "tiny", *, cores: int = 2, neurons_per_core: int = 4, inputs: int = 3,
              fan_in: int = 4, mismatch_cv: dict[str, float] | None = None) -> ChipSpec:
    """A small (or big) synthetic vc1 spec, validated like a user spec file."""
    cv = mismatch_cv or {"dmem": 0.15, "theta": 0.10, "idc": 0.20, "dsyn": 0.15,
                         "wsyn_fast": 0.30, "wsyn_slow": 0.20}
    return ChipSpec.from_dict({"name": name, "spec_version": SPEC_VERSION, "cores": cores,
                               "neurons_per_core": neurons_per_core, "inputs": inputs, "fan_in": fan_in,
                               "dt_ms": 1.0, "mismatch_cv": dict(cv)}, origin=f"test spec {name}")


def spec_toml(name: str, *, cores: int, neurons_per_core: int, inputs: int, fan_in: int,
              mismatch_cv: dict[str, float] | None = None, spec_version: str = SPEC_VERSION) -> str:
    """The text of a user spec file with the same fields as sim/chip/specs/dynapse1.toml."""
    cv = mismatch_cv or {"dmem": 0.15, "theta": 0.10, "idc": 0.20, "dsyn": 0.15,
                         "wsyn_fast": 0.30, "wsyn_slow": 0.20}
    lines = [f'name = "{name}"', f'spec_version = "{spec_version}"', f"cores = {cores}",
             f"neurons_per_core = {neurons_per_core}", f"inputs = {inputs}", f"fan_in = {fan_in}",
             "dt_ms = 1.0", "", "[mismatch_cv]"] + [f"{k} = {v!r}" for k, v in cv.items()]
    return "\n".join([*lines, "", POWER_TOML]) + "\n"


# The [power] table of the shipped specs, for user spec files in tests.
POWER_TOML = """[power]
nominal_supply_v = 1.8
energy_per_spike_j = 883e-12
energy_per_synaptic_event_j = 324e-12
energy_per_routed_event_j = 6.84e-9
energy_per_input_event_j = 360e-12
static_power_per_core_w = 100e-6
leakage_voltage_v = 0.3"""


# ---- DAC codes ----------------------------------------------------------------------------
def code_for(value: int) -> tuple[int, int]:
    """An exact (fine, coarse) code for `value` when one exists (fine <= 255, coarse <= 15)."""
    coarse = 0
    while value > 255:
        if value & 1:
            raise ValueError(f"{value} has no exact DAC code")
        value >>= 1
        coarse += 1
    if coarse > 15:
        raise ValueError("coarse out of range")
    return value, coarse


def random_code(rng: np.random.Generator, lo: int, hi: int, extreme: float = 0.2) -> tuple[int, int]:
    """A (fine, coarse) code whose value fine·2**coarse lies in [lo, hi].

    With probability `extreme` the code is the largest or smallest value the DAC can make
    inside the range; otherwise a uniformly chosen coarse, then a uniform valid fine.
    """
    if rng.random() < extreme:
        candidates = [((hi >> c) if (hi >> c) <= 255 else 255, c) for c in range(16)] if rng.random() < 0.5 \
            else [((lo + (1 << c) - 1) >> c, c) for c in range(16)]
        valid = [(f, c) for f, c in candidates if f <= 255 and lo <= f << c <= hi]
        pick = max if candidates[0][0] == min(255, hi) else min
        return pick(valid, key=lambda fc: (fc[0] << fc[1], -fc[1]))
    coarses = [c for c in range(16) if (max(lo, 0) + (1 << c) - 1) >> c <= min(255, hi >> c)]
    coarse = int(rng.choice(coarses))
    fine_lo = max((lo + (1 << coarse) - 1) >> coarse, 0)
    fine_hi = min(255, hi >> coarse)
    return int(rng.integers(fine_lo, fine_hi + 1)), coarse


def random_bias(rng: np.random.Generator, name: str, regime: str) -> tuple[int, ...]:
    """A bias code for one core in a regime: 'active' (neurons tend to fire), 'extreme'
    (saturation / clipping / full-range values) or 'any' (anything valid)."""
    lo, hi = VALUE_RANGES[name]
    if regime == "any":
        code = random_code(rng, lo, hi, extreme=0.25)
    elif regime == "extreme":
        if name == "wsyn":
            code = (255, 7) if rng.random() < 0.7 else random_code(rng, lo, hi, 0.5)  # 32640: saturates isyn
        elif name == "dsyn":
            code = ((1, 0) if rng.random() < 0.5 else (255, 8))  # barely decays / decays almost fully
        elif name == "theta":
            code = (255, 15) if rng.random() < 0.5 else random_code(rng, 1, 2**12)
        elif name == "idc":
            code = (255, 7) if rng.random() < 0.6 else random_code(rng, lo, hi, 0.5)
        else:
            code = random_code(rng, lo, hi, extreme=0.6)
    else:  # active
        ranges = {"dmem": (256, 16384), "dsyn": (512, 16384), "theta": (64, 30000),
                  "wsyn": (16, 8000), "idc": (0, 2000)}
        code = random_code(rng, *ranges[name], extreme=0.1)
    if name == "idc":
        return code[0], code[1], int(rng.random() < 0.3)
    return code


def random_config(rng: np.random.Generator, spec: ChipSpec | str, *, fill: float | None = None,
                  p_input: float | None = None, p_disabled: float | None = None,
                  regimes: tuple[str, ...] = ("active", "active", "extreme", "any")) -> ChipConfig:
    """A random valid configuration of `spec`.

    fill: fraction of CAM slots holding a source (the rest are empty, with junk types);
    p_input: probability that a filled slot's source is an input channel;
    p_disabled: fraction of disabled neurons; regimes: drawn per core (see random_bias).
    """
    spec = load_spec(spec)
    n, m, c, f = spec.n_neurons, spec.inputs, spec.cores, spec.fan_in
    if fill is None:
        fill = float(rng.choice([0.0, 0.05, 0.3, 1.0])) if f <= 64 else float(rng.choice([0.0, 0.01, 0.05]))
    if p_input is None:
        p_input = float(rng.choice([0.2, 0.5, 0.9]))
    if p_disabled is None:
        p_disabled = float(rng.choice([0.0, 0.0, 0.1, 0.5]))
    config = ChipConfig.empty(spec)
    filled = rng.random((n, f)) < fill
    from_input = rng.random((n, f)) < p_input
    source = np.where(from_input, rng.integers(0, m, (n, f)), m + rng.integers(0, n, (n, f)))
    config.cam_source = np.where(filled, source, EMPTY).astype(np.int32)
    # empty slots carry junk types: the spec says an empty slot holds no source, whatever its type
    config.cam_type = np.where(filled, rng.integers(0, 4, (n, f)), rng.integers(-3, 8, (n, f))).astype(np.int8)
    for core in range(c):
        regime = str(rng.choice(regimes))
        config.dmem[core] = random_bias(rng, "dmem", regime)
        config.theta[core] = random_bias(rng, "theta", regime)
        config.idc[core] = random_bias(rng, "idc", regime)
        for k in range(4):
            config.dsyn[core, k] = random_bias(rng, "dsyn", regime)
            config.wsyn[core, k] = random_bias(rng, "wsyn", regime)
        roll = rng.random()
        config.t_ref[core] = 0 if roll < 0.25 else 255 if roll < 0.35 else int(rng.integers(0, 256)) \
            if roll < 0.6 else int(rng.integers(1, 6))
    config.enabled = rng.random(n) >= p_disabled
    config.meta = {"generator": "tests.chip_factories.random_config"}
    return config.validate()


def random_inputs(rng: np.random.Generator, steps: int, inputs: int, *, rate: float | None = None,
                  batch: int | None = None) -> np.ndarray:
    """Input counts 0..15: sparse events with random counts (15 included), occasionally dense."""
    if rate is None:
        rate = float(rng.choice([0.0, 0.02, 0.1, 0.5]))
    shape = (steps, inputs) if batch is None else (batch, steps, inputs)
    counts = rng.integers(1, 16, shape)
    counts[rng.random(shape) < 0.1] = 15
    return np.where(rng.random(shape) < rate, counts, 0).astype(np.uint8)


def random_level(rng: np.random.Generator) -> Any:
    """A mismatch level: 0, 'spec', a random cv (number or percentage string) or a per-class dict."""
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return 0
    if kind == 1:
        return "spec"
    if kind == 2:
        return float(rng.uniform(0.0, 0.6))
    if kind == 3:
        return f"{int(rng.integers(1, 40))}%"
    classes = rng.permutation(MISMATCH_CLASSES)[: int(rng.integers(1, len(MISMATCH_CLASSES) + 1))]
    return {str(k): float(rng.uniform(0, 0.5)) for k in classes}


def random_chip_seed(rng: np.random.Generator) -> int:
    """A chip seed over the full unsigned 64-bit range, with its extremes."""
    roll = rng.random()
    if roll < 0.1:
        return 0
    if roll < 0.2:
        return U64
    return int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))


def random_noise(rng: np.random.Generator) -> tuple[int, int]:
    """(amplitude, noise seed): 0, small and large amplitudes, full-range seeds."""
    amplitude = int(rng.choice([0, 1, 7, 300, 5000, 2**20, 2**31 - 1]))
    return amplitude, random_chip_seed(rng)


# ---- hypothesis strategies -----------------------------------------------------------------
generator_seeds = st.integers(0, 2**32 - 1)
chip_seeds = st.one_of(st.just(0), st.just(U64), st.integers(0, U64))
noise_seeds = chip_seeds
noise_amplitudes = st.one_of(st.just(0), st.integers(1, 16), st.integers(17, 5000),
                             st.sampled_from([2**20, 2**31 - 1]))
mismatch_levels = st.one_of(
    st.just(0), st.just(0.0), st.just("spec"), st.floats(0.0, 0.8),
    st.integers(1, 50).map(lambda p: f"{p}%"),
    st.dictionaries(st.sampled_from(MISMATCH_CLASSES), st.floats(0.0, 0.6), min_size=1),
)
small_specs = st.builds(
    lambda cores, npc, m, fan: make_spec("tiny", cores=cores, neurons_per_core=npc, inputs=m,
                                         fan_in=min(fan, m + cores * npc)),
    st.integers(1, 3), st.integers(1, 6), st.integers(1, 5), st.integers(1, 12))


@st.composite
def configs(draw: Any, spec: Any = None) -> ChipConfig:
    """A random valid ChipConfig of `spec` (a name, a ChipSpec, a strategy, or None = any builtin)."""
    if spec is None:
        spec = draw(st.sampled_from(BUILTIN))
    elif isinstance(spec, st.SearchStrategy):
        spec = draw(spec)
    return random_config(np.random.default_rng(draw(generator_seeds)), spec)


@st.composite
def input_rasters(draw: Any, spec: ChipSpec, steps: int, batch: int | None = None) -> np.ndarray:
    """Input counts 0..15 for `spec` ([T, M], or [B, T, M] with `batch`)."""
    rng = np.random.default_rng(draw(generator_seeds))
    return random_inputs(rng, steps, spec.inputs, rate=draw(st.sampled_from([0.0, 0.03, 0.15, 0.6])),
                         batch=batch)
