"""Cycle-by-cycle simulation of the generated peak detector, checked against the golden model.

`run_design` streams profiles in as every simulation does (`workbench.verify.beats`: 4 reset
cycles, optional seeded gaps in `s_tvalid` with zeros on the idle clocks), simulates the MyHDL
design on them and records every score beat and result with its cycle; `compare` checks them, value for value, against `golden.run_golden`. Only this
module runs the golden model: the generator never does.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import myhdl._bin
import myhdl._intbv
import numpy as np
from myhdl import StopSimulation, block, instance, traceSignals

from workbench.qnn.contract import Network
from workbench.errors import ConfigError, DatasetError
from workbench.qnn.golden import check_profiles, run_golden
from workbench.hw.interface import StreamDesign
from workbench.hw.top import TopDesign
from workbench.verify.beats import IDLE, drive_clocks, profile_clocks, unpack_lanes
from workbench.verify.int_processes import IntegerProcesses, use_integer_processes


def _fast_bin(num: Any, width: int = 0) -> str:
    """`myhdl._bin.bin` without its bit-by-bit Python loop: the same string for every integer.

    Positive numbers in plain binary, negative ones in their shortest two's complement (`-1` is
    `"1"`, `-5` is `"1011"`), sign-padded to `width` when given.
    """
    num = int(num)
    if num >= 0:
        text = format(num, "b")
    else:
        bits = (~num).bit_length() + 1
        text = format(num & ((1 << bits) - 1), "b")
    if width:
        return (width - len(text)) * ("1" if num < 0 else "0") + text
    return text


@contextmanager
def fast_intbv_bounds() -> Iterator[None]:
    """While simulating, let MyHDL's `intbv` size its `min`/`max` bounds with `_fast_bin`.

    `intbv(v, min=, max=)` (every `.signed()` read of a bus field builds one) measures both bounds
    with `len(bin(...))`, and MyHDL's `bin` loops over the bits in Python: that was about half of
    the simulation time. The replacement returns the same strings, so `intbv` gets the same widths;
    only `myhdl._intbv`'s own reference is swapped, for the duration of the run, and only when it
    is MyHDL's `bin` and the two agree on a sample of values (otherwise nothing is changed).
    """
    original = myhdl._intbv.bin
    samples = [0, 1, -1, 2, -2, 5, -5, 255, -256, (1 << 40) + 3, -(1 << 40) - 3]
    swap = original is myhdl._bin.bin and all(_fast_bin(v) == original(v) and _fast_bin(v, 48) == original(v, 48)
                                               for v in samples)
    if swap:
        myhdl._intbv.bin = _fast_bin
    try:
        yield
    finally:
        if swap:
            myhdl._intbv.bin = original


@dataclass
class SimRun:
    """What came out of the design, with the cycle of every beat (cycle 0 is the first after reset)."""

    scores: np.ndarray  # (N, L) int64
    found: np.ndarray  # (N,) bool
    pos: np.ndarray  # (N,) int64
    in_cycles: list[int]  # cycle of every input beat
    score_cycles: list[int]  # cycle of every score beat
    result_cycles: list[int]  # cycle of every result
    cycles: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cycles_per_profile(self) -> float:
        """Mean cycles between consecutive results (0 with fewer than two results)."""
        cycles = self.result_cycles
        return (cycles[-1] - cycles[0]) / (len(cycles) - 1) if len(cycles) > 1 else 0.0

    @property
    def cycles_per_second(self) -> float:
        """Simulated clock cycles per wall-clock second."""
        return self.cycles / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Comparison:
    """Hardware against golden: mismatch counts and how many values were compared."""

    score_mismatches: int
    result_mismatches: int
    scores_compared: int
    results_compared: int
    first_mismatch: str

    @property
    def mismatches(self) -> int:
        """All mismatching values (scores plus `(found, pos)` pairs)."""
        return self.score_mismatches + self.result_mismatches

    @property
    def compared(self) -> int:
        """All values compared."""
        return self.scores_compared + self.results_compared


def check_stream_input(design: StreamDesign, profiles: np.ndarray) -> np.ndarray:
    """The profiles as int64 `(N, L)` after checking shape, integers and the design's unsigned input range."""
    array = np.asarray(profiles)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ConfigError(f"profiles of shape {array.shape} and dtype {array.dtype} invalid; allowed a 2-D integer array")
    top = (1 << design.in_bits) - 1
    if array.size and (array.min() < 0 or array.max() > top):
        raise ConfigError(f"profile values {array.min()}..{array.max()} outside the {design.in_bits}-bit input "
                          f"range; allowed 0..{top}")
    return array.astype(np.int64)


