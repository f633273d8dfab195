"""A document's hardware against the golden model of `qnn-int/2` (`workbench.qnn.golden_v2`, which reads version 1 too).

For a `qnn-int/2` document with a refinement that is the hybrid's hardware (`workbench.hw.hybrid_top`), otherwise
the network's peak detector (`workbench.hw.top`). `document_vectors` gives the expected values of the HDL testbenches
(the network's scores, then `(found, pos)`), and `compare_document` checks a MyHDL run
(`workbench.verify.harness.run_design`) value for value.
"""
from __future__ import annotations

import numpy as np

from workbench.qnn.contract_v2 import NetworkDocument
from workbench.qnn.golden_v2 import run_golden
from workbench.verify.harness import Comparison, SimRun, compare_values
from workbench.verify.vectors import VectorSet


def document_vectors(model: NetworkDocument, profiles: np.ndarray) -> VectorSet:
    """Expected values for `profiles` from the golden model of `model`: scores, found and pos."""
    result = run_golden(model, np.asarray(profiles, dtype=np.int64))
    return VectorSet(np.asarray(profiles, dtype=np.int64), result.scores, result.found, result.pos)


def compare_document(model: NetworkDocument, profiles: np.ndarray, run: SimRun) -> Comparison:
    """Every score and `(found, pos)` of a MyHDL run against the golden model of `model` (negative controls
    pass another document)."""
    expected = document_vectors(model, profiles)
    return compare_values(run, expected.scores, expected.found, expected.pos)
