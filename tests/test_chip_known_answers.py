"""Known answers worked by hand from CHIP_SPEC §4–5, checked on EmulatorChip and BatchedChips.

Every expected number here is computed with plain Python ints (or written out as a literal
worked from the spec's formulas), never by calling the code under test. The chips run at
mismatch 0, so the effective parameters are the nominal DAC values (fine × 2**coarse).

The tiny spec `ka` has 2 cores × 2 neurons (N = 4) and 8 inputs (M = 8), fan_in 12 = M + N;
neurons 0, 1 are core 0 and neurons 2, 3 are core 1; source id M + n is neuron n.
"""
from __future__ import annotations

import numpy as np
import pytest

from drivers.emulator import EmulatorChip
from sim.chip import noise as noise_module
from sim.chip.batched import BatchedChips
from sim.chip.config import EMPTY, ChipConfig
from tests.chip_factories import make_spec

MASK = 2**64 - 1
M = 8                         # inputs of the `ka` spec
THETA_MAX_CODE = (255, 15)    # 8355840: the largest threshold, nothing below it fires by accident
TARGETS = ("emulator", "batched-events", "batched-dense")


# ---- an independent pure-Python splitmix64 and noise (CHIP_SPEC §5) -------------------------------
def splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def noise(chip_seed: int, noise_seed: int, t: int, n: int, amplitude: int) -> int:
    key = splitmix64(chip_seed ^ splitmix64(noise_seed))
    return ((splitmix64((key + t * 2**20 + n) & MASK) >> 33) % (2 * amplitude + 1)) - amplitude


# ---- the tiny chip -----------------------------------------------------------------------------
def ka_config(**core0) -> ChipConfig:
    """All CAM slots empty, idc 0, t_ref 0, theta max, dmem 4096 (1/16 leak), dsyn 8192 (1/8),
    wsyn 1000 on both cores; keyword arguments override core 0's codes."""
    spec = make_spec("ka", cores=2, neurons_per_core=2, inputs=M, fan_in=12)
    config = ChipConfig.empty(spec)
    config.dmem[:] = (16, 8)            # 16 · 2**8 = 4096
    config.theta[:] = THETA_MAX_CODE
    config.idc[:] = (0, 0, 0)
    config.t_ref[:] = 0
    config.dsyn[:] = (32, 8)            # 32 · 2**8 = 8192
    config.wsyn[:] = (250, 2)           # 250 · 2**2 = 1000
    for name, value in core0.items():
        getattr(config, name)[0] = value
    return config


def run_all(config: ChipConfig, inputs: np.ndarray, *, chip_seed: int = 12345, noise_amplitude: int = 0,
            noise_seed: int = 0, mismatch=0) -> dict:
    """{target: (spikes [T, N], v [T, N], isyn [T, 4, N], refr [T, N])} on every implementation."""
    chip = EmulatorChip(config.spec, chip_seed=chip_seed, mismatch=mismatch)
    chip.load(config)
    r = chip.run(inputs, noise_amplitude=noise_amplitude, noise_seed=noise_seed, record_state=True)
    out = {"emulator": (r.spikes, r.v, r.isyn, r.refr)}
    for propagation in ("events", "dense"):
        b = BatchedChips(config, [chip_seed], mismatch=mismatch, backend="numpy", propagation=propagation).run(
            inputs, noise_amplitude=noise_amplitude, noise_seeds=noise_seed, record_state=True)
        out[f"batched-{propagation}"] = (b.spikes[0], b.v[0], b.isyn[0], b.refr[0])
    return out


def silence(steps: int) -> np.ndarray:
    return np.zeros((steps, M), np.uint8)


# ---- splitmix64 and noise ----------------------------------------------------------------------
def test_splitmix64_known_value():
    assert splitmix64(0) == 0xE220A8397B1DCDAF
    assert int(noise_module.splitmix64(np.uint64(0))) == 0xE220A8397B1DCDAF
    values = [0, 1, 2**32, 2**63, MASK, 0x9E3779B97F4A7C15]
    got = noise_module.splitmix64(np.array(values, np.uint64))
    assert [int(g) for g in got] == [splitmix64(v) for v in values]


