"""Shared fixtures: the conformance cases of `tests/conformance/`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # so tests can import reference_qnn

CONFORMANCE_FILES = sorted((TESTS / "conformance").glob("*.json"))


@pytest.fixture(params=CONFORMANCE_FILES, ids=[p.stem for p in CONFORMANCE_FILES])
def conformance_case(request) -> dict:
    """One conformance case: document, profiles and expected scores/results."""
    return json.loads(request.param.read_text())