def run_design(design: StreamDesign, profiles: np.ndarray, gap_probability: float = 0.0, seed: int = 0,
               vcd: str | Path | None = None, integer_processes: bool = True) -> SimRun:
    """Simulate the design on `profiles` and collect its score stream and results.

    The input stream is `workbench.verify.beats.profile_clocks`: back to back, or with 1-3 idle
    (all-zero) clocks before a beat with `gap_probability` (drawn from `seed`), as in the vector files.
    With `integer_processes` the design's processes run as their integer translations
    (`workbench.verify.int_processes`: the same signals every cycle, 14 times the clocks per second
    on the trained 4/4 design); without, as MyHDL runs their source. `extra` counts them
    (`integer_processes` translated, `myhdl_processes` left to MyHDL) and has the translation's
    `translate_seconds`; `seconds` times the simulation alone (not the elaboration, nor the translation).
    """
    array = check_profiles(design.network, profiles) if isinstance(design, TopDesign) else \
        check_stream_input(design, profiles)
    if array.shape[1] != design.profile_length:
        raise ValueError(f"profiles have length {array.shape[1]}, the design {design.profile_length}")
    n = array.shape[0]
    clocks = profile_clocks(array, design.lanes, design.in_bits, seed, gap_probability)
    clocks += [IDLE] * (design.result_latency + 2)
    signals = design.make_signals()
    record: dict[str, list] = {"scores": [], "score_cycles": [], "results": [], "result_cycles": []}

    def record_outputs(edge: int) -> None:
        cycle = edge + 1  # outputs of rising edge k are the hardware's cycle k + 1
        if signals["m_score_tvalid"]:
            record["scores"].append(int(signals["m_score_tdata"].val))
            record["score_cycles"].append(cycle)
        if signals["m_result_tvalid"]:
            record["results"].append((bool(signals["m_found"]), int(signals["m_pos"].val)))
            record["result_cycles"].append(cycle)
        if len(record["results"]) == n:
            raise StopSimulation

    @block
    def testbench() -> Any:
        dut = design.factory(**signals)

        @instance
        def drive() -> Any:
            yield from drive_clocks(signals["clk"], signals["rst"], signals["s_tvalid"], signals["s_tuser"],
                                    signals["s_tlast"], signals["s_tdata"], clocks, record_outputs)
            raise StopSimulation

        return dut, drive

    bench = testbench()
    start = time.perf_counter()
    translation = use_integer_processes(bench) if integer_processes else IntegerProcesses(0, ())
    translate_seconds = time.perf_counter() - start
    if vcd is not None:
        path = Path(vcd)
        bench.config_sim(trace=True, name=path.stem, directory=str(path.parent or "."))
    start = time.perf_counter()
    with fast_intbv_bounds():
        bench.run_sim(quiet=1)
    seconds = time.perf_counter() - start
    bench.quit_sim()
    traceSignals.name = None
    traceSignals.directory = None
    in_cycles = [cycle for cycle, clock in enumerate(clocks) if clock[0]]
    cycles = (record["result_cycles"][-1] + 1) if record["result_cycles"] else len(clocks)
    scores = unpack_lanes(record["scores"], design.lanes, design.score_bits).reshape(-1)
    results = record["results"]
    return SimRun(scores=_rows(scores, n, design.profile_length),
                  found=np.array([r[0] for r in results], dtype=bool),
                  pos=np.array([r[1] for r in results], dtype=np.int64),
                  in_cycles=in_cycles, score_cycles=record["score_cycles"], result_cycles=record["result_cycles"],
                  cycles=cycles, seconds=seconds,
                  extra={"integer_processes": translation.translated, "myhdl_processes": len(translation.kept),
                         "translate_seconds": translate_seconds})


