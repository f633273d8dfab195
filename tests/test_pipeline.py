"""The run_all stage cache: reuse, invalidation downstream, resumption after a failure."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.pipeline.stages import RunConfig, Stage, assemble_results, order_stages, run_stages

CALLS: list[str] = []


def _writer(text: str):
    def run(ctx) -> None:
        CALLS.append(ctx.name)
        upstream = "".join((path / "out.txt").read_text() for path in ctx.deps.values())
        (ctx.out / "out.txt").write_text(upstream + text + str(ctx.settings.get("n", "")))
    return run


def _fail(ctx) -> None:
    (ctx.out / "half.txt").write_text("partial")
    raise RuntimeError("interrupted")


def _stages(n: int = 1) -> list[Stage]:
    return [Stage("a", _writer("A"), settings={"quick": {"n": n}}),
            Stage("b", _writer("B"), depends=("a",)),
            Stage("c", _writer("C")),
            Stage("report", _writer("R"), always=True, sees_all=True)]


def _run(stages, cache: Path) -> dict[str, Path]:
    CALLS.clear()
    return run_stages(stages, RunConfig("quick", 1), cache, logging.getLogger("test"))


def test_second_run_reuses_everything_but_the_always_stage(tmp_path):
    first = _run(_stages(), tmp_path)
    assert CALLS == ["a", "b", "c", "report"]
    assert (first["b"] / "out.txt").read_text() == "A1B"
    assert (first["report"] / "out.txt").read_text() == "A1A1BCR"
    second = _run(_stages(), tmp_path)
    assert CALLS == ["report"]
    assert second["b"] == first["b"]


def test_changed_settings_rerun_the_stage_and_what_depends_on_it(tmp_path):
    _run(_stages(1), tmp_path)
    outputs = _run(_stages(2), tmp_path)
    assert CALLS == ["a", "b", "report"]
    assert (outputs["b"] / "out.txt").read_text() == "A2B"


def test_failed_stage_leaves_no_output_and_the_next_run_resumes(tmp_path):
    stages = _stages()
    broken = stages[:1] + [Stage("b", _fail, depends=("a",))]
    with pytest.raises(RuntimeError):
        _run(broken, tmp_path)
    assert not any(p.is_dir() and not p.name.startswith(".") for p in (tmp_path / "b").iterdir())
    _run(stages, tmp_path)
    assert CALLS == ["b", "c", "report"]  # a was kept


def test_order_pulls_dependencies_and_the_report(tmp_path):
    names = [s.name for s in order_stages(_stages(), ["b"])]
    assert names == ["a", "b", "report"]
    with pytest.raises(ConfigError, match="unknown stage.*'zz'"):
        order_stages(_stages(), ["zz"])


def test_assemble_copies_every_stage_file(tmp_path):
    outputs = _run(_stages(), tmp_path / "cache")
    assemble_results(outputs, tmp_path / "results")
    assert (tmp_path / "results" / "out.txt").read_text() == "A1A1BCR"  # the last stage wins
    assert sorted(p.name for p in (tmp_path / "results" / "stages").iterdir()) == \
        ["a.json", "b.json", "c.json", "report.json"]
