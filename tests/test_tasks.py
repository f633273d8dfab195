"""The cached task runner: each task's work in a fresh interpreter, failures named, finished tasks reused."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from workbench.errors import WorkbenchError
from workbench.pipeline import tasks

_STATE: list[str] = []  # what earlier tasks left in a process


@dataclasses.dataclass(frozen=True)
class _Task:
    key: str


def _remember(task: _Task, folder: Path) -> dict:
    """A work that shows its process: the pid and what earlier calls in the same process left behind."""
    seen = list(_STATE)
    _STATE.append(task.key)
    (folder / "out.txt").write_text(task.key)
    return {"key": task.key, "pid": os.getpid(), "seen": seen}


def _fail(task: _Task, folder: Path) -> dict:
    raise RuntimeError(f"work of {task.key} failed")


def test_each_task_runs_in_its_own_fresh_process_and_is_then_read_from_its_folder(tmp_path):
    work = [_Task(f"t{i}") for i in range(3)]
    rows, computed = tasks.run_tasks(work, tmp_path, _remember, workers=1, progress=False)
    assert computed == 3 and [row["key"] for row in rows] == ["t0", "t1", "t2"]
    assert [row["seen"] for row in rows] == [[], [], []]  # no task saw another's state
    assert len({row["pid"] for row in rows} | {os.getpid()}) == 4  # three processes, none of them this one
    assert (tmp_path / "t1" / "out.txt").read_text() == "t1"
    again, computed = tasks.run_tasks(work, tmp_path, _fail, workers=1, progress=False)
    assert computed == 0 and again == rows  # finished tasks are read, never run again


def test_without_isolation_tasks_share_the_process(tmp_path):
    """The negative control: run in this process, the second call sees the first's state."""
    _STATE.clear()
    rows = [tasks.run_task(_Task(f"s{i}"), tmp_path, _remember, isolate=False) for i in range(2)]
    assert rows[1]["seen"] == ["s0"] and rows[0]["pid"] == rows[1]["pid"] == os.getpid()


def test_a_failing_task_names_its_key_and_leaves_no_finished_folder(tmp_path):
    with pytest.raises(WorkbenchError, match="task bad: its process exited with status 1"):
        tasks.run_task(_Task("bad"), tmp_path, _fail)
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(tasks.PARTIAL_PATTERN))
