"""The in-process emulator: one vc1 chip, written to read like CHIP_SPEC §4.

Clarity over speed: the batched simulator (`sim.chip.batched`) is the fast path and
must agree with this bit for bit. Every run counts its activity (docs/chip-spec.md): spikes
and input events from the run's rasters; step by step, synaptic events as the counts the CAM
slots receive and routed events as the cores each active source reaches.
"""
from __future__ import annotations

import numpy as np

from drivers.chip import EMULATED_PREFIX, ChipError, ChipIdentity, NotLoadedError, RunResult
from sim.chip.activity import Activity
from sim.chip.config import ChipConfig
from sim.chip.inputs import check_inputs
from sim.chip.mismatch import MismatchLevel, check_chip_seed, chip_params, resolve_cv
from sim.chip.noise import check_noise, noise_keys, noise_step
from sim.chip.spec import DEFAULT_SPEC, ISYN_MAX, SYNAPSE_SIGNS, V_RANGE, ChipSpec, load_spec

FIRMWARE = "emulator-1"


class EmulatorChip:
    """Chip #`chip_seed` of `spec` at mismatch `mismatch` ('spec', a cv, or 0 for nominal)."""

    def __init__(self, spec: str | ChipSpec = DEFAULT_SPEC, chip_seed: int = 0, mismatch: MismatchLevel = "spec"):
        self.spec = load_spec(spec)
        self.chip_seed = check_chip_seed(chip_seed)
        resolve_cv(mismatch, self.spec)  # validate now, not at load time
        self.mismatch = mismatch
        self._config: ChipConfig | None = None

    def identity(self) -> ChipIdentity:
        return ChipIdentity(spec_version=self.spec.spec_version, spec_name=self.spec.name,
                            chip_id=f"{EMULATED_PREFIX}{self.chip_seed}", firmware=FIRMWARE, mismatch=str(self.mismatch),
                            capabilities=("state", "noise", "counters"))

    def load(self, config: ChipConfig) -> None:
        self._check_config(config)
        self._config = config
        self._params = chip_params(config, self.chip_seed, self.mismatch)
        self._weights = config.weight_counts()  # [4, M + N, N]
        spec = self.spec
        per_core = self._weights.sum(axis=0).reshape(spec.n_sources, spec.cores, spec.neurons_per_core).sum(axis=2)
        self._cores_reached = np.count_nonzero(per_core, axis=1)  # [M + N]: cores holding a slot of each source

    def _check_config(self, config: ChipConfig) -> None:
        """ChipError unless `config` is a valid configuration of this chip's spec."""
        if config.spec != self.spec:
            raise ChipError(f"configuration is for spec {config.spec.name} ({config.spec.spec_version}); "
                            f"this chip is {self.spec.name} ({self.spec.spec_version})")
        config.validate()

    def reset(self) -> None:
        self._config = None

    def close(self) -> None:
        self._config = None

    def run(self, inputs: np.ndarray, *, noise_amplitude: int = 0, noise_seed: int = 0,
            record_state: bool = False) -> RunResult:
        if self._config is None:
            raise NotLoadedError("no configuration loaded: call load() before run()")
        x = check_inputs(inputs, self.spec).astype(np.int64)
        amplitude, noise_seed = check_noise(noise_amplitude, noise_seed)
        p, n = self._params, self.spec.n_neurons
        key = noise_keys([self.chip_seed], [noise_seed])[:, None]
        neuron_ids = np.arange(n, dtype=np.uint64)
        sign = np.array(SYNAPSE_SIGNS, np.int64)

        v = np.zeros(n, np.int64)
        isyn = np.zeros((4, n), np.int64)
        refr = np.zeros(n, np.int64)
        s = np.zeros(n, np.int64)
        steps = x.shape[0]
        spikes = np.zeros((steps, n), bool)
        synaptic = routed = 0
        states = (np.zeros((steps, n), np.int64), np.zeros((steps, 4, n), np.int64),
                  np.zeros((steps, n), np.int64)) if record_state else None
        for t in range(steps):
            src = np.concatenate([x[t], s])
            active = np.flatnonzero(src)
            c = np.einsum("ksn,s->kn", self._weights[:, active, :], src[active])
            synaptic += int(c.sum())  # every CAM slot's received count
            routed += int(src[active] @ self._cores_reached[active])
            isyn = isyn - ((isyn * p.dsyn) >> 16) + c * p.wsyn
            isyn = np.minimum(isyn, ISYN_MAX)
            noise = noise_step(key, t, neuron_ids, amplitude)[0] if amplitude else 0
            itot = sign @ isyn + p.idc + noise
            v = v - ((v * p.dmem) >> 16) + itot
            v = np.clip(v, *V_RANGE)
            held = (refr > 0) | ~p.enabled
            v = np.where(held, 0, v)
            refr = np.where(held, np.maximum(refr - 1, 0), refr)
            fired = v >= p.theta
            v = np.where(fired, 0, v)
            refr = np.where(fired, p.t_ref, refr)
            s = fired.astype(np.int64)
            spikes[t] = fired
            if states is not None:
                states[0][t], states[1][t], states[2][t] = v, isyn, refr
        totals = {"spike_count": spikes.sum(), "input_events": x.sum(), "synaptic_events": synaptic,
                  "routed_events": routed}
        activity = Activity(**{name: np.array([value], np.int64) for name, value in totals.items()})
        if states is None:
            return RunResult(spikes, activity=activity)
        return RunResult(spikes, *states, activity=activity)
