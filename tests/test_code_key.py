"""Stage cache keys follow the imports: an indirect change reruns a stage, an unrelated one does not."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from workbench.pipeline import code_key
from workbench.pipeline.stages import RunConfig, Stage, run_stages

# A tiny project: the stage imports `workbench.a` inside its run function, `a` imports `b` with a
# relative import inside a function, `b` imports `c` and numpy; `unrelated` is imported by no one.
TREE = {
    "workbench/__init__.py": "",
    "workbench/a.py": "def f():\n    from . import b\n    return b.g()\n",
    "workbench/b.py": "import numpy\nfrom workbench.c import VALUE\n\ndef g():\n    return VALUE\n",
    "workbench/c.py": "VALUE = 1\n",
    "workbench/template.txt": "{x}\n",
    "workbench/templates/tb.v.tmpl": "module ${top};\n",
    "workbench/unreached/__init__.py": "",
    "workbench/unreached/data.txt": "1\n",
    "workbench/unrelated.py": "OTHER = 1\n",
    "experiments/__init__.py": "",
    "experiments/stages/__init__.py": "",
    "experiments/stages/fake.py": "def run(ctx):\n    from workbench.a import f\n    return f()\n",
}
START = "experiments.stages.fake"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in TREE.items():
        path = tmp_path / "project" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "project"


def test_closure_follows_imports_inside_functions_and_relative_ones(project):
    modules, external = code_key.import_closure(START, project)
    assert modules == ("experiments", "experiments.stages", "experiments.stages.fake",
                       "workbench", "workbench.a", "workbench.b", "workbench.c")
    assert external == ("numpy",)


@pytest.mark.parametrize("changed, reruns", [("workbench/c.py", True), ("workbench/template.txt", True),
                                             ("workbench/templates/tb.v.tmpl", True),
                                             ("workbench/unrelated.py", False),
                                             ("workbench/unreached/data.txt", False)])
def test_fingerprint_changes_only_with_reached_code(project, changed, reruns):
    before = code_key.code_fingerprint(START, project)
    (project / changed).write_text((project / changed).read_text() + "# edited\n")
    assert (code_key.code_fingerprint(START, project) != before) == reruns


def test_package_versions_enter_the_fingerprint(project, monkeypatch):
    before = code_key.code_fingerprint(START, project)
    monkeypatch.setattr(code_key, "distribution_versions", lambda names: {"numpy": "0.0.0"})
    assert code_key.code_fingerprint(START, project) != before


def test_a_stage_reruns_after_an_indirect_change_and_not_after_an_unrelated_one(project, tmp_path, monkeypatch):
    monkeypatch.setattr(code_key, "ROOT", project)
    calls: list[str] = []

    def run(ctx) -> None:
        calls.append(ctx.name)

    run.__module__ = START  # the stage's code is the tiny project's stage module
    stages = [Stage("fake", run)]

    def run_once() -> None:
        run_stages(stages, RunConfig("quick", 1), tmp_path / "cache", logging.getLogger("test"))

    run_once()
    (project / "workbench/unrelated.py").write_text("OTHER = 2\n")
    run_once()
    assert calls == ["fake"]  # unrelated edit: cached
    (project / "workbench/c.py").write_text("VALUE = 2\n")
    run_once()
    assert calls == ["fake", "fake"]  # reached only through a -> b -> c: reruns


@pytest.mark.parametrize("stage, needed", [
    ("training", {"workbench.detectors.interface", "workbench.data.datasets", "workbench.evaluation.metrics"}),
    ("myhdl", {"workbench.data.datasets", "workbench.evaluation.tables"}),
    ("hdl", {"workbench.evaluation.tables"}),
])
def test_real_stages_reach_the_modules_the_hand_kept_lists_missed(stage, needed):
    modules, _ = code_key.import_closure(f"experiments.stages.{stage}")
    assert needed <= set(modules)


def test_the_hdl_stage_covers_the_testbench_templates():
    modules, _ = code_key.import_closure("experiments.stages.hdl")
    files = {path.relative_to(code_key.ROOT).as_posix() for path in code_key._files_of(modules, code_key.ROOT)}
    assert {"workbench/verify/templates/tb.vhd.tmpl", "workbench/verify/templates/tb.v.tmpl"} <= files
    assert not [name for name in files if "__pycache__" in name]
