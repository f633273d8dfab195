"""The HDL flow's view of a network's top-level: `workbench.hw.top.build_top` as a StreamDesign."""
from __future__ import annotations

from workbench.qnn.contract import Network
from workbench.hdl.design import StreamDesign
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC
from workbench.hw.top import DEFAULT_PIPELINE_STAGES, build_top


def network_design(network: Network, lanes: int, profile_length: int,
                   pipeline_stages: int = DEFAULT_PIPELINE_STAGES,
                   arithmetic: str = DEFAULT_ARITHMETIC) -> StreamDesign:
    """The peak detector for `network` at `lanes` pixels per clock (profiles of `profile_length`),
    its constant products built as `arithmetic` says (`workbench.hw.arithmetic`)."""
    top = build_top(network, lanes, profile_length, pipeline_stages=pipeline_stages, arithmetic=arithmetic)
    return StreamDesign(name=top.name, lanes=top.lanes, profile_length=top.profile_length, in_bits=top.in_bits,
                        score_bits=top.score_bits, pos_bits=top.pos_bits, frac_bits=top.frac_bits,
                        latency=max(top.latency, top.result_latency), make_signals=top.make_signals,
                        factory=top.factory)
