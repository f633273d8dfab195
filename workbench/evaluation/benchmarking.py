"""Side-by-side throughput measurement: every method timed in one run, medians of repeated runs."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

Batch = Callable[[np.ndarray], object]

THROUGHPUT_COLUMNS = ("method", "kind", "batch_size", "profiles", "repeats", "median_s", "min_s", "max_s",
                      "profiles_per_s", "pixels_per_s", "cycles_per_s")


@dataclass(frozen=True)
class Timing:
    """Seconds of each repeat of processing `profiles` profiles at `batch_size` (simulators: `cycles`
    clock cycles per repeat)."""

    method: str
    kind: str
    batch_size: int
    profiles: int
    length: int
    seconds: tuple[float, ...]
    cycles: int | None = None

    def row(self) -> dict[str, object]:
        """A row of `tables/throughput.csv`."""
        median = statistics.median(self.seconds)
        rate = self.profiles / median
        return {"method": self.method, "kind": self.kind, "batch_size": self.batch_size,
                "profiles": self.profiles, "repeats": len(self.seconds), "median_s": median,
                "min_s": min(self.seconds), "max_s": max(self.seconds), "profiles_per_s": rate,
                "pixels_per_s": rate * self.length,
                "cycles_per_s": self.cycles / median if self.cycles is not None else None}


def time_batches(method: str, kind: str, run: Batch, profiles: np.ndarray, batch_size: int,
                 repeats: int) -> Timing:
    """Time `run` over `profiles` in batches of `batch_size`, `repeats` times after one warm-up batch."""
    if repeats < 1 or batch_size < 1:
        raise ValueError(f"repeats {repeats} and batch_size {batch_size} must be >= 1")
    batches = [profiles[i:i + batch_size] for i in range(0, len(profiles), batch_size)]
    run(batches[0])
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            run(batch)
        seconds.append(time.perf_counter() - start)
    return Timing(method, kind, batch_size, len(profiles), profiles.shape[1], tuple(seconds))
