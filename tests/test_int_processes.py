"""The integer translation of the generated processes against MyHDL running their source: the same
score and result streams on random networks, every signal of every cycle the same, MyHDL's bound
errors kept, and untranslatable processes left to MyHDL."""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from myhdl import ResetSignal, Signal, block

from hw_bench import run_stream_block
from test_hw_top import changed_by_one, stress_profiles
from workbench.hw.codegen import Emitter, render
from workbench.hw.requant import uses_thresholds
from workbench.hw.stream import Fmt, new_stream
from workbench.hw.top import build_top
from workbench.qnn.contract import RequantLayer, load_network
from workbench.qnn.randnet import random_document
from workbench.verify.harness import compare, run_design
from workbench.verify.int_processes import processes, use_integer_processes

STREAMS = ("scores", "found", "pos", "in_cycles", "score_cycles", "result_cycles")

# (network seed, lanes, length, pipeline stages, arithmetic, threshold bits, refine, extreme weights); the
# seeds give networks of 2-3 weight layers whose scores the negative control's weight change does move
CONFIGS = [(1, 1, 16, 1, "trees", 2, "parabolic", False), (1, 2, 16, 2, "shared", 0, "centroid", False),
           (9, 4, 32, 3, "trees", 0, "none", True), (7, 3, 12, 2, "shared", 2, "parabolic", False)]


def _streams(run) -> dict[str, Any]:
    return {name: np.asarray(getattr(run, name)).tolist() for name in STREAMS}


