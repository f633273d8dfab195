"""Cached, resumable stages for `experiments/run_all.py`.

A stage is a function that writes files into its own output folder. Its cache key hashes the
stage's name, its configuration section, the code it reaches through its imports
(`workbench.pipeline.code_key`: project sources, templates, versions of the packages it uses) and the keys
of the stages it depends on, so a changed config or code version reruns that stage and everything
downstream of it, nothing else. Outputs go to `<cache>/<stage>/<key>/`, written into a temporary
folder and renamed when the stage finishes: an interrupted run resumes at the stage it stopped in.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.pipeline.code_key import code_fingerprint
from workbench.errors import ConfigError


@dataclass(frozen=True)
class RunConfig:
    """The run's mode ("quick", "study" or "full"), base seed, and whether its test sets come from the lockbox
    seeds (final studies only; `docs/yardstick.md`)."""

    mode: str
    seed: int
    lockbox: bool = False


@dataclass
class StageContext:
    """What a running stage sees: its output folder, its dependencies' folders, config and log."""

    name: str
    out: Path
    deps: dict[str, Path]
    config: RunConfig
    settings: dict[str, Any]
    log: logging.Logger
    cache_root: Path

    def dep(self, name: str) -> Path:
        """Output folder of a dependency stage."""
        try:
            return self.deps[name]
        except KeyError:
            raise ConfigError(f"stage {self.name!r} did not declare dependency {name!r}") from None


@dataclass(frozen=True)
class Stage:
    """A named step: `run(ctx)` writes its files into `ctx.out`."""

    name: str
    run: Callable[[StageContext], None]
    depends: tuple[str, ...] = ()
    always: bool = False  # rerun every time (cheap stages such as the report)
    sees_all: bool = False  # its context holds every stage run before it (the report)
    description: str = ""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # per mode, hashed into the key

    def settings_for(self, mode: str) -> dict[str, Any]:
        """This stage's settings in a mode (empty when it has none)."""
        return dict(self.settings.get(mode, {}))


def stage_key(stage: Stage, config: RunConfig, dep_keys: dict[str, str]) -> str:
    """Cache key of a stage given its config section and the keys of its dependencies."""
    payload = {
        "stage": stage.name,
        "mode": config.mode,
        "seed": config.seed,
        "lockbox": config.lockbox,
        "settings": stage.settings_for(config.mode),
        "code": code_fingerprint(stage.run.__module__),
        "deps": dep_keys if stage.sees_all else {name: dep_keys[name] for name in stage.depends},
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def order_stages(stages: list[Stage], selected: list[str] | None) -> list[Stage]:
    """The selected stages plus everything they depend on, in declaration order.

    Stages that see all others (the report) always run, after the rest.
    """
    by_name = {stage.name: stage for stage in stages}
    if selected is None:
        return list(stages)
    unknown = [name for name in selected if name not in by_name]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; available: {list(by_name)}")
    needed: set[str] = set()

    def visit(name: str) -> None:
        if name in needed:
            return
        needed.add(name)
        for dep in by_name[name].depends:
            visit(dep)

    for name in selected:
        visit(name)
    needed.update(stage.name for stage in stages if stage.sees_all)
    return [stage for stage in stages if stage.name in needed]


def run_stages(stages: list[Stage], config: RunConfig, cache_root: Path,
               log: logging.Logger) -> dict[str, Path]:
    """Run (or reuse) each stage in order; returns each stage's output folder."""
    outputs: dict[str, Path] = {}
    keys: dict[str, str] = {}
    for stage in stages:
        depends = tuple(outputs) if stage.sees_all else stage.depends
        missing = [dep for dep in depends if dep not in outputs]
        if missing:
            raise ConfigError(f"stage {stage.name!r} needs {missing}, which come later or are absent")
        key = stage_key(stage, config, keys)
        keys[stage.name] = key
        final = cache_root / stage.name / key
        if final.is_dir() and not stage.always:
            log.info("stage %-12s cached (%s)", stage.name, key)
            outputs[stage.name] = final
            continue
        tmp = cache_root / stage.name / f".{key}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        log.info("stage %-12s running (%s) %s", stage.name, key, stage.description)
        start = time.perf_counter()
        ctx = StageContext(stage.name, tmp, {d: outputs[d] for d in depends}, config,
                           stage.settings_for(config.mode), log, cache_root)
        stage.run(ctx)
        elapsed = time.perf_counter() - start
        (tmp / "stage.json").write_text(json.dumps(
            {"stage": stage.name, "key": key, "seconds": round(elapsed, 2)}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        log.info("stage %-12s done in %.1f s", stage.name, elapsed)
        outputs[stage.name] = final
    return outputs


def assemble_results(outputs: dict[str, Path], out: Path) -> None:
    """Copy every stage's files into the results folder (later stages win on equal names)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, folder in outputs.items():
        for file in sorted(folder.rglob("*")):
            if file.is_file() and file.name != "stage.json":
                target = out / file.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target)
        shutil.copy2(folder / "stage.json", _stage_record(out, name))


def _stage_record(out: Path, name: str) -> Path:
    path = out / "stages" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
