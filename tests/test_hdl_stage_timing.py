"""The hdl stage's step log (issue 14, part 4): the lines `experiments/compare_hdl_stage.py` sums as issue
13's additions are the ones the stage writes, and only those."""
from __future__ import annotations

import logging
import time
from types import SimpleNamespace

from experiments import compare_hdl_stage as compare
from experiments.stages import hdl as stage


def test_addition_steps_are_the_ones_the_comparison_sums(caplog):
    ctx = SimpleNamespace(log=logging.getLogger("hdl-stage-timing-test"))
    with caplog.at_level(logging.INFO, logger=ctx.log.name):
        with stage._step(ctx, "convert qat_4-4 P=4"):
            pass
        for label in ("addition postsynth qat_4-4", "addition classical"):
            with stage._step(ctx, label):
                time.sleep(0.05)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3 and lines[0].startswith("hdl step convert qat_4-4 P=4: ")
    found = [float(s) for s in compare.ADDITION.findall("\n".join(lines))]
    assert len(found) == 2 and all(s >= 0.05 for s in found)  # the two additions, not the conversion
    assert compare.ADDITION.findall("hdl step convert qat_4-4 P=1: 12.0 s") == []


def test_a_failing_step_is_still_logged(caplog):
    ctx = SimpleNamespace(log=logging.getLogger("hdl-stage-timing-test"))
    with caplog.at_level(logging.INFO, logger=ctx.log.name):
        try:
            with stage._step(ctx, "addition classical"):
                raise RuntimeError("a testbench failed")
        except RuntimeError:
            pass
    assert [m.split(":")[0] for m in caplog.messages] == ["hdl step addition classical"]
