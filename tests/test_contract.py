"""Validation of qnn-int/1 documents: every violation fails with a message naming it."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from workbench.qnn.contract import bit_width, fill_ranges, load_network
from workbench.errors import ContractError
from workbench.qnn.randnet import random_document


@pytest.fixture
def doc() -> dict:
    """A three-weight-layer network: conv, requantizer, dense, requantizer, conv."""
    rng = np.random.default_rng(5)
    while True:
        d = random_document(rng, n_weight_layers=3, max_channels=3)
        if d["layers"][0]["out_channels"] > 1 and d["layers"][0].get("kernel_size", 1) > 1:
            return d


def _mutate(doc: dict, fn) -> dict:
    doc = copy.deepcopy(doc)
    fn(doc)
    return doc


@pytest.mark.parametrize("mutation, message", [
    (lambda d: d.update(format="qnn-int/2"), "format"),
    (lambda d: d["input"].update(bits=9), r"input.bits is 9; allowed: \[8, 10, 12\]"),
    (lambda d: d["layers"][0].update(type="qconv2d"), "unknown layer type 'qconv2d'"),
    (lambda d: d["layers"][0].update(kernel_size=4), "kernel_size is 4"),
    (lambda d: d["layers"][0].update(weight_bits=9), "weight_bits is 9"),
    (lambda d: d["layers"][0]["weights"][0][0].__setitem__(0, 1000), "does not fit 3 bits|does not fit"),
    (lambda d: d["layers"][0]["weights"][0][0].__setitem__(0, 1.5), "non-integer"),
    (lambda d: d["layers"][0].update(out_channels=d["layers"][0]["out_channels"] + 1), "shape"),
    (lambda d: d["layers"][1].update(multiplier=[1 << 16] * len(d["layers"][1]["multiplier"])), "multiplier"),
    (lambda d: d["layers"][1].update(shift=49), "shift is 49"),
    (lambda d: d["layers"][1].update(bits=1), "bits is 1"),
    (lambda d: d["layers"][1].update(signed="yes"), "signed"),
    (lambda d: d["layers"].pop(1), "two weight layers in a row"),
    (lambda d: d["layers"].pop(), "last layer must be"),
    (lambda d: d["layers"][0].update(bias=[1 << 53] * len(d["layers"][0]["bias"])), "2\\^52"),
    (lambda d: d.update(head={"type": "peak", "refine": "cubic", "threshold": 0, "frac_bits": 4}), "refine"),
    (lambda d: d["head"].update(frac_bits=17), "frac_bits is 17"),
    (lambda d: d["head"].update(window=0), "window is 0"),
    (lambda d: d["head"].update(refinement={"kind": "fixed"}),
     r"head.refinement is a qnn-int/2 section, not allowed in a qnn-int/1 document; allowed: format 'qnn-int/2'"),
    (lambda d: d.update(layers=[]), "non-empty"),
])
def test_violations_are_rejected_with_a_clear_message(doc, mutation, message):
    bad = _mutate(doc, mutation)
    with pytest.raises(ContractError, match=message):
        load_network(fill_ranges(bad))


def test_stale_ranges_are_rejected(doc):
    bad = _mutate(doc, lambda d: d["layers"][0]["acc_max"].__setitem__(0, d["layers"][0]["acc_max"][0] + 1))
    with pytest.raises(ContractError, match="acc_max .* give"):
        load_network(bad)


def test_channel_mismatch_is_rejected(doc):
    def shrink(d):
        dense = d["layers"][2]
        dense["in_channels"] -= 1
        dense["weights"] = dense["weights"][:-1] if dense["type"] == "qdense" else [t[:-1] for t in dense["weights"]]
    with pytest.raises(ContractError, match="channels"):
        load_network(fill_ranges(_mutate(doc, shrink)))


def test_score_layer_must_have_one_channel(doc):
    def widen(d):
        last = d["layers"][-1]
        last["out_channels"] = 2
        last["bias"] = last["bias"] * 2
        last["weights"] = [[[w[0], w[0]] for w in tap] for tap in last["weights"]] if last["type"] == "qconv1d" \
            else [[w[0], w[0]] for w in last["weights"]]
    with pytest.raises(ContractError, match="1"):
        load_network(fill_ranges(_mutate(doc, widen)))


def test_valid_document_round_trips_through_json(doc, tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(doc))
    net = load_network(path)
    assert net.input_bits == doc["input"]["bits"]
    assert len(net.layers) == len(doc["layers"])
    assert net.macs_per_pixel == sum(layer.macs_per_pixel for layer in net.conv_layers)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ContractError, match="does not exist"):
        load_network(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ContractError, match="not valid JSON"):
        load_network(tmp_path / "bad.json")


@pytest.mark.parametrize("lo, hi, width", [(0, 0, 1), (-1, 0, 1), (0, 1, 2), (-128, 127, 8), (-129, 127, 9),
                                           (0, 255, 9), (-(1 << 52), 1 << 52, 54)])
def test_bit_width(lo, hi, width):
    assert bit_width(lo, hi) == width
