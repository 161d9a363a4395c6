"""Keyword-in-noise: does a fixed three-syllable "keyword" occur in a noisy clip?

Audio is synthesised at 8 kHz, deterministic from the seed, nothing is downloaded.
A syllable is a voiced tone (harmonics of f0 weighted by two formant bumps of a
vowel, with an attack/decay envelope). The keyword is a fixed vowel sequence;
negatives are other random three-syllable sequences (a quarter of them noise only).
Per-clip speaker pitch, formant, timing and loudness jitter. White noise is mixed in at
`snr_db` (10 dB) relative to the speech power. Features: 16 band-pass channels
(log-spaced 100–3800 Hz, 2nd-order Butterworth sections), rectified, averaged to 1 ms
and low-passed (τ = 10 ms), then log-compressed and scaled to about 0..1.

Targets and mask: the decision window is 50–400 ms after the end of the utterance
(for noise-only clips, a window at a random place). Positives: target +1 in the window;
negatives: 0. Targets are 0 outside the window and the mask is the window, so
`Task.decide` thresholds the window mean at 0.5. Classes are balanced.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from sim.tasks.base import Dataset, Task

FS = 8000
N_CHANNELS = 16
STEP = FS // 1000  # audio samples per 1 ms step
VOWELS = {"a": (730, 1090), "i": (270, 2290), "u": (300, 870), "e": (530, 1840), "o": (570, 840), "ae": (660, 1720)}
KEYWORD = ("a", "i", "u")
WINDOW_MS = (50, 400)
SYLLABLE_MS = (120, 200)
GAP_MS = (30, 70)
SPEECH_RMS = 0.1


def _syllable(vowel: str, f0: float, n: int, formant_jitter: np.ndarray) -> np.ndarray:
    """One voiced syllable of `n` samples."""
    t = np.arange(n) / FS
    harmonics = np.arange(1, int(3800 // f0) + 1) * f0
    f1, f2 = np.array(VOWELS[vowel]) * formant_jitter
    weights = np.exp(-((harmonics - f1) / 120.0) ** 2) + 0.6 * np.exp(-((harmonics - f2) / 180.0) ** 2) + 0.02
    wave = weights @ np.sin(2 * np.pi * harmonics[:, None] * t[None, :])
    envelope = np.minimum(1.0, t / 0.02) * np.exp(-t / (n / FS * 0.8))
    return wave * envelope


def _utterance(vowels: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Syllables of one speaker with gaps, scaled to `SPEECH_RMS`."""
    f0 = rng.uniform(100, 220)
    jitter = rng.uniform(0.92, 1.08, 2)
    parts = []
    for v in vowels:
        parts.append(_syllable(v, f0 * rng.uniform(0.95, 1.05), int(rng.uniform(*SYLLABLE_MS) * STEP), jitter))
        parts.append(np.zeros(int(rng.uniform(*GAP_MS) * STEP)))
    audio = np.concatenate(parts[:-1])
    return audio * SPEECH_RMS / np.sqrt(np.mean(audio ** 2)) * rng.uniform(0.7, 1.3)


def _negative_sequence(rng: np.random.Generator) -> tuple[str, ...]:
    names = list(VOWELS)
    while True:
        seq = tuple(names[i] for i in rng.integers(0, len(names), len(KEYWORD)))
        if seq != KEYWORD:
            return seq


def synthesise(n_samples: int, rng: np.random.Generator, duration_ms: int = 5000,
               snr_db: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Audio [S, duration_ms·8], labels [S] and utterance end step [S] (ms)."""
    n_audio = duration_ms * STEP
    labels = (np.arange(n_samples) % 2)[rng.permutation(n_samples)].astype(np.int64)
    audio = np.zeros((n_samples, n_audio))
    ends = np.zeros(n_samples, np.int64)
    noise_std = SPEECH_RMS / 10 ** (snr_db / 20)
    for i, label in enumerate(labels):
        noise_only = label == 0 and rng.random() < 0.25
        latest = duration_ms - WINDOW_MS[1]
        if noise_only:
            ends[i] = int(rng.integers(min(200, latest - 1), latest))
            continue
        speech = _utterance(KEYWORD if label else _negative_sequence(rng), rng)
        n_speech_ms = len(speech) // STEP + 1
        if n_speech_ms + 100 > latest:
            raise ValueError(f"keyword task: duration_ms={duration_ms} is too short for an utterance "
                             f"(needs at least {n_speech_ms + 100 + WINDOW_MS[1]} ms)")
        start = int(rng.integers(100, latest - n_speech_ms + 1)) * STEP
        audio[i, start:start + len(speech)] = speech
        ends[i] = (start + len(speech)) // STEP
    audio += rng.normal(0.0, noise_std, audio.shape)
    return audio, labels, ends


def filterbank(audio: np.ndarray) -> np.ndarray:
    """Envelope features [S, T_ms, 16] in about 0..1 from audio [S, samples]."""
    edges = np.geomspace(100, 3800, N_CHANNELS + 1)
    n_steps = audio.shape[1] // STEP
    lowpass = np.exp(-1.0 / 10.0)
    out = np.empty((audio.shape[0], n_steps, N_CHANNELS), np.float32)
    for c in range(N_CHANNELS):
        sos = signal.butter(1, [edges[c], edges[c + 1]], btype="bandpass", fs=FS, output="sos")
        env = np.abs(signal.sosfilt(sos, audio, axis=1))[:, :n_steps * STEP]
        env = env.reshape(audio.shape[0], n_steps, STEP).mean(axis=2)
        env = signal.lfilter([1 - lowpass], [1, -lowpass], env, axis=1)
        out[..., c] = np.log1p(env / 0.002) / np.log1p(0.1 / 0.002)
    return out


def keyword_dataset(n_samples: int, rng: np.random.Generator, duration_ms: int = 5000,
                    snr_db: float = 10.0) -> Dataset:
    audio, labels, ends = synthesise(n_samples, rng, duration_ms, snr_db)
    inputs = filterbank(audio)
    targets = np.zeros((n_samples, duration_ms, 1), np.float32)
    mask = np.zeros((n_samples, duration_ms), bool)
    for i, end in enumerate(ends):
        lo, hi = end + WINDOW_MS[0], min(end + WINDOW_MS[1], duration_ms)
        mask[i, lo:hi] = True
        targets[i, lo:hi, 0] = float(labels[i])
    return Dataset(inputs, targets, mask, labels)


def make_keyword(seed: int = 0, n_train: int = 256, n_val: int = 64, n_test: int = 128,
                 duration_ms: int = 5000, snr_db: float = 10.0) -> Task:
    """The keyword-in-noise task; splits are drawn from independent streams of `seed`."""
    streams = np.random.SeedSequence([seed, 0x6B77]).spawn(3)
    splits = [keyword_dataset(n, np.random.default_rng(s), duration_ms, snr_db)
              for n, s in zip((n_train, n_val, n_test), streams)]
    return Task("keyword", *splits, meta={"seed": seed, "n_train": n_train, "n_val": n_val, "n_test": n_test,
                                          "duration_ms": duration_ms, "snr_db": snr_db})
