"""The `qnn-int/2` contract (`workbench.qnn.contract_v2`) and its golden model (`workbench.qnn.golden_v2`).

Against the conformance cases of `tests/conformance/v2/` and, on random networks and refinements, against
the naive Python-integer reading of the rule in `tests/reference_qnn.py`; version-1 documents must read and
compute exactly as before; every field of the refinement section is validated.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CONFORMANCE_FILES
from reference_qnn import reference_head_v2, reference_scores
from workbench.errors import ContractError
from workbench.pipeline.code_key import import_closure
from workbench.qnn import golden
from workbench.qnn.contract_v2 import (FORMAT_V2, MAX_FRAC_BITS, MAX_TAP, MAX_TAPS, hybrid_document, load_document,
                                       refinement_bounds, version1_part)
from workbench.qnn.detector import hybrid_detector
from workbench.qnn.golden_v2 import run_golden
from workbench.qnn.randnet import random_document, random_refinement
from workbench.qnn.refinement import ADAPTIVE_BANK, REFINEMENTS, AdaptiveRefinement, Refinement


def _expected(case: dict) -> tuple[np.ndarray, ...]:
    e = case["expected"]
    return np.array(e["scores"], dtype=np.int64), np.array(e["found"]), np.array(e["pos"], dtype=np.int64)


def _run_case(case: dict, version: int) -> int:
    """Exact equality of the golden v2 model with a conformance case's expected values; how many profiles."""
    model = load_document(case["document"])
    assert model.version == version and (model.refinement is None) == (version == 1)
    profiles = np.array(case["profiles"])
    result = run_golden(model, profiles)
    scores, found, pos = _expected(case)
    np.testing.assert_array_equal(result.scores, scores)
    np.testing.assert_array_equal(result.found, found)
    np.testing.assert_array_equal(result.pos, pos)
    return pos.size


def test_v2_conformance_cases_match_exactly(conformance_case_v2):
    assert _run_case(conformance_case_v2, 2) == len(conformance_case_v2["profiles"]) >= 2


def _widened_taps(section: dict) -> dict:
    """Every refinement of the section with one more tap pair (-1 ... 1) outside its taps (moving a pair of a
    3-tap derivative would only scale it, which leaves every crossing where it is)."""
    section = copy.deepcopy(section)
    for member in ([section] if section["kind"] == "fixed" else section["bank"]):
        member["taps"] = [-1, *member["taps"], 1]
    return section


def _refilled(doc: dict, section: dict) -> dict:
    """The document with `section` as its refinement, bounds recomputed."""
    doc = copy.deepcopy(doc)
    doc["head"]["refinement"] = section
    model = load_document(dict(version1_part(doc), format=FORMAT_V2))
    section["bounds"] = refinement_bounds(_section_refinement(section), model.network.input_bits)
    return doc


def _section_refinement(section: dict) -> Refinement | AdaptiveRefinement:
    def member(entry: dict) -> Refinement:
        return Refinement(entry.get("name", "m"), tuple(entry["taps"]), entry["frac_bits"])
    if section["kind"] == "fixed":
        return member(section)
    return AdaptiveRefinement("a", tuple(member(e) for e in section["bank"]), tuple(section["edges"]),
                              tuple(section["choice"]))


def test_negative_control_one_more_tap_pair_changes_positions(conformance_case_v2):
    doc = conformance_case_v2["document"]
    moved = _refilled(doc, _widened_taps(doc["head"]["refinement"]))
    profiles = np.array(conformance_case_v2["profiles"])
    result = run_golden(load_document(moved), profiles)
    scores, found, pos = _expected(conformance_case_v2)
    np.testing.assert_array_equal(result.scores, scores)  # the refinement changes nothing before the head
    assert int((result.pos != pos).sum()) > 0


def test_negative_control_one_edge_changes_the_tied_profile():
    case = json.loads((Path(__file__).parent / "conformance" / "v2" / "hybrid_adaptive_bins.json").read_text())
    section = copy.deepcopy(case["document"]["head"]["refinement"])
    section["edges"][-1] += 1  # 64 * narrow == 60 * wide no longer reaches the last edge
    result = run_golden(load_document(_refilled(case["document"], section)), np.array(case["profiles"]))
    changed = [name for name, a, b in zip(case["profile_names"], result.pos, case["expected"]["pos"]) if a != b]
    assert changed == ["edge_tie"]


def test_every_v1_conformance_case_reads_and_computes_unchanged(conformance_case):
    assert _run_case(conformance_case, 1) == len(conformance_case["profiles"]) > 0


def test_v1_cases_are_all_there():
    assert len(CONFORMANCE_FILES) == 7


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_random_v1_network_reads_and_computes_as_version_1(seed: int):
    rng = np.random.default_rng(seed)
    doc = random_document(rng)
    profiles = rng.integers(0, 1 << doc["input"]["bits"], size=(6, int(rng.integers(2, 24))))
    old = golden.run_golden(load_document(doc).network, profiles)
    new = run_golden(load_document(doc), profiles)
    for a, b in zip((old.scores, old.found, old.pos), (new.scores, new.found, new.pos)):
        np.testing.assert_array_equal(a, b)
    as_v2 = run_golden(load_document(dict(doc, format=FORMAT_V2)), profiles)  # version 2 without a refinement
    np.testing.assert_array_equal(as_v2.pos, old.pos)


