"""The hdl stage of two commits side by side (issue 14, part 4): same machine, one sitting, each commit
from its own fresh copy and stage cache, the hdl stage's cold seconds in interleaved rounds (old, new,
old, new, ...).

    python experiments/compare_hdl_stage.py [--old afc32cf] [--new HEAD] [--rounds 2] [--scratch DIR]

Each commit is exported (`git archive`) into the scratch folder and its quick run prepares what the hdl
stage depends on (datasets, training and a first hdl stage; not timed). Every round then deletes that
copy's hdl stage cache and its Yosys cache (`data/cache/yosys`, inside the copy) and reruns
`run_all.py --quick --stages hdl`: a cold hdl stage, the rest cached. Printed per round and commit: the
hdl stage's seconds (its `stage.json`) and the sum of the steps the stage logs as `hdl step addition ...`
(the other issues' additions, budgeted apart: the post-synthesis simulation, the classical detector
`br8_int` and the hybrids, which run after the networks' part); at the end the medians and (new - additions) / old.
The logs and `seconds.csv` stay in the scratch folder. The copies run with this script's Python.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDITION = re.compile(r"hdl step addition [^:\n]*: ([0-9.]+) s")


def export(rev: str, folder: Path) -> str:
    """Write the files of commit `rev` into `folder`; returns its short hash."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder)
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True,
                          check=True).stdout.strip()


def run_hdl(copy: Path, log: Path) -> None:
    """The quick run up to the hdl stage in `copy`, its own stage cache, the output into `log`."""
    with log.open("w") as handle:
        done = subprocess.run([sys.executable, "experiments/run_all.py", "--quick", "--stages", "hdl",
                               "--cache", str(copy / "stages"), "--out", str(copy / "out")], cwd=copy,
                              env={**os.environ, "PYTHONPATH": str(copy)}, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"the run in {copy} failed (exit {done.returncode}); see {log}")


def cold_hdl(copy: Path, log: Path) -> tuple[float, float]:
    """A cold hdl stage in `copy`: (its seconds, the seconds of its addition steps)."""
    shutil.rmtree(copy / "stages" / "hdl", ignore_errors=True)
    shutil.rmtree(copy / "data" / "cache" / "yosys", ignore_errors=True)
    run_hdl(copy, log)
    (stage,) = (copy / "stages" / "hdl").glob("*/stage.json")
    return json.loads(stage.read_text())["seconds"], sum(map(float, ADDITION.findall(log.read_text())))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="afc32cf", help="the commit of 'today' (default: afc32cf)")
    parser.add_argument("--new", default="HEAD", help="the commit to compare (default: HEAD)")
    parser.add_argument("--rounds", type=int, default=2, help="timed cold hdl stages per commit (default: 2)")
    parser.add_argument("--scratch", type=Path, default=None, help="work folder (default: a new one in /tmp)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: at least 1")
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="hdl-side-by-side-"))
    copies = {"old": scratch / "old", "new": scratch / "new"}
    hashes = {}
    for name, copy in copies.items():
        copy.mkdir(parents=True, exist_ok=False)
        hashes[name] = export(getattr(args, name), copy)
    print(f"old {args.old} ({hashes['old']}), new {args.new} ({hashes['new']}), {args.rounds} rounds, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, scratch {scratch}", flush=True)
    for name, copy in copies.items():
        print(f"preparing {name} (datasets, training, a first hdl stage; not timed) ...", flush=True)
        run_hdl(copy, copy / "prepare.log")
    rows = []
    for round_ in range(1, args.rounds + 1):
        for name, copy in copies.items():
            seconds, added = cold_hdl(copy, copy / f"round{round_}.log")
            rows.append({"round": round_, "commit": name, "hdl_seconds": seconds, "addition_seconds": round(added, 1),
                         "load": round(os.getloadavg()[0], 1)})
            print(f"round {round_} {name}: hdl stage {seconds:.1f} s, of which the other issues' additions {added:.1f} s "
                  f"(load {rows[-1]['load']})", flush=True)
    with (scratch / "seconds.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def median(commit: str, column: str) -> float:
        return statistics.median(row[column] for row in rows if row["commit"] == commit)

    old, new, added = median("old", "hdl_seconds"), median("new", "hdl_seconds"), median("new", "addition_seconds")
    print(f"medians: old hdl stage {old:.1f} s; new {new:.1f} s, of which the other issues' additions {added:.1f} s; "
          f"new without them {new - added:.1f} s = {(new - added) / old:.2f} x old (goal: at most 0.50)")


if __name__ == "__main__":
    main()