NOISE_CASES = [  # (chip_seed, noise_seed, t, n, A)
    (0, 0, 0, 0, 5), (1, 2, 3, 1, 100), (MASK, MASK, 7, 3, 2**31 - 1),
    (123456789, 987654321, 1000, 1023, 1), (2**63, 17, 4095, 511, 40000), (42, 0, 2**20 + 3, 0, 3),
]


def test_noise_hand_values():
    # Literals worked from §5 with the pure-Python splitmix64 above (kept as a tripwire).
    assert noise(0, 0, 0, 0, 5) == 2
    assert noise(1, 2, 3, 1, 100) == 22
    assert noise(MASK, MASK, 7, 3, 2**31 - 1) == -329729945
    assert noise(123456789, 987654321, 1000, 1023, 1) == -1
    for chip_seed, noise_seed, t, n, amplitude in NOISE_CASES:
        key = noise_module.noise_keys([chip_seed], [noise_seed])[:, None]
        got = noise_module.noise_step(key, t, np.array([n], np.uint64), amplitude)
        assert int(got[0, 0]) == noise(chip_seed, noise_seed, t, n, amplitude)
        assert -amplitude <= int(got[0, 0]) <= amplitude


def test_noise_counter_wraps_modulo_2_64():
    """key + t·2**20 + n is taken modulo 2**64 (checked on keys next to the wrap)."""
    for key in (MASK, MASK - 5, 2**64 - 2**20, 2**63):
        for t, n in ((0, 0), (1, 10), (3, 1023), (2**20, 7)):
            counter = (key + t * 2**20 + n) & MASK
            want = ((splitmix64(counter) >> 33) % (2 * 77 + 1)) - 77
            got = noise_module.noise_step(np.array([[key]], np.uint64), t, np.array([n], np.uint64), 77)
            assert int(got[0, 0]) == want, (key, t, n)


def test_noise_is_zero_when_amplitude_is_zero():
    for chip_seed, noise_seed, t, n, _ in NOISE_CASES:
        assert noise(chip_seed, noise_seed, t, n, 0) == 0
    config = ka_config()
    for target, (spikes, v, isyn, refr) in run_all(config, silence(20), noise_amplitude=0, noise_seed=99).items():
        assert not v.any() and not spikes.any() and not isyn.any() and not refr.any(), target


@pytest.mark.parametrize("chip_seed, noise_seed, amplitude", [
    (0, 0, 1), (7, 3, 300), (MASK, 2**63 + 1, 5000), (2**40 + 3, MASK, 2**31 - 1)])
def test_noise_drives_v_exactly_as_computed_by_hand(chip_seed, noise_seed, amplitude):
    """No synapses, idc 0: v(t) = v - ((v·dmem) >> 16) + noise(t, n), clipped, threshold 8355840."""
    config = ka_config()
    config.theta[1] = (1, 13)  # core 1 fires at 8192: big noise makes spikes and refractory holds
    config.t_ref[1] = 2
    steps, dmem, theta, t_ref = 30, 4096, [8355840, 8355840, 8192, 8192], [0, 0, 2, 2]
    expected_v = np.zeros((steps, 4), np.int64)
    expected_s = np.zeros((steps, 4), bool)
    for n in range(4):
        v = refr = 0
        for t in range(steps):
            v = v - ((v * dmem) >> 16) + noise(chip_seed, noise_seed, t, n, amplitude)
            v = max(-(2**23), min(2**23 - 1, v))
            if refr > 0:
                v, refr = 0, refr - 1
            if v >= theta[n]:
                v, refr, expected_s[t, n] = 0, t_ref[n], True
            expected_v[t, n] = v
    for target, (spikes, v, isyn, refr) in run_all(config, silence(steps), chip_seed=chip_seed,
                                                   noise_amplitude=amplitude, noise_seed=noise_seed).items():
        np.testing.assert_array_equal(v, expected_v, err_msg=target)
        np.testing.assert_array_equal(spikes, expected_s, err_msg=target)
    if 5000 <= amplitude < 2**30:
        assert expected_s.any()