def _line_profiles(rng: np.random.Generator, n: int, length: int, bits: int) -> np.ndarray:
    """Lines of random width, height and place on a background with noise, some flat or pure noise."""
    full = (1 << bits) - 1
    i = np.arange(length)[None, :]
    centre = rng.uniform(-1, length, size=(n, 1))
    sigma = rng.uniform(0.4, 5.0, size=(n, 1))
    peak = rng.uniform(0, full, size=(n, 1))
    x = rng.uniform(0, full / 4, size=(n, 1)) + peak * np.exp(-0.5 * ((i - centre) / sigma) ** 2)
    x = x + rng.normal(0, rng.uniform(0, full / 20), size=(n, length))
    x[0] = full
    x[1] = rng.integers(0, full + 1, size=length)
    return np.clip(np.round(x), 0, full).astype(np.int64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_random_v2_networks_match_the_naive_reference(seed: int, adaptive: bool):
    rng = np.random.default_rng(seed)
    doc = random_document(rng)
    v2 = json.loads(json.dumps(hybrid_document(doc, random_refinement(rng, adaptive))))
    length = int(rng.integers(2, 40))
    profiles = _line_profiles(rng, 12, length, doc["input"]["bits"])
    result = run_golden(load_document(v2), profiles)
    compared = 0
    for k, profile in enumerate(profiles.tolist()):
        s = reference_scores(v2, profile)
        assert result.scores[k].tolist() == s
        assert (bool(result.found[k]), int(result.pos[k])) == reference_head_v2(v2["head"], s, profile)
        compared += 1
    assert compared == 12


def test_golden_v2_is_the_hybrid_detector_exactly():
    """One rule: the golden model of a v2 document and `hybrid_detector` on its network and refinement agree."""
    rng = np.random.default_rng(5)
    doc = json.loads((Path(__file__).parent / "conformance" / "v2" / "hybrid_adaptive_network.json").read_text())
    compared = 0
    for refinement in (doc["document"], hybrid_document(doc["document"], REFINEMENTS["dog2"])):
        model = load_document(refinement)
        profiles = _line_profiles(rng, 400, 48, 12)
        result = run_golden(model, profiles)
        found, pos = hybrid_detector("h", model.network, model.refinement).detect(profiles)
        np.testing.assert_array_equal(result.found, found)
        np.testing.assert_array_equal(result.pos, (pos * (1 << model.frac_bits)).astype(np.int64))
        assert np.all(pos * (1 << model.frac_bits) == np.round(pos * (1 << model.frac_bits)))
        assert 0 < int(found.sum()) < 400
        compared += pos.size
    assert compared == 800


def test_a_document_round_trips_its_refinement(tmp_path: Path):
    base = random_document(np.random.default_rng(3), input_bits=10)
    adaptive = AdaptiveRefinement("adaptive", tuple(REFINEMENTS[n] for n in ADAPTIVE_BANK), (21, 30, 44), (4, 2, 1, 0))
    for refinement in (adaptive, REFINEMENTS["br8"]):
        path = tmp_path / "hybrid.json"
        path.write_text(json.dumps(hybrid_document(base, refinement)))
        model = load_document(path)
        assert model.refinement == refinement and model.version == 2
        assert model.network.document == base  # the version-1 part is the network written
    assert hybrid_document(hybrid_document(base, adaptive), REFINEMENTS["br8"])["head"]["refinement"]["kind"] == "fixed"


def test_a_v1_document_with_a_refinement_key_is_rejected():
    v2 = hybrid_document(random_document(np.random.default_rng(1)), REFINEMENTS["br8"])
    with pytest.raises(ContractError, match=r"head.refinement is a qnn-int/2 section, not allowed in a qnn-int/1"):
        load_document(dict(v2, format="qnn-int/1"))


def test_the_tap_limits_keep_every_bound_within_2_52():
    """The widest refinement the limits allow (255 taps of 2^15 - 1, 12-bit input, 16 fraction bits)."""
    half = (MAX_TAPS - 1) // 2
    worst = Refinement("worst", (-MAX_TAP,) * half + (0,) + (MAX_TAP,) * half, MAX_FRAC_BITS)
    bounds = refinement_bounds(worst, 12)
    assert bounds["dividend_bits"] <= 52
    doc = hybrid_document(random_document(np.random.default_rng(2), input_bits=12), worst)
    assert load_document(doc).refinement == worst


def _base() -> dict:
    bank = (REFINEMENTS["tri3"], REFINEMENTS["dog2"])
    return hybrid_document(random_document(np.random.default_rng(4), input_bits=8),
                           AdaptiveRefinement("adaptive", bank, (30, 40), (1, 0, 0)))


def _set(path: str, value):
    def mutate(section: dict) -> None:
        *keys, last = path.split(".")
        target = section
        for key in keys:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()

BAD_SECTIONS = [
    ("kind", "parabolic", r"head.refinement.kind is 'parabolic'; allowed: \['fixed', 'adaptive'\]"),
    ("edges", [40, 30], r"head.refinement.edges is \[40, 30\]; allowed: ascending integers"),
    ("edges", [-1, 30], r"head.refinement.edges is \[-1, 30\]; allowed: a list of integers in \[0, 65535\]"),
    ("edges", [30, 40.0], r"head.refinement.edges .* allowed: a list of integers"),
    ("choice", [1, 0], r"head.refinement.choice has 2 entries; allowed: 3"),
    ("choice", [1, 0, 2], r"head.refinement.choice is \[1, 0, 2\]; allowed: a list of integers in \[0, 1\]"),
    ("bank", [], r"head.refinement.bank is \[\]; allowed: a list of 1 to 16 refinements"),
    ("bank.0.taps", [-1, -2, 0, 2], r"head.refinement.bank\[0\].taps has 4 taps; allowed: an odd count in \[3, 255\]"),
    ("bank.0.taps", [-1, -2, 0, 3, 1], r"head.refinement.bank\[0\].taps: refinement taps .* antisymmetric"),
    ("bank.0.taps", [1, 0, -1], r"head.refinement.bank\[0\].taps: .*positive first moment"),
    ("bank.0.taps", [-1, 0, True], r"head.refinement.bank\[0\].taps is \[-1, 0, True\]; allowed: a list of integers"),
    ("bank.0.taps", [-40000, 0, 40000], r"bank\[0\].taps .* allowed: a list of integers in \[-32767, 32767\]"),
    ("bank.1.frac_bits", 5, r"head.refinement.bank frac_bits are \[6, 5\]; allowed: one value shared"),
    ("bank.1.frac_bits", 17, r"head.refinement.bank\[1\].frac_bits is 17; allowed: an integer in \[0, 16\]"),
    ("bank.1.taps", _DELETE, r"head.refinement.bank\[1\] has no 'taps'"),
    ("bank.1.name", "", r"head.refinement.bank\[1\].name is ''; allowed: a non-empty string"),
    ("probe.reach", 5, r"head.refinement.probe.reach is 5; allowed: 6 \(the width probe of qnn-int/2"),
    ("probe.narrow", [-1, 0, 1], r"head.refinement.probe.narrow is \[-1, 0, 1\]; allowed: \[-1, -1, 0, 1, 1\]"),
    ("probe.edge_scale", _DELETE, r"head.refinement.probe has no 'edge_scale'"),
    ("bounds.probe.narrow_max", 509, r"head.refinement.bounds is .* but the taps, edges and the 8-bit input give"),
    ("bounds", _DELETE, r"head.refinement has no 'bounds'"),
    ("choice", _DELETE, r"head.refinement has no 'choice'"),
]


@pytest.mark.parametrize("path, value, message", BAD_SECTIONS, ids=[f"{p}={v!r}"[:40] for p, v, _ in BAD_SECTIONS])
def test_every_field_is_validated_with_its_name_value_and_what_is_allowed(path: str, value, message: str):
    doc = _base()
    assert load_document(doc).refinement is not None  # the control: unchanged, it loads
    _set(path, value)(doc["head"]["refinement"])
    with pytest.raises(ContractError, match=message):
        load_document(doc)


def test_fixed_section_and_format_errors():
    doc = hybrid_document(random_document(np.random.default_rng(6), input_bits=12), REFINEMENTS["br8"])
    assert load_document(doc).refinement == REFINEMENTS["br8"]
    bad = copy.deepcopy(doc)
    bad["head"]["refinement"]["bounds"]["derivative_max"] += 1
    with pytest.raises(ContractError, match=r"bounds is .*'derivative_max': 16381.* 12-bit input give .*16380"):
        load_document(bad)
    with pytest.raises(ContractError, match=r"format is 'qnn-int/3'; allowed: \['qnn-int/1', 'qnn-int/2'\]"):
        load_document(dict(doc, format="qnn-int/3"))
    bad = copy.deepcopy(doc)
    bad["head"]["refinement"] = [1, 2]
    with pytest.raises(ContractError, match=r"head.refinement.kind is None; allowed"):
        load_document(bad)
    bad = copy.deepcopy(doc)
    bad["layers"][-1]["acc_max"][0] += 1  # the version-1 part is checked by version 1's reader
    with pytest.raises(ContractError, match=r"acc_max is"):
        load_document(bad)


def test_version_2_stays_outside_the_code_of_the_training_and_study_keys():
    """The training, classical and datasets stages and the study keep their cache keys: they never reach v2."""
    version2 = {"workbench.qnn.contract_v2", "workbench.qnn.golden_v2"}
    for start in ("experiments.stages.datasets", "experiments.stages.classical", "experiments.stages.training",
                  "workbench.pipeline.study"):
        assert not version2 & set(import_closure(start)[0]), start
    assert "workbench.qnn.contract_v2" in import_closure("experiments.stages.hybrids")[0]  # control
