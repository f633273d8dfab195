"""The package layout's rules: TensorFlow only in `workbench.nn`, the hardware generator apart from the golden model."""
from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

from workbench.pipeline.code_key import import_closure

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"
HEAVY = ("tensorflow", "keras", "ai_edge_litert")


def _modules(exclude: str | None = None) -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if exclude is None or parts[1:2] != (exclude,):
            names.append(".".join(parts))
    return names


def test_no_module_outside_nn_imports_tensorflow_or_keras_when_imported():
    modules = _modules(exclude="nn")
    assert len(modules) > 30
    script = ("import importlib, json, sys\n"
              f"for name in {modules!r}:\n    importlib.import_module(name)\n"
              f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_the_import_check_sees_a_module_of_nn_load_tensorflow():
    """Negative control: importing a module of `workbench.nn` does load Keras in the same check."""
    script = ("import json, sys\nimport workbench.nn.qlayers\n"
              f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent)
    assert "keras" in json.loads(result.stdout.strip().splitlines()[-1])


def test_hardware_generator_does_not_reach_the_golden_model():
    hw_modules = [name for name in _modules() if name.startswith("workbench.hw")]
    assert len(hw_modules) >= 8
    for name in hw_modules:
        reached, _ = import_closure(name)
        assert "workbench.qnn.golden" not in reached, f"{name} reaches the golden model"
    reached, _ = import_closure("workbench.verify.harness")  # the verification side does (control)
    assert "workbench.qnn.golden" in reached


def test_default_folders_lie_in_the_repository_data_folder_not_in_the_package():
    from workbench.data.datasets import DEFAULT_DATA_DIR
    from workbench.hdl.synth import DEFAULT_CACHE

    data = PACKAGE.parent / "data"
    assert DEFAULT_DATA_DIR == data / "datasets"
    assert DEFAULT_CACHE == data / "cache" / "yosys"


def _package_data_globs() -> dict[str, list[str]]:
    """`[options.package_data]` of setup.cfg: package -> file patterns."""
    parser = configparser.ConfigParser()
    parser.read(PACKAGE.parent / "setup.cfg")
    section = parser["options.package_data"] if parser.has_section("options.package_data") else {}
    return {package: value.split() for package, value in section.items()}


def test_every_data_file_of_the_package_ships_as_package_data():
    """Templates and other non-Python files under `workbench/` are named in setup.cfg's package_data."""
    data = [path for path in PACKAGE.rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")
            and "__pycache__" not in path.parts]
    assert len(data) >= 2  # at least the two testbench templates
    globs = _package_data_globs()
    shipped = set()
    for package, patterns in globs.items():
        folder = PACKAGE.parent.joinpath(*package.split("."))
        shipped.update(path for pattern in patterns for path in folder.glob(pattern))
    assert sorted(set(data) - shipped) == []