def test_noise_range_follows_the_31_bit_draw():
    """splitmix64(...) >> 33 has 31 bits, so for 2A + 1 > 2**31 the draw never wraps the modulus:
    noise(t, n) lies in [−A, 2**31 − 1 − A], i.e. it is never positive when A = 2**31 − 1
    (a property of the §5 formula, which every implementation must reproduce)."""
    a = 2**31 - 1
    values = [noise(9, 4, t, n, a) for t in range(50) for n in range(4)]
    assert max(values) <= 0 and min(values) >= -a
    config = ka_config(theta=THETA_MAX_CODE, dmem=(255, 8))
    for target, (spikes, v, isyn, refr) in run_all(config, silence(30), chip_seed=9, noise_amplitude=a,
                                                   noise_seed=4).items():
        assert v.max() <= 0 and v.min() < 0 and not spikes.any(), target


def test_noise_differs_between_chip_seeds_and_noise_seeds():
    a = [noise(1, 5, t, 0, 1000) for t in range(20)]
    assert a != [noise(2, 5, t, 0, 1000) for t in range(20)]
    assert a != [noise(1, 6, t, 0, 1000) for t in range(20)]


# ---- membrane, threshold, refractory ----------------------------------------------------------
def test_constant_idc_crosses_threshold_at_the_predicted_step():
    """idc 100, dmem 4096, theta 1000 on core 0:
    v1 = 100; v2 = 100 - (100·4096 >> 16 = 6) + 100 = 194; v3 = 194 - 12 + 100 = 282;
    v4 = 282 - 17 + 100 = 365; ... v15 = 996, v16 = 996 - 62 + 100 = 1034 >= 1000 → spike at step 15."""
    config = ka_config(idc=(100, 0, 0), theta=(250, 2), t_ref=5)
    by_hand = [100, 194, 282, 365, 443, 516, 584, 648, 708, 764, 817, 866, 912, 955, 996]
    for target, (spikes, v, isyn, refr) in run_all(config, silence(18)).items():
        assert list(v[:15, 0]) == by_hand, target
        assert list(np.flatnonzero(spikes[:, 0])) == [15], target
        assert v[15, 0] == 0 and refr[15, 0] == 5 and list(refr[15:18, 0]) == [5, 4, 3], target
        assert list(v[:, 1]) == list(v[:, 0]), target  # same core, same nominal parameters
        assert not v[:, 2:].any() and not spikes[:, 2:].any(), target  # core 1 has idc 0


def test_negative_leak_is_a_floor_shift():
    """idc −100: v1 = −100; (−100·4096) >> 16 = floor(−6.25) = −7, so v2 = −100 + 7 − 100 = −193
    (truncation toward zero would give −194)."""
    config = ka_config(idc=(100, 0, 1))
    for target, (spikes, v, isyn, refr) in run_all(config, silence(8)).items():
        assert list(v[:, 0]) == [-100, -193, -280, -362, -439, -511, -579, -642], target


@pytest.mark.parametrize("t_ref", [0, 1, 3, 255])
def test_refractory_hold_lasts_exactly_t_ref_steps(t_ref):
    """idc = theta = 1000: v = 1000 >= theta at step 0 → spike, refr = t_ref; held (v = 0,
    refr counting down) for exactly t_ref steps; fires again t_ref + 1 steps after."""
    config = ka_config(idc=(250, 2, 0), theta=(250, 2), t_ref=t_ref)
    steps = 300 if t_ref == 255 else 20
    expected_spikes = [t for t in range(steps) if t % (t_ref + 1) == 0]
    expected_refr = [t_ref - (t % (t_ref + 1)) for t in range(steps)]
    inputs = silence(steps)
    inputs[:, 0] = 15  # input during the hold must not matter (no CAM slot reads it anyway)
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(np.flatnonzero(spikes[:, 0])) == expected_spikes, target
        assert list(refr[:, 0]) == expected_refr, target
        assert not v[:, 0].any(), target


def test_refractory_neuron_ignores_strong_input_and_keeps_integrating_isyn():
    """Neuron 0 fires at step 0 (idc = theta) with t_ref 4; AMPA input at steps 1..3 would
    drive v far above theta but v is held at 0; isyn integrates as usual."""
    config = ka_config(idc=(250, 2, 0), theta=(250, 2), t_ref=4)
    config.cam_source[0, 0], config.cam_type[0, 0] = 1, 0
    inputs = silence(6)
    inputs[1:4, 1] = 15
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(np.flatnonzero(spikes[:, 0])) == [0, 5], target
        assert list(v[:, 0]) == [0] * 6, target
        # isyn: 0; 15000; 15000 - 1875 + 15000 = 28125; 28125 - 3515 + 15000 = 39610; 39610 - 4951 = 34659
        assert list(isyn[:5, 0, 0]) == [0, 15000, 28125, 39610, 34659], target


