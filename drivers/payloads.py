"""Bulk data carried by the protocol: the configuration image, input events, results.

- **Image**: ``u32 header length | header JSON | arrays``. The header holds the spec and,
  per field of `ChipConfig` in ARRAY_FIELDS order, its dtype and shape; the arrays follow
  as little-endian C-order bytes. The encoding is lossless even for an invalid
  configuration, so the board (not the host) is the one that validates it. Its CRC-32
  is the image checksum; it travels deflated.
- **Input events**: ``(t u32, channel u16, count u8)`` per non-zero count, sorted by t,
  channel; deflated.
- **Result stream**: spike events ``(t u32, neuron u16)`` sorted by t, neuron, deflated;
  then (with record_state) the deflated state: v [T, N], isyn [T, 4, N], refr [T, N] as
  int32 LE; then (with counters) the run's activity counters, u64 LE each, in
  `sim.chip.activity.COUNTERS` order (COUNTER_BYTES).
"""
from __future__ import annotations

import json
import zlib

import numpy as np

from drivers.chip import RunResult
from drivers.framing import ProtocolError
from sim.chip.activity import COUNTERS, Activity
from sim.chip.config import ARRAY_FIELDS, ChipConfig
from sim.chip.spec import INPUT_COUNT_MAX, ChipSpec, SpecError

INPUT_EVENT = np.dtype([("t", "<u4"), ("channel", "<u2"), ("count", "u1")])
SPIKE_EVENT = np.dtype([("t", "<u4"), ("neuron", "<u2")])
IMAGE_DTYPE_KINDS = "biuf"   # bool, signed, unsigned, float: enough to carry any ChipConfig
MAX_IMAGE_BYTES = 64 * 2**20
COUNTER_BYTES = 8 * len(COUNTERS)


class PayloadError(ProtocolError):
    """Bulk data that cannot be decoded or is out of range; the message says which."""


# ---- configuration image --------------------------------------------------------------
def encode_image(config: ChipConfig) -> bytes:
    arrays = [np.asarray(getattr(config, name)) for name in ARRAY_FIELDS]
    arrays = [a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a for a in arrays]
    header = {"spec": config.spec.to_dict(),
              "arrays": [[name, a.dtype.str, list(a.shape)] for name, a in zip(ARRAY_FIELDS, arrays)]}
    head = json.dumps(header, sort_keys=True).encode()
    return len(head).to_bytes(4, "little") + head + b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)


def image_checksum(config: ChipConfig) -> int:
    return zlib.crc32(encode_image(config))