@pytest.mark.parametrize("seed", range(len(CONFIGS)))
def test_integer_processes_give_the_source_processes_streams(seed):
    network_seed, lanes, length, stages, arithmetic, threshold_bits, refine, extreme = CONFIGS[seed]
    document = random_document(np.random.default_rng(network_seed), max_channels=3, refine=refine,
                               extreme_weights=extreme)
    network = load_network(document)
    design = build_top(network, lanes, length, pipeline_stages=stages, arithmetic=arithmetic,
                       threshold_bits=threshold_bits)
    profiles = stress_profiles(np.random.default_rng(seed), 6, length, network.input_bits)
    fast = run_design(design, profiles, gap_probability=0.3, seed=seed)
    source = run_design(design, profiles, gap_probability=0.3, seed=seed, integer_processes=False)
    assert fast.extra["integer_processes"] >= 5 and fast.extra["myhdl_processes"] == 0
    assert source.extra["integer_processes"] == 0
    assert _streams(fast) == _streams(source) and fast.cycles == source.cycles
    assert (fast.scores.size, fast.found.size, len(fast.score_cycles)) == (6 * length, 6, 6 * length // lanes)
    assert compare(design, profiles, fast).mismatches == 0
    # negative control: one weight changed, integer processes; the source processes of the unchanged network differ
    broken = build_top(changed_by_one(document, np.random.default_rng(seed), "weight", profiles), lanes, length,
                       pipeline_stages=stages, arithmetic=arithmetic, threshold_bits=threshold_bits)
    changed = run_design(broken, profiles, gap_probability=0.3, seed=seed)
    assert changed.scores.shape == source.scores.shape
    assert np.sum(changed.scores != source.scores) > 8


def test_a_long_threshold_chain_translates_flat():
    """Requantizers of 7 and 8 unsigned bits as comparisons: 127- and 255-branch `if`/`elif` chains
    (written as nested `else: if`, they passed Python's indentation limit and did not compile)."""
    rng = np.random.default_rng(8)
    network = load_network(random_document(rng, max_channels=2, kernel_sizes=(1, 3), bits=(7, 8)))
    design = build_top(network, 2, 16, pipeline_stages=2, threshold_bits=8)
    assert sorted(layer.bits for layer in network.layers if isinstance(layer, RequantLayer)
                  and uses_thresholds(layer, 8)) == [7, 8]
    profiles = rng.integers(0, network.input_range[1] + 1, size=(4, 16))
    fast = run_design(design, profiles, gap_probability=0.2, seed=1)
    source = run_design(design, profiles, gap_probability=0.2, seed=1, integer_processes=False)
    assert fast.extra["myhdl_processes"] == 0 and fast.extra["integer_processes"] >= 5
    assert _streams(fast) == _streams(source) and fast.scores.size == 64
    assert compare(design, profiles, fast).mismatches == 0


def _trace(path: Path) -> list[str]:
    """A VCD file's variable declarations and value changes (not its date and top scope names)."""
    lines = path.read_text().splitlines()
    changes = lines[lines.index("$enddefinitions $end"):]
    return [line for line in lines if "$var" in line] + changes


def test_every_signal_changes_identically_in_every_cycle(tmp_path):
    network = load_network(random_document(np.random.default_rng(3), max_channels=3, refine="centroid"))
    design = build_top(network, 2, 16, pipeline_stages=2, arithmetic="shared")
    profiles = stress_profiles(np.random.default_rng(0), 3, 16, network.input_bits)
    run_design(design, profiles, gap_probability=0.3, seed=1, vcd=tmp_path / "fast.vcd")
    run_design(design, profiles, gap_probability=0.3, seed=1, vcd=tmp_path / "source.vcd", integer_processes=False)
    fast, source = _trace(tmp_path / "fast.vcd"), _trace(tmp_path / "source.vcd")
    assert fast == source
    assert sum("$var" in line for line in fast) > 200 and sum(line.startswith("#") for line in fast) > 150
    other = _trace_of_changed(network, design, profiles, tmp_path)  # negative control: other stimulus
    assert other != source


def _trace_of_changed(network, design, profiles, folder: Path) -> list[str]:
    run_design(design, profiles[::-1].copy(), gap_probability=0.3, seed=1, vcd=folder / "other.vcd")
    return _trace(folder / "other.vcd")


def _one_process_block(lines: list[str], var: tuple[int, int] | None = None, bits: int | None = None):
    """A registered block `din` (8 bits) -> `dout` (8 bits) running `lines`, with a signed variable `v`
    covering `var` and an unsigned one `pk` of `bits` bits."""
    inp = new_stream([Fmt(0, 255, raw=True)], 1)
    out = new_stream([Fmt(0, 255, raw=True)], 1)

    @block
    def unit(clk, rst, inp, out):
        e = Emitter()
        if var is not None:
            e.var("v", *var)
        if bits is not None:
            e.bits("pk", bits)
        for line in lines:
            e.line(line)
        e.line("dout_valid.next = din_valid")
        ports = {"clk": clk, "rst": rst, "din": inp.data, "din_valid": inp.valid, "dout": out.data,
                 "dout_valid": out.valid}
        return render("unit_logic", e, ports)()

    return partial(unit, inp=inp, out=out), inp, out


def _run(lines: list[str], words: list[int], integer: bool, **sizes) -> list[int]:
    make, inp, out = _one_process_block(lines, **sizes)
    return run_stream_block(make, inp, out, words, [True] * len(words), [True] * len(words), drain=4,
                            integer_processes=integer)


@pytest.mark.parametrize("lines, sizes, message", [
    (["v[:] = din + 5", "dout.next = v[4:]"], {"var": (-8, 7)}, "intbv value 8 >= maximum 8"),
    (["v[:] = 2 - din", "dout.next = v[4:]"], {"var": (-8, 7)}, "intbv value -9 < minimum -8"),
    (["pk[:] = 0", "pk[4:0] = din", "dout.next = pk"], {"bits": 6}, "abs(v) too large"),
    (["pk[:] = din", "dout.next = pk"], {"bits": 2}, "intbv value 4 >= maximum 4"),
    (["dout.next = din + 250"], {}, "intbv value 256 >= maximum 256"),
])
def test_bound_errors_are_myhdls(lines, sizes, message):
    words = list(range(1, 20))
    for integer in (False, True):
        with pytest.raises(ValueError, match=re.escape(message)):
            _run(lines, words, integer, **sizes)
    safe = _run(lines, [0], True, **sizes)  # the same block on a value that fits runs
    assert safe == _run(lines, [0], False, **sizes) and len(safe) == 1


def test_an_untranslatable_process_stays_on_myhdl():
    lines = ["pk[:] = ~din", "dout.next = pk"]  # `~` is not in the translated subset
    make, _, _ = _one_process_block(lines, bits=8)
    instance = make(Signal(bool(0)), ResetSignal(0, active=1, isasync=False))
    report = use_integer_processes(instance)
    assert report.translated == 0 and len(report.kept) == 1 and "operator" in report.kept[0]
    assert len(list(processes(instance))) == 1
    words = [0, 5, 255, 17]
    assert _run(lines, words, True, bits=8) == _run(lines, words, False, bits=8) == [255, 250, 0, 238]
