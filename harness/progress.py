"""Progress bars for training: one tqdm bar per stage, fed by the methods' progress reports
({"stage", "step", "total", metric: value, ...}); shared by `harness train` and `harness run`."""
from __future__ import annotations

from tqdm import tqdm


class StageBars:
    """A tqdm bar per training stage, labelled `prefix` + stage, with the report's metrics."""

    def __init__(self, prefix: str = "", enabled: bool = True, leave: bool = True):
        self.prefix, self.enabled, self.leave = prefix, enabled, leave
        self.bar: tqdm | None = None
        self.stage: str | None = None

    def __call__(self, report: dict) -> None:
        if not self.enabled:
            return
        stage = str(report.get("stage", "train"))
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=report.get("total"), desc=f"{self.prefix}{stage}", unit="step",
                            dynamic_ncols=True, leave=self.leave)
        assert self.bar is not None
        if "step" in report:
            self.bar.n = int(report["step"])
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in report.items()
                              if isinstance(v, float) and k not in ("step", "total")}, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
