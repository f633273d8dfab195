"""The golden model of `qnn-int/2`: version 1's scores, and the hybrid head when the document has a refinement.

The scores are `workbench.qnn.golden.scores` (the refinement changes nothing before the head). With a
refinement, `p` is the first arg-max of the scores and `found = s[p] >= threshold` (version 1's head rule),
and `pos` is the refinement's zero crossing on the RAW profile around `p`
(`Refinement.positions` / `AdaptiveRefinement.positions` of `workbench.qnn.refinement`, the one
implementation of the rule, which `workbench.qnn.detector.hybrid_detector` runs too), 0 when not found.
Without a refinement the result is `golden.run_golden`'s.
"""
from __future__ import annotations

import numpy as np

from workbench.qnn import golden
from workbench.qnn.contract_v2 import AnyRefinement, NetworkDocument


def hybrid_head(refinement: AnyRefinement, threshold: int, input_bits: int, profiles: np.ndarray,
                scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(found, pos)` per profile: the scores' first arg-max and threshold gate, the refinement on the raw
    `profiles` around that arg-max locates (`pos` in units of `2^-refinement.frac_bits` px, 0 when not found)."""
    pixel = np.argmax(scores, axis=1)
    found = scores[np.arange(scores.shape[0]), pixel] >= threshold
    pos = refinement.positions(profiles, pixel, input_bits)
    return found, np.where(found, pos, 0).astype(np.int64)


def run_golden(model: NetworkDocument, profiles: np.ndarray) -> golden.GoldenResult:
    """Scores and `(found, pos)` of a version-1 or version-2 document (`contract_v2.load_document`)."""
    if model.refinement is None:
        return golden.run_golden(model.network, profiles)
    network = model.network
    scores = golden.scores(network, profiles)
    found, pos = hybrid_head(model.refinement, network.head.threshold, network.input_bits, profiles, scores)
    return golden.GoldenResult(scores, found, pos)