# ---- synapses ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, sign", [(0, 1), (1, 1), (2, -1), (3, -1)])
def test_one_input_spike_jumps_and_decays_isyn(kind, sign):
    """Two CAM slots of neuron 0 read input 1 with type k; input 1 carries count 3 at step 0:
    c = 3·2 = 6, isyn = 6·1000 = 6000, then isyn -= isyn·8192 >> 16:
    6000 → 5250 → 4594 (656.25) → 4020 (574.25) → 3518 (502.5) → 3079 (439.75).
    v (dmem 4096): v0 = ±6000; v1 = ±6000 ∓ 375 ± 5250 = ±10875;
    v2 = 10875 − 679 + 4594 = 14790 (exc.) or −10875 + 680 − 4594 = −14789 (inh., floor)."""
    config = ka_config()
    config.cam_source[0, [3, 7]] = 1
    config.cam_type[0, [3, 7]] = kind
    config.cam_type[0, 0] = (kind + 1) % 4  # an empty slot's type is irrelevant
    inputs = silence(6)
    inputs[0, 1] = 3
    inputs[0, 0] = 15  # channel 0 feeds nobody
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(isyn[:, kind, 0]) == [6000, 5250, 4594, 4020, 3518, 3079], target
        others = [k for k in range(4) if k != kind]
        assert not isyn[:, others].any() and not isyn[:, :, 1:].any(), target
        assert list(v[:3, 0]) == ([6000, 10875, 14790] if sign > 0 else [-6000, -10875, -14789]), target
        assert not spikes.any(), target


def test_per_type_weights_and_decays_are_separate():
    """Core 0: wsyn = 1000, 2000, 4000, 500; dsyn = 8192, 16384, 32768, 65280; one slot per type
    from input 2 (count 1 at step 0), and a second AMPA slot from input 3 (count 2).
    step 0: isyn = 1000·(1+2) = 3000, 2000, 4000, 500 → itot = 3000 + 2000 − 4000 − 500 = 500 = v0.
    step 1: 3000 − 375 = 2625; 2000 − 500 = 1500; 4000 − 2000 = 2000; 500 − 498 = 2
            (500·65280 >> 16 = 498.05 → 498); itot = 2625 + 1500 − 2000 − 2 = 2123;
            v1 = 500 − 31 + 2123 = 2592."""
    config = ka_config(wsyn=[(250, 2), (250, 3), (250, 4), (250, 1)],
                       dsyn=[(32, 8), (64, 8), (128, 8), (255, 8)])
    config.cam_source[0, :5] = [2, 2, 2, 2, 3]
    config.cam_type[0, :5] = [0, 1, 2, 3, 0]
    inputs = silence(3)
    inputs[0, 2], inputs[0, 3] = 1, 2
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(isyn[0, :, 0]) == [3000, 2000, 4000, 500], target
        assert list(isyn[1, :, 0]) == [2625, 1500, 2000, 2], target
        assert list(v[:2, 0]) == [500, 2592], target


def test_inhibitory_types_subtract_from_idc():
    """idc 500 with a GABA_B slot reading input 0 (count 2 at step 0, wsyn 1000):
    isyn3 = 2000 → itot = 500 − 2000 = −1500 = v0; step 1: isyn3 = 2000 − 250 = 1750,
    itot = 500 − 1750 = −1250,
    v1 = −1500 − ((−1500·4096) >> 16 = −94, floor of −93.75) − 1250 = −2656."""
    config = ka_config(idc=(250, 1, 0))
    config.cam_source[0, 0], config.cam_type[0, 0] = 0, 3
    inputs = silence(2)
    inputs[0, 0] = 2
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(isyn[:, 3, 0]) == [2000, 1750], target
        assert list(v[:, 0]) == [-1500, -2656], target
        assert list(v[:, 1]) == [500, 500 - 31 + 500], target  # neuron 1: idc alone (500·4096 >> 16 = 31)


