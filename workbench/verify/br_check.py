"""The classical detector's hardware (`workbench.hw.br_top`) against its golden model (`workbench.qnn.br8_integer`).

`br_design` builds the hardware for a golden configuration, `br_vectors` gives the expected values of the
HDL testbenches (the derivative stream as scores, then `(found, pos)`), and `compare_br` checks a MyHDL
run (`workbench.verify.harness.run_design`) value for value.
"""
from __future__ import annotations

import numpy as np

from workbench.hw.br_top import BRDesign, build_br_top
from workbench.qnn.br8_integer import BRInteger, run_br_integer
from workbench.verify.harness import Comparison, SimRun, compare_values
from workbench.verify.vectors import VectorSet


def br_design(config: BRInteger, profile_length: int, pipeline_stages: int = 1, lanes: int = 1) -> BRDesign:
    """The hardware computing `config` on profiles of `profile_length` pixels, `lanes` pixels per clock."""
    return build_br_top(tuple(int(t) for t in config.refinement.taps), config.frac_bits, int(config.threshold),
                        profile_length, config.input_bits, lanes=lanes, pipeline_stages=pipeline_stages)


def br_vectors(config: BRInteger, profiles: np.ndarray) -> VectorSet:
    """Expected values for `profiles` from the golden model: derivative scores, found and pos."""
    result = run_br_integer(config, profiles)
    return VectorSet(np.asarray(profiles, dtype=np.int64), result.derivative, result.found, result.pos)


def compare_br(config: BRInteger, profiles: np.ndarray, run: SimRun) -> Comparison:
    """Every derivative score and `(found, pos)` of a MyHDL run against the golden model of `config`."""
    expected = br_vectors(config, profiles)
    return compare_values(run, expected.scores, expected.found, expected.pos)
