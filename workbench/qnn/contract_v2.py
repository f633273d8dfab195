"""The `qnn-int/2` contract: a `qnn-int/1` network whose head may carry the hybrid's integer refinement.

A version-2 document is a version-1 document with `format: "qnn-int/2"` and an optional
`head.refinement` section: a fixed FIR refinement (`kind: "fixed"`: taps, frac_bits) or the width-adaptive
one (`kind: "adaptive"`: the width probe, integer edges in units of 1/`EDGE_SCALE`, a bank of members with
their taps and frac_bits, the member of each width bin), each with `bounds` (the register widths of
`workbench.qnn.refinement.widths`) that a reader recomputes and compares, as version 1's ranges. The
network part is read by `workbench.qnn.contract.load_network` unchanged; `load_document` reads either
version and rejects a version-1 document that has a `refinement` key (see `docs/contract.md`).
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Union

from workbench.errors import ConfigError, ContractError
from workbench.qnn.contract import (BOUND_LIMIT, FORMAT, MAX_FRAC_BITS, REFINEMENT_KEY, Document, Network,
                                   load_network, read_document)
from workbench.qnn.refinement import (EDGE_SCALE, PROBE_NARROW, PROBE_REACH, PROBE_WIDE, AdaptiveRefinement,
                                      Refinement, widths)

FORMAT_V2 = "qnn-int/2"
FORMATS = (FORMAT, FORMAT_V2)
KINDS = ("fixed", "adaptive")
MAX_TAPS = 255  # odd tap counts 3..MAX_TAPS, as version 1's kernel_size
MAX_TAP = (1 << 15) - 1  # |tap| <= MAX_TAP
MAX_EDGE = (1 << 16) - 1  # edges are integers in [0, MAX_EDGE] (units of 1/EDGE_SCALE)
MAX_BANK = 16
BOUND_BITS = BOUND_LIMIT.bit_length() - 1  # no refinement value may need more than 52 bits

AnyRefinement = Union[Refinement, AdaptiveRefinement]


@dataclasses.dataclass(frozen=True)
class NetworkDocument:
    """A validated `qnn-int/1` or `qnn-int/2` document: its network and, in version 2, its refinement.

    `refinement` None: positions come from the network's own head (version 1's rule); otherwise the
    network's score, threshold and first arg-max decide `found` and the refinement locates, in units of
    `2^-refinement.frac_bits` px.
    """

    version: int
    network: Network
    refinement: AnyRefinement | None
    document: Document

    @property
    def frac_bits(self) -> int:
        """The positions' fraction bits."""
        return self.network.head.frac_bits if self.refinement is None else self.refinement.frac_bits


def load_document(source: Union[Document, str, Path]) -> NetworkDocument:
    """Parse and validate a `qnn-int/1` or `qnn-int/2` document (a dict or a JSON file path)."""
    doc = read_document(source)
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt == FORMAT:
        return NetworkDocument(1, load_network(doc), None, doc)
    if fmt != FORMAT_V2:
        raise ContractError(f"format is {fmt!r}; allowed: {list(FORMATS)}")
    network = load_network(version1_part(doc))
    section = doc["head"].get(REFINEMENT_KEY)
    refinement = None if section is None else _refinement(section, network.input_bits)
    return NetworkDocument(2, network, refinement, doc)


def version1_part(document: Document) -> Document:
    """The `qnn-int/1` document inside a version-2 one: its format and head without the refinement."""
    doc = copy.deepcopy(document)
    doc["format"] = FORMAT
    if isinstance(doc.get("head"), dict):
        doc["head"].pop(REFINEMENT_KEY, None)
    return doc


def hybrid_document(document: Document, refinement: AnyRefinement) -> Document:
    """A `qnn-int/2` document: the network of `document` (version 1 or 2) with `refinement` in its head."""
    network = load_document(document).network
    doc = version1_part(document)
    doc["format"] = FORMAT_V2
    doc["head"][REFINEMENT_KEY] = refinement_section(refinement, network.input_bits)
    return doc


def refinement_section(refinement: AnyRefinement, input_bits: int) -> Document:
    """The `head.refinement` section of `refinement` for `input_bits`-bit input, bounds filled."""
    if isinstance(refinement, Refinement):
        section = {"kind": "fixed", **_member(refinement)}
    else:
        section = {"kind": "adaptive", "name": refinement.name,
                   "probe": {"narrow": list(PROBE_NARROW.taps), "wide": list(PROBE_WIDE.taps),
                             "reach": PROBE_REACH, "edge_scale": EDGE_SCALE},
                   "edges": list(refinement.edges), "bank": [_member(r) for r in refinement.bank],
                   "choice": list(refinement.choice)}
    section["bounds"] = refinement_bounds(refinement, input_bits)
    return section


def refinement_bounds(refinement: AnyRefinement, input_bits: int) -> Document:
    """Register widths of the refinement: `widths` of a fixed one; of an adaptive one every member's
    and the width probe's (the largest |narrow| and |wide| derivative, the bits of the comparison's products)."""
    if isinstance(refinement, Refinement):
        return _widths(refinement, input_bits)
    narrow_max = widths(PROBE_NARROW, input_bits).derivative_max
    wide_max = widths(PROBE_WIDE, input_bits).derivative_max
    product = max(EDGE_SCALE * narrow_max, max(refinement.edges, default=0) * wide_max)
    return {"members": [_widths(r, input_bits) for r in refinement.bank],
            "probe": {"narrow_max": narrow_max, "wide_max": wide_max, "product_bits": max(1, product.bit_length())}}


