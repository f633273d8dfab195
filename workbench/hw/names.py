"""Short, stable names for the block instances of the generated design: layer, block, stage.

MyHDL names a block instance after its function and a counter shared by the whole Python process
(`adder_tree_logic0_0_1_2_3`), and the converter prefixes every internal signal with the path of
instance names above it. Left alone, names in the VHDL and Verilog ran to hundreds of characters
and changed with whatever else the process had built before. `name_blocks` renames the instances
of one design by role instead: the layers are `l<i>_conv` and `l<i>_req` (`i` the layer's index in
the document), their parts `win` (line window), `sum` (constant products), `clip` (requantizer
output stage), the head's `head_win`, `amax`, `run`, `ref`, `div`, `res`; each block's generated
process is `p` (VHDL labels need a non-empty name at every level). The register of the products'
first stage in the third layer is `l2_conv_sum_p_st1`.
"""
from __future__ import annotations

from typing import Any, Sequence

from myhdl._block import _Block

ROLES = {"conv_layer": "conv", "requantizer": "req", "score_ports": "score", "peak_head_unit": "head",
         "window": "win", "adder_tree": "sum", "shared_sums": "sum", "select_stage": "clip",
         "argmax_tree": "amax", "running_argmax": "run", "refine": "ref", "divider": "div",
         "divided_result": "res", "plain_result": "res"}
LAYER_BLOCKS = ("conv_layer", "requantizer")


def name_blocks(instances: Sequence[Any]) -> None:
    """Rename the top-level's block instances (in order: the layers, then the others) and everything below."""
    layer = 0
    for inst in instances:
        role = _role(inst)
        if inst.func.__name__ in LAYER_BLOCKS:
            inst.name = f"l{layer}_{role}"
            layer += 1
        else:
            inst.name = role
        _name_below(inst)
    _check_unique(instances)


def name_instances(instances: Sequence[Any], names: Sequence[str]) -> None:
    """Give the top-level's block instances the given names (a design with two blocks of one role) and
    name everything below them by role."""
    if len(names) != len(instances):
        raise ValueError(f"{len(instances)} instances, {len(names)} names")
    for inst, name in zip(instances, names):
        inst.name = name
        _name_below(inst)
    _check_unique(instances)


def _role(inst: Any) -> str:
    """The role of a block instance (`p` for a generated process, `*_logic`)."""
    function = inst.func.__name__
    return "p" if function.endswith("_logic") else ROLES.get(function, function)


def _name_below(parent: Any) -> None:
    children = [sub for sub in parent.subs if isinstance(sub, _Block)]
    for child in children:
        child.name = _role(child)
        _name_below(child)
    _check_unique(children)


def _check_unique(instances: Sequence[Any]) -> None:
    names = [inst.name for inst in instances if isinstance(inst, _Block)]
    if len(names) != len(set(names)):
        raise ValueError(f"two sibling blocks share a name: {sorted(names)}")
