"""Cached tasks on Dask: the one task runner of sweeps and of run_all's study mode.

A task is any picklable object with a `key` (`task_key`: a hash of its settings and of the code
fingerprint of the module that defines its work). `run_tasks` runs a work function on the tasks whose
folder `tasks_dir/<key>/` is missing, on a `distributed.LocalCluster` or a given scheduler, and
returns every task's result row. A task works in a temporary `tasks_dir/.<key>.<random>.partial/`
(`workbench.files.atomic_folder`), renamed when its `result.json` is written, so a restart skips finished tasks and a killed one leaves nothing
that looks finished and is run again. Each task's work runs in a fresh Python interpreter
(`run_isolated`): a worker process keeps TensorFlow's runtime between tasks, and in the second lockbox
study QAT networks trained in a worker after other tasks differed from the same seed trained alone.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from workbench.errors import ConfigError, WorkbenchError
from workbench.files import atomic_folder, atomic_write_text

RESULT_FILE = "result.json"
PARTIAL_PATTERN = ".*.partial"  # the temporary folders of files.atomic_folder


class KeyedTask(Protocol):
    """What the runner needs of a task: the name of its folder."""

    @property
    def key(self) -> str: ...


Work = Callable[[Any, Path], dict[str, Any]]
"""`work(task, folder)` writes the task's files into `folder` and returns its JSON-ready result row."""


def task_key(settings: dict[str, Any], code: str) -> str:
    """SHA-256 (20 hex digits) of a task's settings and a code fingerprint."""
    text = json.dumps({"settings": settings, "code": code}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_isolated(work: Work, task: KeyedTask, folder: Path) -> dict[str, Any]:
    """`work(task, folder)` in a fresh Python interpreter (this module run as a program, this process's
    import path), so that nothing an earlier task left in this process can change the result; its row."""
    import cloudpickle

    with tempfile.TemporaryDirectory(prefix="task-") as tmp:
        call, row = Path(tmp) / "call.pkl", Path(tmp) / "row.json"
        call.write_bytes(cloudpickle.dumps((work, task, Path(folder))))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        status = subprocess.run([sys.executable, "-m", __name__, str(call), str(row)], env=env).returncode
        if status != 0:
            raise WorkbenchError(f"task {task.key}: its process exited with status {status} (its output is above)")
        return json.loads(row.read_text())


def run_task(task: KeyedTask, tasks_dir: Path, work: Work, isolate: bool = True) -> dict[str, Any]:
    """`work` on `task` into `tasks_dir/<key>/` unless it is there (in a fresh interpreter when `isolate`);
    its result row."""
    final = Path(tasks_dir) / task.key
    if (final / RESULT_FILE).is_file():
        return json.loads((final / RESULT_FILE).read_text())
    with atomic_folder(final) as partial:
        row = run_isolated(work, task, partial) if isolate else work(task, partial)
        atomic_write_text(partial / RESULT_FILE, json.dumps(row, indent=2))
    return json.loads((final / RESULT_FILE).read_text())


def local_cluster_settings(workers: int | None, tf_threads: int) -> dict[str, Any]:
    """LocalCluster arguments: one task per worker process, `workers * tf_threads` at most the cores, and
    the machine's memory shared between the workers."""
    import psutil

    cores = os.cpu_count() or 1
    count = workers or max(1, cores // tf_threads)
    return {"n_workers": count, "threads_per_worker": 1, "processes": True,
            "memory_limit": int(psutil.virtual_memory().total * 0.9 // count)}


def remove_partials(tasks_dir: Path) -> None:
    """Remove the folders of tasks killed mid-way (they run again)."""
    for partial in Path(tasks_dir).glob(PARTIAL_PATTERN):
        shutil.rmtree(partial, ignore_errors=True)


def missing_tasks(tasks: Sequence[KeyedTask], tasks_dir: Path) -> list[KeyedTask]:
    """The tasks without a finished folder."""
    return [task for task in tasks if not (Path(tasks_dir) / task.key / RESULT_FILE).is_file()]


def run_tasks(tasks: Sequence[KeyedTask], tasks_dir: Path, work: Work, *, scheduler: str | None = None,
              workers: int | None = None, tf_threads: int = 1, progress: bool = True,
              label: str = "tasks", isolate: bool = True) -> tuple[list[dict[str, Any]], int]:
    """Run the missing tasks on Dask (a LocalCluster unless `scheduler` is given; each failed task retried
    twice; each in a fresh interpreter unless `isolate` is False) and return every task's result row, in task
    order, and how many were computed now. `work` must pickle (a module-level function, or a
    `functools.partial` of one)."""
    from distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    if tf_threads < 1 or (workers is not None and workers < 1):
        raise ConfigError(f"workers {workers!r} and tf_threads {tf_threads!r}: need integers >= 1")
    tasks_dir = Path(tasks_dir)
    tasks_dir.mkdir(parents=True, exist_ok=True)
    remove_partials(tasks_dir)  # left by tasks killed in an earlier run
    missing = missing_tasks(tasks, tasks_dir)
    if missing:
        cluster = None if scheduler else LocalCluster(**local_cluster_settings(workers, tf_threads))
        try:
            with Client(scheduler or cluster) as client:
                futures = [client.submit(run_task, task, tasks_dir.resolve(), work, isolate,
                                         key=f"{label}-{task.key}", retries=2) for task in missing]
                for future in tqdm(as_completed(futures), total=len(futures), desc=label, unit="task",
                                   disable=not progress):
                    future.result()
        finally:
            if cluster is not None:
                cluster.close()
        remove_partials(tasks_dir)  # left by tasks whose worker died; they ran again
    return [run_task(task, tasks_dir, work) for task in tasks], len(missing)  # all finished now: reads


def _run_pickled_call(call: Path, row: Path) -> None:
    """The program side of `run_isolated`: load `(work, task, folder)` from `call`, write the row to `row`."""
    import pickle

    work, task, folder = pickle.loads(Path(call).read_bytes())
    Path(row).write_text(json.dumps(work(task, folder)))


if __name__ == "__main__":
    _run_pickled_call(*map(Path, sys.argv[1:3]))
