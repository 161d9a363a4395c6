"""A fully populated dynapse1 workload with ~8 Hz activity, shared by the chip benchmarks; and
the same with only some neurons used (as a compiled network uses them)."""
from __future__ import annotations

import numpy as np

from sim.chip.config import EMPTY, ChipConfig
from sim.chip.spec import load_spec


def random_config(spec_name: str = "dynapse1", seed: int = 0) -> ChipConfig:
    """Every CAM slot filled with a random source; 80 % excitatory, 20 % inhibitory."""
    spec = load_spec(spec_name)
    rng = np.random.default_rng(seed)
    config = ChipConfig.empty(spec)
    config.cam_source[:] = rng.integers(0, spec.n_sources, config.cam_source.shape)
    config.cam_type[:] = rng.choice(4, config.cam_type.shape, p=[0.5, 0.3, 0.1, 0.1])
    config.dmem[:] = [164, 4]      # tau_mem ~ 25 ms
    config.theta[:] = [128, 10]    # 131072
    config.idc[:] = [255, 4, 0]    # 4080 per step: rests at ~78 % of threshold, fires at ~8 Hz
    config.dsyn[:] = [[164, 6], [102, 4], [164, 6], [102, 4]]   # fast ~6 ms, slow ~40 ms
    config.wsyn[:] = [[30, 5], [15, 5], [150, 5], [75, 5]]
    config.t_ref[:] = 3
    return config.validate()


def partly_used_config(used: int, spec_name: str = "dynapse1", seed: int = 0) -> ChipConfig:
    """`random_config` with only neurons 0..used-1 enabled, their CAM slots drawn from the
    inputs and those neurons; the other neurons disabled with empty CAMs (unused)."""
    config = random_config(spec_name, seed)
    spec = config.spec
    rng = np.random.default_rng(seed + 1)
    source = rng.integers(0, spec.inputs + used, (used, spec.fan_in))
    config.cam_source[:used] = source  # ids below M + used: inputs and neurons 0..used-1
    config.cam_source[used:] = EMPTY
    config.enabled[:] = False
    config.enabled[:used] = True
    return config.validate()


def poisson_inputs(steps: int, n_inputs: int, rate_hz: float = 20.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, n_inputs)) < rate_hz / 1000.0).astype(np.uint8)
