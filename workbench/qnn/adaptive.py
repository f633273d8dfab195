"""A network's width-adaptive refinement, learned on TRAINING line profiles around the network's own arg-max.

The hybrid detector (`workbench.qnn.detector.hybrid_detector`) locates with an integer refinement on the
raw profile around the network's first arg-max. `learn_network_refinement` learns the
`workbench.qnn.refinement.AdaptiveRefinement` of one network (edges of the width probe and one member of
`ADAPTIVE_BANK` per bin) from the line profiles of a training set, around the pixels that network picks;
`refinement_record` and `describe` write what was learned. Used by run_all's `hybrids` stage and by
`experiments/explore_heads.py`.
"""
from __future__ import annotations

import numpy as np

from workbench.data.datasets import Dataset
from workbench.errors import ConfigError
from workbench.qnn import golden
from workbench.qnn.contract import Network
from workbench.qnn.refinement import ADAPTIVE_BANK, EDGE_SCALE, REFINEMENTS, AdaptiveRefinement, Refinement, learn_adaptive

ADAPTIVE_NAME = "adaptive"


def learn_network_refinement(network: Network, train: Dataset, name: str = ADAPTIVE_NAME) -> AdaptiveRefinement:
    """The width-adaptive refinement learned around the network's arg-max on the training line profiles."""
    line = ~np.asarray(train.truth["empty"], dtype=bool)
    if train.config.bits != network.input_bits:
        raise ConfigError(f"training profiles of {train.config.bits} bits invalid for a network of "
                          f"{network.input_bits}-bit input; allowed profiles of the network's input depth")
    profiles = train.profiles[line]
    pixel = np.argmax(golden.scores(network, profiles), axis=1)
    return learn_adaptive(name, tuple(REFINEMENTS[n] for n in ADAPTIVE_BANK), profiles, pixel,
                          train.truth["centre"][line], input_bits=network.input_bits)


def refinement_record(refinement: AdaptiveRefinement) -> dict[str, str]:
    """`edges` (integers in units of 1/`EDGE_SCALE`, ascending) and `members` (one name per width bin, from
    the widest lines to the narrowest), space-separated."""
    return {"edges": " ".join(map(str, refinement.edges)),
            "members": " ".join(refinement.bank[c].name for c in refinement.choice)}


def describe(refinement: Refinement | AdaptiveRefinement) -> str:
    """Taps of a fixed refinement; edges and members of an adaptive one."""
    if isinstance(refinement, AdaptiveRefinement):
        record = refinement_record(refinement)
        return f"edges/{EDGE_SCALE} {record['edges']}; members {record['members']}"
    return " ".join(map(str, refinement.taps))