def test_neuron_spikes_reach_targets_one_step_later():
    """Neuron 0 fires at steps 0, 4, 8 (idc = theta, t_ref 3). Neuron 2 (core 1) has three CAM slots
    holding source M + 0 with type AMPA: weight 3, so isyn0 of neuron 2 jumps by 3·1000 at steps
    1, 5, 9 — the spike of step t−1 is an input of step t."""
    config = ka_config(idc=(250, 2, 0), theta=(250, 2), t_ref=3)
    config.cam_source[2, [0, 5, 11]] = M + 0
    config.cam_type[2, [0, 5, 11]] = 0
    expected, isyn0 = [], 0
    for t in range(10):
        isyn0 = isyn0 - ((isyn0 * 8192) >> 16) + (3000 if t in (1, 5, 9) else 0)
        expected.append(isyn0)
    assert expected[:4] == [0, 3000, 2625, 2297]
    for target, (spikes, v, isyn, refr) in run_all(config, silence(10)).items():
        assert list(np.flatnonzero(spikes[:, 0])) == [0, 4, 8], target
        assert list(isyn[:, 0, 2]) == expected, target
        assert not spikes[:, 2].any(), target


# ---- saturation and clipping --------------------------------------------------------------------
def saturating_config(kind: int) -> ChipConfig:
    """Neuron 0: all 12 CAM slots read input 0 with type `kind`; wsyn 32640 (255·2**7), dsyn 1."""
    config = ka_config(wsyn=[(255, 7)] * 4, dsyn=[(1, 0)] * 4)
    config.cam_source[0, :] = 0
    config.cam_type[0, :] = kind
    return config


def test_isyn_saturates_at_2_pow_24_minus_1():
    """c = 15·12 = 180, c·w = 5875200 per step, dsyn 1:
    isyn0 = 5875200; isyn1 = 5875200 − 89 + 5875200 = 11750311;
    isyn2 = min(11750311 − 179 + 5875200 = 17625332, 16777215) = 16777215; then it stays there
    (16777215 − 255 + 5875200 → 16777215). With the input gone it decays from the cap:
    16777215 − 255 = 16776960."""
    config = saturating_config(kind=1)
    inputs = silence(6)
    inputs[:5, 0] = 15
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(isyn[:, 1, 0]) == [5875200, 11750311, 16777215, 16777215, 16777215, 16776960], target


def test_v_clips_at_minus_2_pow_23():
    """Same drive into GABA_A: v0 = −5875200; v1 = −5875200 + 367200 − 11750311 = −17258311 → −8388608;
    v2 = −8388608 + 524288 − 16777215 → −8388608 (clipped again)."""
    config = saturating_config(kind=2)
    inputs = silence(4)
    inputs[:, 0] = 15
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(v[:, 0]) == [-5875200, -(2**23), -(2**23), -(2**23)], target
        assert not spikes.any(), target


def test_v_clips_at_2_pow_23_minus_1_and_fires():
    """Into AMPA: v0 = 5875200 < theta 8355840; v1 = 5875200 − 367200 + 11750311 = 17258311 → clipped
    to 8388607 >= theta → spike, v = 0. (In vc1 theta <= 2**23 − 1, so a positively clipped v
    always fires and the clipped value itself is never visible in the state.) With the neuron
    disabled v stays 0, and with theta at the top of the range it still fires."""
    config = saturating_config(kind=0)
    inputs = silence(3)
    inputs[:, 0] = 15
    for target, (spikes, v, isyn, refr) in run_all(config, inputs).items():
        assert list(v[:, 0]) == [5875200, 0, 0], target
        assert list(spikes[:, 0]) == [False, True, True], target
        assert v.max() <= 2**23 - 1


def test_disabled_neuron_never_spikes_and_holds_v_zero():
    """Neuron 1 (core 0, idc 2000, theta 1000) is disabled; its twin neuron 0 fires every step
    (noise ±500 cannot stop it).
    A disabled neuron's isyn still follows the spec formula (only v and refr are held)."""
    config = ka_config(idc=(250, 3, 0), theta=(250, 2), t_ref=0)  # idc 2000, theta 1000
    config.enabled[1] = False
    config.cam_source[1, 0], config.cam_type[1, 0] = 4, 2
    inputs = silence(5)
    inputs[0, 4] = 1
    for target, (spikes, v, isyn, refr) in run_all(config, inputs, noise_amplitude=500, noise_seed=5).items():
        assert spikes[:, 0].all(), target
        assert not spikes[:, 1].any() and not v[:, 1].any() and not refr[:, 1].any(), target
        assert list(isyn[:, 2, 1]) == [1000, 875, 766, 671, 588], target