def _member(refinement: Refinement) -> Document:
    return {"name": refinement.name, "taps": list(refinement.taps), "frac_bits": refinement.frac_bits}


def _widths(refinement: Refinement, input_bits: int) -> Document:
    record = dataclasses.asdict(widths(refinement, input_bits))
    del record["input_bits"]
    return record


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_list(value: Any, what: str, lo: int, hi: int) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(v) and lo <= v <= hi for v in value):
        raise ContractError(f"{what} is {value!r}; allowed: a list of integers in [{lo}, {hi}]")
    return value


def _object(value: Any, what: str, keys: tuple[str, ...]) -> Document:
    if not isinstance(value, dict):
        raise ContractError(f"{what} is {value!r}; allowed: an object with keys {list(keys)}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise ContractError(f"{what} has no {missing[0]!r}; required keys: {list(keys)}")
    return value


def _fixed(entry: Any, what: str, default_name: str) -> Refinement:
    entry = _object(entry, what, ("taps", "frac_bits"))
    name = entry.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ContractError(f"{what}.name is {name!r}; allowed: a non-empty string")
    taps = _int_list(entry["taps"], f"{what}.taps", -MAX_TAP, MAX_TAP)
    if not 3 <= len(taps) <= MAX_TAPS or len(taps) % 2 == 0:
        raise ContractError(f"{what}.taps has {len(taps)} taps; allowed: an odd count in [3, {MAX_TAPS}]")
    frac_bits = entry["frac_bits"]
    if not _is_int(frac_bits) or not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise ContractError(f"{what}.frac_bits is {frac_bits!r}; allowed: an integer in [0, {MAX_FRAC_BITS}]")
    try:
        return Refinement(name, tuple(taps), frac_bits)
    except ConfigError as exc:  # antisymmetry and a positive first moment
        raise ContractError(f"{what}.taps: {exc}") from None


def _adaptive(section: Document, what: str) -> AdaptiveRefinement:
    _object(section, what, ("probe", "edges", "bank", "choice"))
    probe = _object(section["probe"], f"{what}.probe", ("narrow", "wide", "reach", "edge_scale"))
    implemented = {"narrow": list(PROBE_NARROW.taps), "wide": list(PROBE_WIDE.taps), "reach": PROBE_REACH,
                   "edge_scale": EDGE_SCALE}
    for key, want in implemented.items():
        if probe[key] != want:
            raise ContractError(f"{what}.probe.{key} is {probe[key]!r}; allowed: {want!r} (the width probe "
                                f"of {FORMAT_V2}: BR4 over BR10 within +-{PROBE_REACH} px, edges in 1/{EDGE_SCALE})")
    name = section.get("name", "adaptive")
    if not isinstance(name, str) or not name:
        raise ContractError(f"{what}.name is {name!r}; allowed: a non-empty string")
    edges = _int_list(section["edges"], f"{what}.edges", 0, MAX_EDGE)
    if edges != sorted(edges):
        raise ContractError(f"{what}.edges is {edges!r}; allowed: ascending integers (units of 1/{EDGE_SCALE})")
    bank = section["bank"]
    if not isinstance(bank, list) or not 1 <= len(bank) <= MAX_BANK:
        raise ContractError(f"{what}.bank is {bank!r}; allowed: a list of 1 to {MAX_BANK} refinements")
    members = tuple(_fixed(entry, f"{what}.bank[{i}]", f"member{i}") for i, entry in enumerate(bank))
    if len({m.frac_bits for m in members}) != 1:
        raise ContractError(f"{what}.bank frac_bits are {[m.frac_bits for m in members]}; allowed: one value "
                            "shared by every member")
    choice = _int_list(section["choice"], f"{what}.choice", 0, len(members) - 1)
    if len(choice) != len(edges) + 1:
        raise ContractError(f"{what}.choice has {len(choice)} entries; allowed: {len(edges) + 1} (one per "
                            "width bin, len(edges) + 1)")
    return AdaptiveRefinement(name, members, tuple(edges), tuple(choice))


def _refinement(section: Any, input_bits: int) -> AnyRefinement:
    what = f"head.{REFINEMENT_KEY}"
    kind = section.get("kind") if isinstance(section, dict) else None
    if kind not in KINDS:
        raise ContractError(f"{what}.kind is {kind!r}; allowed: {list(KINDS)}")
    refinement = _fixed(section, what, "fixed") if kind == "fixed" else _adaptive(section, what)
    _object(section, what, ("bounds",))
    want = refinement_bounds(refinement, input_bits)
    if section["bounds"] != want:
        raise ContractError(f"{what}.bounds is {section['bounds']!r}, but the taps, edges and the "
                            f"{input_bits}-bit input give {want!r}")
    members = (refinement,) if isinstance(refinement, Refinement) else refinement.bank
    for member, bounds in zip(members, want.get("members", [want])):
        if bounds["dividend_bits"] > BOUND_BITS:
            raise ContractError(f"{what} member {member.name!r} needs a {bounds['dividend_bits']}-bit dividend at "
                                f"{input_bits}-bit input; allowed: at most {BOUND_BITS} bits (bounds within 2^52)")
    return refinement