def compare(design: TopDesign, profiles: np.ndarray, run: SimRun, reference: Network | None = None) -> Comparison:
    """Every score and every `(found, pos)` of the run against the golden model of `reference`
    (default: the design's own network; negative controls pass another one)."""
    golden = run_golden(reference or design.network, profiles)
    return compare_values(run, golden.scores, golden.found, golden.pos)


def compare_values(run: SimRun, scores: np.ndarray, found: np.ndarray, pos: np.ndarray) -> Comparison:
    """Every score and every `(found, pos)` of the run against expected values (a golden model's)."""
    n, length = scores.shape
    score_bad = int(np.sum(run.scores != scores)) if run.scores.shape == scores.shape else n * length
    got = run.found.shape == found.shape
    result_bad = int(np.sum((run.found != found) | (run.pos != pos))) if got else n
    first = ""
    if score_bad and run.scores.shape == scores.shape:
        i, j = np.argwhere(run.scores != scores)[0]
        first = f"score[{i}, {j}] = {run.scores[i, j]}, golden {scores[i, j]}"
    elif result_bad and got:
        i = int(np.argwhere((run.found != found) | (run.pos != pos))[0][0])
        first = f"profile {i}: (found, pos) = ({run.found[i]}, {run.pos[i]}), golden ({found[i]}, {pos[i]})"
    elif score_bad or result_bad:
        first = f"got {run.scores.shape} scores and {run.found.shape} results, expected {scores.shape}"
    return Comparison(score_bad, result_bad, int(min(run.scores.size, scores.size)),
                      int(min(run.found.size, found.size)), first)


def latencies(run: SimRun, beats_per_profile: int) -> tuple[list[int], list[int]]:
    """Per score beat, cycles from its input beat; per result, cycles from the profile's last input beat."""
    score = [out - inp for inp, out in zip(run.in_cycles, run.score_cycles)]
    last_beats = run.in_cycles[beats_per_profile - 1::beats_per_profile]
    result = [out - inp for inp, out in zip(last_beats, run.result_cycles)]
    return score, result


def _rows(values: np.ndarray, n: int, length: int) -> np.ndarray:
    if values.size != n * length:
        return values.reshape(1, -1)
    return values.reshape(n, length)


def load_profiles(network: Network, data: str | Path | None, preset: str | None, length: int, seed: int,
                  count: int) -> np.ndarray:
    """The first `count` profiles of a dataset `.npz` (its `profiles` array), or generated from a preset."""
    if count < 1:
        raise ConfigError(f"number of profiles {count!r}; allowed: at least 1")
    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise DatasetError(f"dataset {path} does not exist")
        try:
            with np.load(path) as archive:
                if "profiles" not in archive:
                    raise DatasetError(f"dataset {path} has no `profiles` array (has {sorted(archive.files)})")
                profiles = np.asarray(archive["profiles"][:count])
        except (OSError, ValueError) as exc:
            raise DatasetError(f"dataset {path} cannot be read: {exc}") from None
    else:
        from workbench.data import signals

        config = signals.preset(preset, length=length, bits=network.input_bits)
        profiles, _ = signals.generate(config, count, seed)
    if profiles.ndim != 2:
        raise DatasetError(f"profiles must be (N, L), got shape {profiles.shape}")
    return check_profiles(network, profiles.astype(np.int64))