# ---- a third, pure-Python implementation of §4 on random tiny chips --------------------------------
def reference_run(config: ChipConfig, inputs: np.ndarray, chip_seed: int, amplitude: int, noise_seed: int):
    """CHIP_SPEC §4 with Python ints, nominal parameters (mismatch 0)."""
    spec = config.spec
    n_all = spec.n_neurons

    def val(code):
        return int(code[0]) << int(code[1])

    core = [n // spec.neurons_per_core for n in range(n_all)]
    dmem = [val(config.dmem[core[n]]) for n in range(n_all)]
    theta = [val(config.theta[core[n]]) for n in range(n_all)]
    idc = [val(config.idc[core[n]]) * (-1 if config.idc[core[n], 2] else 1) for n in range(n_all)]
    t_ref = [int(config.t_ref[core[n]]) for n in range(n_all)]
    dsyn = [[val(config.dsyn[core[n], k]) for n in range(n_all)] for k in range(4)]
    wsyn = [[val(config.wsyn[core[n], k]) for n in range(n_all)] for k in range(4)]
    v, refr, s = [0] * n_all, [0] * n_all, [0] * n_all
    isyn = [[0] * n_all for _ in range(4)]
    spikes, vs = [], []
    for t in range(inputs.shape[0]):
        src = [int(x) for x in inputs[t]] + s
        c = [[0] * n_all for _ in range(4)]
        for n in range(n_all):
            for slot in range(spec.fan_in):
                source = int(config.cam_source[n, slot])
                if source != EMPTY:
                    c[int(config.cam_type[n, slot])][n] += src[source]
        new_s = [0] * n_all
        for n in range(n_all):
            for k in range(4):
                decayed = isyn[k][n] - ((isyn[k][n] * dsyn[k][n]) >> 16)
                isyn[k][n] = min(decayed + c[k][n] * wsyn[k][n], 2**24 - 1)
            itot = isyn[0][n] + isyn[1][n] - isyn[2][n] - isyn[3][n] + idc[n]
            itot += noise(chip_seed, noise_seed, t, n, amplitude) if amplitude else 0
            v[n] = max(-(2**23), min(2**23 - 1, v[n] - ((v[n] * dmem[n]) >> 16) + itot))
            if refr[n] > 0 or not config.enabled[n]:
                v[n], refr[n] = 0, max(refr[n] - 1, 0)
            if v[n] >= theta[n]:
                v[n], refr[n], new_s[n] = 0, t_ref[n], 1
        s = new_s
        spikes.append(list(s))
        vs.append(list(v))
    return np.array(spikes, bool), np.array(vs, np.int64)


@pytest.mark.parametrize("case", range(6))
def test_pure_python_reference_agrees_on_random_tiny_chips(case):
    from tests.chip_factories import random_config, random_inputs
    rng = np.random.default_rng([case, 314])
    spec = make_spec("tiny", cores=int(rng.integers(1, 4)), neurons_per_core=int(rng.integers(1, 5)),
                     inputs=int(rng.integers(1, 5)), fan_in=int(rng.integers(1, 6)))
    config = random_config(rng, spec, fill=0.8)
    inputs = random_inputs(rng, 40, spec.inputs, rate=0.3)
    amplitude, chip_seed, noise_seed = int(rng.choice([0, 50, 3000])), int(rng.integers(0, 2**63)) * 2 + 1, case
    want_spikes, want_v = reference_run(config, inputs, chip_seed, amplitude, noise_seed)
    for target, (spikes, v, isyn, refr) in run_all(config, inputs, chip_seed=chip_seed,
                                                   noise_amplitude=amplitude, noise_seed=noise_seed).items():
        np.testing.assert_array_equal(spikes, want_spikes, err_msg=target)
        np.testing.assert_array_equal(v, want_v, err_msg=target)
