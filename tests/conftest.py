"""Shared fixtures: the conformance cases of `tests/conformance/` (qnn-int/1) and `tests/conformance/v2/` (qnn-int/2)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # so tests can import reference_qnn

CONFORMANCE_FILES = sorted((TESTS / "conformance").glob("*.json"))
CONFORMANCE_V2_FILES = sorted((TESTS / "conformance" / "v2").glob("*.json"))


@pytest.fixture(params=CONFORMANCE_FILES, ids=[p.stem for p in CONFORMANCE_FILES])
def conformance_case(request) -> dict:
    """One conformance case: document, profiles and expected scores/results."""
    return json.loads(request.param.read_text())


@pytest.fixture(params=CONFORMANCE_V2_FILES, ids=[p.stem for p in CONFORMANCE_V2_FILES])
def conformance_case_v2(request) -> dict:
    """One qnn-int/2 conformance case: document (with a refinement), profiles and expected scores/results."""
    return json.loads(request.param.read_text())
