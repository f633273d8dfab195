"""The network's top-level as the HDL flow builds it: `workbench.hw.top.build_top` at the shipped pipeline depth."""
from __future__ import annotations

from workbench.qnn.contract import Network
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC
from workbench.hw.top import DEFAULT_PIPELINE_STAGES, TopDesign, build_top


def network_design(network: Network, lanes: int, profile_length: int,
                   pipeline_stages: int = DEFAULT_PIPELINE_STAGES, arithmetic: str = DEFAULT_ARITHMETIC) -> TopDesign:
    """The peak detector for `network` at `lanes` pixels per clock (profiles of `profile_length`), its
    constant products built as `arithmetic` says (`workbench.hw.arithmetic`); a `TopDesign` is the flow's
    `workbench.hw.interface.StreamDesign`."""
    return build_top(network, lanes, profile_length, pipeline_stages=pipeline_stages, arithmetic=arithmetic)
