"""Many vector sets (e.g. the test set of every condition) through testbenches built once, in parallel.

For each set, in order, the vector files are written for every design and its testbench runs on
every stimulus file in worker threads (the simulators are external processes), while the next set's
vectors are written; a set's files are deleted once its runs are done, so disk use stays at about
two sets whatever the number of sets.
"""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from workbench.hw.interface import StreamDesign
from workbench.verify.check import TestbenchRun
from workbench.verify.simulators import TestbenchVerdict
from workbench.verify.vectors import VectorSet, write_vectors


@dataclass(frozen=True)
class SetRun:
    """One testbench run on one vector set: `expected` values written, `profiles` profiles."""

    name: str
    lanes: int
    stimulus: str
    profiles: int
    expected: int
    verdict: TestbenchVerdict

    @property
    def passed(self) -> bool:
        """A PASS verdict that compared every value written."""
        return self.verdict.passed and self.verdict.compared == self.expected


def run_vector_sets(testbenches: dict[int, tuple[StreamDesign, TestbenchRun]],
                    vector_sets: Iterable[tuple[str, VectorSet]], work: Path, stimuli: tuple[str, ...], *,
                    workers: int = 2) -> list[SetRun]:
    """Run every built testbench (lanes -> its design and `run`, see `check.built_testbench`) on
    every stimulus of every named vector set; returns the runs in set, lanes, stimulus order."""
    runs: list[SetRun] = []
    pending: list[tuple[list[Path], list[tuple[str, int, str, VectorSet, Future]]]] = []

    def finish(item: tuple[list[Path], list[tuple[str, int, str, VectorSet, Future]]]) -> None:
        folders, jobs = item
        for name, lanes, stimulus, vectors, job in jobs:
            runs.append(SetRun(name, lanes, stimulus, len(vectors.found), vectors.value_count, job.result()))
        for folder in folders:
            shutil.rmtree(folder)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, vectors in vector_sets:
            folders, jobs = [], []
            for lanes, (design, run) in testbenches.items():
                folder = work / f"{name}_p{lanes}"
                write_vectors(folder, design, vectors)
                folders.append(folder)
                jobs += [(name, lanes, stimulus, vectors, pool.submit(run, stimulus, folder)) for stimulus in stimuli]
            pending.append((folders, jobs))
            if len(pending) > 1:
                finish(pending.pop(0))
        for item in pending:
            finish(item)
    return runs
