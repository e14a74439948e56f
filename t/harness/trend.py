"""Is a series of memory samples growing?  The trend figures of a soak
(bench/soak.py), kept apart so the harness's own test can feed them a
synthetic leak and see the check fail.

A soak's samples rise at first (allocators, caches and pools reach the size
the load needs) and then, if nothing leaks, wander about a plateau.  So the
first warmup fraction of the samples is left out, and over the rest:

- slope: the least-squares line through (minutes, KiB), in KiB/min, with its
  standard error, and as % of the mean per minute;
- drift: the median of the last quarter less the median of the first
  quarter (of the samples after the warm-up), in KiB: a figure a single
  outlier cannot move;
- growing: slope above the threshold the caller states (KiB/min).
"""

import math
import statistics
from dataclasses import dataclass


@dataclass
class Trend:
    samples: int            # samples after the warm-up
    minutes: float          # time they span
    mean_kib: float
    slope_kib_min: float
    slope_se_kib_min: float
    drift_kib: float
    threshold_kib_min: float

    @property
    def slope_pct_min(self) -> float:
        """The slope as % of the mean per minute."""
        return 100.0 * self.slope_kib_min / self.mean_kib if self.mean_kib else 0.0

    @property
    def growing(self) -> bool:
        return self.slope_kib_min > self.threshold_kib_min

    def line(self, name: str) -> str:
        verdict = "GROWING" if self.growing else "flat"
        return (f"{name}: {verdict}: slope {self.slope_kib_min:+,.1f} "
                f"\u00b1 {2 * self.slope_se_kib_min:,.1f} KiB/min ({self.slope_pct_min:+.3f} %/min "
                f"of {self.mean_kib / 1024:,.1f} MiB), threshold {self.threshold_kib_min:,.1f} KiB/min; "
                f"last quarter - first quarter {self.drift_kib:+,.0f} KiB; "
                f"{self.samples} samples over {self.minutes:.1f} min after warm-up")


def trend(samples: list[tuple[float, float]], threshold_kib_min: float,
          warmup: float = 0.25) -> Trend:
    """samples: (seconds, KiB) in time order; the first warmup fraction is
    left out.  Needs at least 8 samples after the warm-up: fewer would make
    any slope noise."""
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup is a fraction 0..1, not {warmup!r}")
    kept = samples[int(len(samples) * warmup):]
    if len(kept) < 8:
        raise ValueError(f"{len(kept)} samples after the warm-up: at least 8 are needed")
    xs = [t / 60.0 for t, _ in kept]
    ys = [float(k) for _, k in kept]
    n = len(kept)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("the samples after the warm-up all have the same time")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    residual = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys))
    se = math.sqrt(residual / (n - 2) / sxx)
    q = max(1, n // 4)
    drift = statistics.median(ys[-q:]) - statistics.median(ys[:q])
    return Trend(samples=n, minutes=xs[-1] - xs[0], mean_kib=my, slope_kib_min=slope,
                 slope_se_kib_min=se, drift_kib=drift, threshold_kib_min=threshold_kib_min)
