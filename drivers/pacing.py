"""What the host knows about its line, and the timing and sizes that follow from it.

`Line` starts from the port's baud rate where there is one (else a 115200-baud guess)
and learns from every exchange, the handshake's first:

- the delivery rate: bytes acknowledged per interval (as TCP's delivery rate and BBR
  measure it), the 4th largest of the last RATE_SAMPLES samples (a few outliers, answers
  the host read late and in a burst, do not set it), so it falls when the line slows
  down or an early sample was too high. Samples of a window that was not full
  (a lone control request) only ever raise it;
- TCP-style round-trip estimates (SRTT, RTTVAR) and the shortest round trip; the resend
  time counts a queue once, from the bytes in flight ahead, not again in SRTT;
- congestion: an answer that is overdue (late, not damaged) halves the congestion
  window, at most once an RTO, which then grows back by a chunk per window
  (AIMD) up to the full window (`window`);
- the byte error rate e, from corruption only: damaged frames and answers missing
  before one that arrived (the stream is ordered, so those were lost, not late). An
  exchange of n bytes is lost with probability 1 - (1 - e)^n; each outcome moves log e
  by ERROR_GAIN times (lost - that probability), which settles where the prediction
  matches what happens, whatever mix of frame sizes the line carries. The first loss
  lifts e at once to where that loss was even odds, so a noisy line is recognised
  after a few frames. A late answer says nothing about e: a slow line is not a noisy one.

From those come the resend time (RTO), the chunk size (the one that moves most data per
line byte at the measured error rate, and never more than a few tens of ms of line
time), the bytes kept in flight, how many copies of a short request to send, and the
default link timeout.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from drivers.framing import CRC_SIZE
from drivers.wire import CHUNK_HEADER, CHUNK_MAX, HEADER

FRAME_OVERHEAD = 2 + 1 + CRC_SIZE + HEADER.size   # delimiters, first COBS code, CRC, message header
DATA_OVERHEAD = FRAME_OVERHEAD + CHUNK_HEADER.size  # ... and the chunk's offset
CHUNK_MIN = 8
FRAME_TIME_S = 0.05        # longest line time of one data frame
WINDOW_TIME_S = 0.25       # line time kept in flight ...
WINDOW_MIN = 1024
WINDOW_MAX = 16384         # ... within what a pty buffers in each direction (20 KiB on Linux)
INITIAL_RTO_S = 0.2        # resend time before the first round trip is measured
MIN_RTO_S = 0.02
MAX_BACKOFF = 8             # a resend waits at most this many RTOs
MIN_LINK_TIMEOUT_S = 2.0
DEFAULT_RATE = 115200 / 10  # bytes/s (8N1: 10 bits a byte) when the port says nothing
ERROR_GAIN = 0.25
ERROR_MIN = 1e-7           # byte error rate of a clean line, as far as the host can tell
ERROR_MAX = 0.5
COPIES_MAX = 16            # identical frames of one short request on a lossy line ...
COPIES_MISS = 0.1          # ... so that all of them fail at most this often
QUEUE_S = 0.01             # a standing queue longer than this: the line is the bottleneck
RATE_SAMPLES = 64          # delivery-rate samples the rate estimate is taken from ...
RATE_RANK = 4              # ... the 4th largest: a few outliers (answers read late, in a burst) do not set it


@dataclass
class Line:
    """Estimates for one line (both directions alike)."""

    rate: float = DEFAULT_RATE     # bytes/s delivered (requests and answers)
    srtt: float | None = None
    rttvar: float = 0.0
    min_rtt: float | None = None   # the shortest round trip seen: the line without a queue
    byte_error_rate: float = ERROR_MIN
    seen_loss: bool = False
    cwnd: float | None = None      # congestion window after a timeout (bytes); None: the full window
    congestion_events: int = 0     # timeouts that shrank the window
    _samples: deque = field(default_factory=lambda: deque(maxlen=RATE_SAMPLES), repr=False)
    _recovery_until: float = 0.0

    @classmethod
    def for_baudrate(cls, baudrate: int | None) -> "Line":
        return cls(rate=baudrate / 10) if baudrate else cls()

    # ---- what was observed --------------------------------------------------------------
    def observe_rtt(self, sample: float) -> None:
        """A request's first answer came `sample` seconds after it was sent."""
        self.min_rtt = sample if self.min_rtt is None else min(self.min_rtt, sample)
        if self.srtt is None:
            self.srtt, self.rttvar = sample, sample / 2
        else:
            self.rttvar += (abs(self.srtt - sample) - self.rttvar) / 4
            self.srtt += (sample - self.srtt) / 8

    def observe_delivery(self, nbytes: int, interval: float, window_full: bool = True) -> None:
        """`nbytes` (requests and answers) were delivered in `interval` seconds; a sample
        taken while the window was not full only counts where it shows a faster line."""
        sample = nbytes / max(interval, 1e-6)
        if not window_full and sample <= self.rate:
            return
        self._samples.append(sample)
        self.rate = sorted(self._samples)[-min(RATE_RANK, len(self._samples))]

    def observe_timeout(self, now: float) -> None:
        """An answer is overdue: the line holds more than it carries (congestion). The
        window halves, at most once an RTO."""
        if now < self._recovery_until:
            return
        self.cwnd = max(WINDOW_MIN, self.window() / 2)
        self._recovery_until = now + self.rto()
        self.congestion_events += 1

    def observe_acked(self, nbytes: int, chunk: int) -> None:
        """`nbytes` were acknowledged: after a timeout, the window grows by a chunk a window."""
        if self.cwnd is None:
            return
        self.cwnd += chunk * nbytes / self.cwnd
        if self.cwnd >= self._full_window():
            self.cwnd = None

    def observe_exchange(self, delivered: bool, nbytes: int, copies: int = 1) -> None:
        """An exchange of `nbytes` sent as `copies` identical frames got through, or was
        lost to corruption (only late is not lost: see `observe_timeout`)."""
        surprise = float(not delivered) - self.loss(nbytes) ** copies
        error = self.byte_error_rate * math.exp(ERROR_GAIN * surprise)
        if not delivered and not self.seen_loss:
            self.seen_loss = True
            error = max(error, -math.expm1(math.log(0.5) / (copies * nbytes)))   # loss(nbytes)^copies = 1/2
        self.byte_error_rate = min(ERROR_MAX, max(ERROR_MIN, error))

    # ---- what follows -------------------------------------------------------------------
    def loss(self, nbytes: int) -> float:
        """Estimated probability that an exchange of `nbytes` is lost."""
        return 1.0 - (1.0 - self.byte_error_rate) ** nbytes

    def copies(self, nbytes: int) -> int:
        """Identical frames to send of a short request whose exchange takes `nbytes`."""
        loss = self.loss(nbytes)
        if loss <= COPIES_MISS:
            return 1
        return min(COPIES_MAX, math.ceil(math.log(COPIES_MISS) / math.log(loss)))

    def bandwidth_bound(self) -> bool:
        """Whether the line holds a standing queue (SRTT exceeds the shortest round trip by
        more than QUEUE_S): it carries less than the host sends, so copies of data frames
        would wait in that queue and cost throughput, not only idle line time."""
        return self.srtt is not None and self.min_rtt is not None and self.srtt - self.min_rtt > QUEUE_S

    def rto(self, nbytes: int = 0, backoff: int = 1) -> float:
        """When to give up waiting for the answer to an exchange of `nbytes` (those in flight
        ahead of it included: their line time is the queue); `backoff` multiplies the
        round-trip part after answers failed to come in time."""
        base = INITIAL_RTO_S if self.srtt is None else max(MIN_RTO_S, self.min_rtt + 4 * self.rttvar)
        return base * backoff + nbytes / self.rate

    def chunk(self, overhead: int) -> int:
        """Data bytes per frame: at error rate e the useful share c / (c + h) * (1 - e)^(c + h)
        peaks at c = (sqrt(h^2 + 4h / e) - h) / 2; capped by the line time of one frame."""
        cap = int(min(CHUNK_MAX, self.window() // 2, max(CHUNK_MIN, self.rate * FRAME_TIME_S)))
        error = -math.log1p(-self.byte_error_rate)
        best = (math.sqrt(overhead * overhead + 4 * overhead / error) - overhead) / 2
        return max(CHUNK_MIN, min(cap, int(best)))

    def window(self) -> int:
        """Bytes (requests and answers) to keep in flight: the congestion window, within
        WINDOW_TIME_S of line time."""
        full = self._full_window()
        return int(full if self.cwnd is None else min(full, self.cwnd))

    def _full_window(self) -> int:
        return int(min(WINDOW_MAX, max(WINDOW_MIN, self.rate * WINDOW_TIME_S)))

    def describe(self) -> str:
        """The estimates, for error messages."""
        srtt = "none" if self.srtt is None else f"{self.srtt * 1e3:.0f} ms"
        return (f"measured rate {self.rate / 1e3:.1f} kB/s, SRTT {srtt}, RTO {self.rto() * 1e3:.0f} ms, "
                f"window {self.window()} B, byte error rate {self.byte_error_rate:.2g}")

    def link_timeout(self) -> float:
        """Default time without progress (an answer, a new byte) before the link counts as dead."""
        return max(MIN_LINK_TIMEOUT_S, 8 * self.rto(self.window()))
