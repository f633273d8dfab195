"""The network's top-level as the HDL flow builds it: `workbench.hw.top.build_top` at the shipped pipeline depth;
a document's (`qnn-int/1` or `qnn-int/2`): the hybrid (`workbench.hw.hybrid_top`) when it has a fixed refinement."""
from __future__ import annotations

from workbench.hw.arithmetic import DEFAULT_ARITHMETIC
from workbench.hw.adaptive_top import WidthProbe, build_adaptive_top
from workbench.hw.hybrid_top import build_hybrid_top
from workbench.hw.interface import StreamDesign
from workbench.hw.top import DEFAULT_PIPELINE_STAGES, TopDesign, build_top
from workbench.qnn.contract import Network
from workbench.qnn.contract_v2 import NetworkDocument
from workbench.qnn.refinement import EDGE_SCALE, PROBE_NARROW, PROBE_REACH, PROBE_WIDE, Refinement


def network_design(network: Network, lanes: int, profile_length: int,
                   pipeline_stages: int = DEFAULT_PIPELINE_STAGES, arithmetic: str = DEFAULT_ARITHMETIC) -> TopDesign:
    """The peak detector for `network` at `lanes` pixels per clock (profiles of `profile_length`), its
    constant products built as `arithmetic` says (`workbench.hw.arithmetic`); a `TopDesign` is the flow's
    `workbench.hw.interface.StreamDesign`."""
    return build_top(network, lanes, profile_length, pipeline_stages=pipeline_stages, arithmetic=arithmetic)


def document_design(model: NetworkDocument, lanes: int, profile_length: int,
                    pipeline_stages: int = DEFAULT_PIPELINE_STAGES,
                    arithmetic: str = DEFAULT_ARITHMETIC) -> StreamDesign:
    """The hardware of a document read by `contract_v2.load_document`: its network's peak detector, or its
    hybrid when it has a refinement (`hybrid_top` for a fixed one, `adaptive_top` for an adaptive one)."""
    refinement = model.refinement
    if refinement is None:
        return network_design(model.network, lanes, profile_length, pipeline_stages, arithmetic)
    if not isinstance(refinement, Refinement):
        taps = (PROBE_NARROW.taps, PROBE_WIDE.taps)
        return build_adaptive_top(model.network, tuple(tuple(int(t) for t in m.taps) for m in refinement.bank),
                                  refinement.frac_bits, tuple(refinement.edges), tuple(refinement.choice),
                                  WidthProbe(*taps, PROBE_REACH, EDGE_SCALE), profile_length, lanes,
                                  pipeline_stages=pipeline_stages, arithmetic=arithmetic)
    return build_hybrid_top(model.network, tuple(int(t) for t in refinement.taps), refinement.frac_bits, lanes,
                            profile_length, pipeline_stages=pipeline_stages, arithmetic=arithmetic)
