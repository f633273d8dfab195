"""The code a run_all stage depends on, found by following its imports.

A stage's cache key must change whenever any code it runs changes. Hand-kept module lists drift
from the imports, so the list is computed: starting at the stage's module, every `import` and
`from ... import` statement anywhere in the file (inside functions too) is followed through the
project's own packages (`workbench`, `experiments`), transitively. The fingerprint hashes the
source of every module reached, the package `__init__` files that importing it runs, the data
files beside those modules and in their non-package subfolders (`templates/`), and the installed
versions of the third-party distributions the reached code imports.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import sys
from pathlib import Path

PROJECT_PACKAGES = ("workbench", "experiments")
ROOT = Path(__file__).resolve().parents[2]
_IGNORED_SUFFIXES = {".pyc", ".pyo"}


def module_path(name: str, root: Path | None = None) -> Path | None:
    """Source file of a project module (`a.b` -> `a/b.py` or `a/b/__init__.py`), or None."""
    base = (root or ROOT).joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement of the file names (candidates; not all exist)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def import_closure(start: str, root: Path | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(project modules, third-party top-level names) reached from module `start`, sorted."""
    seen: set[str] = set()
    external: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        for candidate in _with_parents(name):
            if candidate in seen:
                continue
            path = module_path(candidate, root)
            if path is None:
                continue
            seen.add(candidate)
            for imported in _imported_names(path, candidate):
                top = imported.split(".")[0]
                if top in PROJECT_PACKAGES:
                    todo.append(imported)
                elif top and top not in sys.stdlib_module_names:
                    external.add(top)
    return tuple(sorted(seen)), tuple(sorted(external))


def distribution_versions(top_level_names: tuple[str, ...]) -> dict[str, str]:
    """Installed version of the distribution behind each top-level import name that has one."""
    owners = importlib.metadata.packages_distributions()
    versions = {}
    for name in top_level_names:
        for dist in owners.get(name, ()):
            versions[dist] = importlib.metadata.version(dist)
    return dict(sorted(versions.items()))


def _data_files(folder: Path) -> set[Path]:
    """Non-Python files in `folder` and, recursively, in its subfolders that are not packages
    (package data such as `templates/`); a subpackage counts only when its modules are reached."""
    files: set[Path] = set()
    for path in folder.iterdir():
        if path.is_file() and path.suffix not in _IGNORED_SUFFIXES and path.suffix != ".py":
            files.add(path)
        elif path.is_dir() and path.name != "__pycache__" and not (path / "__init__.py").is_file():
            files.update(_data_files(path))
    return files


def _files_of(modules: tuple[str, ...], root: Path) -> list[Path]:
    """The modules' sources plus the package data beside them (templates), sorted."""
    files = {module_path(name, root) for name in modules}
    for folder in {path.parent for path in files}:
        files.update(_data_files(folder))
    return sorted(files)


def code_fingerprint(start: str, root: Path | None = None) -> str:
    """SHA-256 over the code reached from module `start` and the versions of what it imports."""
    root = root or ROOT
    modules, external = import_closure(start, root)
    digest = hashlib.sha256()
    for path in _files_of(modules, root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for dist, version in distribution_versions(external).items():
        digest.update(f"{dist}=={version}\0".encode())
    return digest.hexdigest()
