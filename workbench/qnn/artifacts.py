"""Locate what a run wrote: the qnn-int/1 documents of a models folder."""
from __future__ import annotations

import json
from pathlib import Path

from workbench.qnn.contract import FORMAT
from workbench.errors import ConfigError

DEFAULT_BITS = "4/4"


def documents(folder: Path) -> list[Path]:
    """The qnn-int/1 documents (`*.json` with the format key) directly in `folder`, in name order."""
    found = [path for path in sorted(Path(folder).glob("*.json"))
             if json.loads(path.read_text()).get("format") == FORMAT]
    if not found:
        raise ConfigError(f"no qnn-int/1 document (*.json) in {folder}; run the training stage first")
    return found


def pick_document(folder: Path, bits: str = DEFAULT_BITS) -> Path:
    """The document whose `metadata.bits` is `bits` (the paper's 4/4 design point), else the first one."""
    paths = documents(folder)
    for path in paths:
        if json.loads(path.read_text()).get("metadata", {}).get("bits") == bits:
            return path
    return paths[0]