def decode_image(image: bytes) -> ChipConfig:
    """The configuration in `image`, not yet validated; PayloadError if it is malformed."""
    if len(image) < 4:
        raise PayloadError("configuration image is shorter than its header length")
    size = int.from_bytes(image[:4], "little")
    try:
        header = json.loads(image[4:4 + size].decode())
        spec = ChipSpec.from_dict(header["spec"], origin="configuration image")
        layout = [(str(name), np.dtype(dtype), tuple(int(d) for d in shape)) for name, dtype, shape in header["arrays"]]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, SpecError) as exc:
        raise PayloadError(f"configuration image header is malformed ({exc})") from None
    if [name for name, _, _ in layout] != list(ARRAY_FIELDS):
        raise PayloadError(f"configuration image holds arrays {[n for n, _, _ in layout]}, expected {list(ARRAY_FIELDS)}")
    offset, arrays = 4 + size, {}
    for name, dtype, shape in layout:
        if dtype.kind not in IMAGE_DTYPE_KINDS or dtype.byteorder == ">" or any(d < 0 for d in shape):
            raise PayloadError(f"configuration image array {name}: unsupported dtype {dtype.str} or shape {shape}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if offset + nbytes > len(image):
            raise PayloadError(f"configuration image is truncated in array {name}")
        arrays[name] = np.frombuffer(image, dtype, count=nbytes // dtype.itemsize, offset=offset).reshape(shape).copy()
        offset += nbytes
    if offset != len(image):
        raise PayloadError(f"configuration image has {len(image) - offset} trailing bytes")
    return ChipConfig(spec=spec, **arrays)


def deflate(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def inflate(data: bytes, limit: int, what: str) -> bytes:
    """Decompress at most `limit` bytes; PayloadError when corrupt or larger."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PayloadError(f"{what} does not inflate ({exc})") from None
    if len(out) > limit:
        raise PayloadError(f"{what} inflates to more than {limit} bytes")
    if not inflater.eof:
        raise PayloadError(f"{what} is truncated")
    return out


# ---- input events ---------------------------------------------------------------------
def encode_inputs(counts: np.ndarray) -> tuple[int, bytes]:
    """[T, M] counts (already checked) -> (number of events, deflated events)."""
    t, channel = np.nonzero(counts)
    events = np.empty(t.size, INPUT_EVENT)
    events["t"], events["channel"], events["count"] = t, channel, counts[t, channel]
    return t.size, deflate(events.tobytes())


def _inflate_events(data: bytes, count: int, dtype: np.dtype, what: str, unit: str) -> np.ndarray:
    """The `count` records of `dtype` deflated in `data`; PayloadError unless exactly that many."""
    raw = inflate(data, count * dtype.itemsize, what)
    if len(raw) != count * dtype.itemsize:
        raise PayloadError(f"{what}: {len(raw)} bytes where {count} {unit} were announced")
    return np.frombuffer(raw, dtype)


def decode_inputs(data: bytes, n_events: int, steps: int, inputs: int) -> np.ndarray:
    """Deflated input events -> [steps, inputs] uint8; PayloadError naming the first bad event."""
    events = _inflate_events(data, n_events, INPUT_EVENT, "input events", "events")
    bad = (events["t"] >= steps) | (events["channel"] >= inputs) | (events["count"] < 1) | (events["count"] > INPUT_COUNT_MAX)
    if bad.any():
        e = events[np.flatnonzero(bad)[0]]
        raise PayloadError(f"input event (t={e['t']}, channel={e['channel']}, count={e['count']}) is outside "
                           f"t < {steps}, channel < {inputs}, count 1..{INPUT_COUNT_MAX}")
    counts = np.zeros((steps, inputs), np.uint8)
    counts[events["t"], events["channel"]] = events["count"]
    return counts


# ---- results ---------------------------------------------------------------------------
def encode_spikes(spikes: np.ndarray) -> tuple[int, bytes]:
    """[T, N] bool -> (number of spikes, deflated spike events)."""
    t, neuron = np.nonzero(spikes)
    events = np.empty(t.size, SPIKE_EVENT)
    events["t"], events["neuron"] = t, neuron
    return t.size, deflate(events.tobytes())


def decode_spikes(data: bytes, n_spikes: int, steps: int, neurons: int) -> np.ndarray:
    events = _inflate_events(data, n_spikes, SPIKE_EVENT, "spike events", "spikes")
    if events.size and (events["t"].max() >= steps or events["neuron"].max() >= neurons):
        raise PayloadError(f"spike event outside {steps} steps x {neurons} neurons")
    spikes = np.zeros((steps, neurons), bool)
    spikes[events["t"], events["neuron"]] = True
    return spikes


def state_bytes(steps: int, neurons: int) -> int:
    return steps * neurons * 6 * 4


def encode_state(result: RunResult) -> bytes:
    return deflate(b"".join(np.asarray(a, "<i4").tobytes() for a in (result.v, result.isyn, result.refr)))


def decode_state(data: bytes, steps: int, neurons: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v [T, N], isyn [T, 4, N], refr [T, N]) as int64."""
    raw = inflate(data, state_bytes(steps, neurons), "state")
    if len(raw) != state_bytes(steps, neurons):
        raise PayloadError(f"state has {len(raw)} bytes, expected {state_bytes(steps, neurons)}")
    flat = np.frombuffer(raw, "<i4").astype(np.int64)
    plane = steps * neurons
    return (flat[:plane].reshape(steps, neurons), flat[plane:5 * plane].reshape(steps, 4, neurons),
            flat[5 * plane:].reshape(steps, neurons))


def encode_counters(activity: Activity) -> bytes:
    """One run's counters (one trial) as COUNTER_BYTES."""
    return np.array([int(getattr(activity, name)[0]) for name in COUNTERS], "<u8").tobytes()


def decode_counters(data: bytes) -> Activity:
    if len(data) != COUNTER_BYTES:
        raise PayloadError(f"activity counters take {len(data)} bytes, expected {COUNTER_BYTES}")
    values = np.frombuffer(data, "<u8").astype(np.int64)
    return Activity(*(values[i:i + 1] for i in range(len(COUNTERS))))
