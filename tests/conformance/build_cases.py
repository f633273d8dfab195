#!/usr/bin/env python3
"""Write the qnn-int/1 conformance cases (`*.json`) of this folder.

Each case is a document, input profiles and the expected scores and `(found, pos)`, computed by the
naive reference in `tests/reference_qnn.py`; the values of the edge and tie rules are also checked
here against numbers worked out by hand from the contract text. Rerun after changing a case:
`python tests/conformance/build_cases.py`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent))

from reference_qnn import reference_head, reference_scores  # noqa: E402
from workbench.qnn.contract import fill_ranges  # noqa: E402


def conv(name, weights, bias, bits, kernel=None):
    k = len(weights)
    return {"type": "qconv1d", "name": name, "kernel_size": kernel or k, "in_channels": len(weights[0]),
            "out_channels": len(weights[0][0]), "weight_bits": bits, "weights": weights, "bias": bias}


def dense(name, weights, bias, bits):
    return {"type": "qdense", "name": name, "in_channels": len(weights), "out_channels": len(weights[0]),
            "weight_bits": bits, "weights": weights, "bias": bias}


def requant(name, bits, signed, multiplier, shift):
    return {"type": "requantizer", "name": name, "bits": bits, "signed": signed, "multiplier": multiplier,
            "shift": shift}


def document(layers, head, input_bits=8):
    return fill_ranges({"format": "qnn-int/1", "input": {"bits": input_bits}, "layers": layers,
                        "head": dict({"type": "peak", "window": 1}, **head)})


def place(length, values, at):
    profile = [0] * length
    for offset, v in enumerate(values):
        profile[at + offset] = v
    return profile


IDENTITY = [conv("score", [[[1]]], [0], 2)]


def case_parabolic():
    doc = document(IDENTITY, {"refine": "parabolic", "threshold": 10, "frac_bits": 6})
    L = 16
    profiles = {
        "symmetric": (place(L, [10, 20, 10], 2), (True, 3 * 64)),
        "asymmetric": (place(L, [10, 20, 15], 2), (True, 3 * 64 + 11)),  # rdiv(5, 30, 6) = 11
        "half_tie_up": (place(L, [0, 33, 2], 4), (True, 5 * 64 + 1)),  # 0.5 -> +1
        "half_tie_down": (place(L, [2, 33, 0], 4), (True, 5 * 64 - 1)),  # -0.5 -> -1 (away from zero)
        "plateau": (place(L, [9, 40, 40, 40, 9], 5), (True, 6 * 64 + 32)),  # first max at 6: rdiv(31, 62) = 1/2
        "first_pixel": (place(L, [50, 49, 10], 0), (True, 0)),
        "last_pixel": (place(L, [10, 49, 50], L - 3), (True, (L - 1) * 64)),
        "argmax_tie": (place(L, [0, 30, 5, 30, 0], 0), (True, 1 * 64 + 3)),  # first max wins; rdiv(5, 110, 6) = 3
        "at_threshold": (place(L, [0, 10, 0], 7), (True, 8 * 64)),
        "below_threshold": (place(L, [0, 9, 0], 7), (False, 0)),
        "all_zero": ([0] * L, (False, 0)),
        "all_full_scale": ([255] * L, (True, 0)),
    }
    return doc, profiles


def case_requantizer():
    layers = [conv("shift", [[[1]]], [-128], 2), requant("act", 4, True, [1], 1), conv("score", [[[1]]], [0], 2)]
    doc = document(layers, {"refine": "none", "threshold": -100, "frac_bits": 0})
    # acc = x - 128; y = clip(floor((acc + 1) / 2), -8, 7): ties go up (-2.5 -> -2, 2.5 -> 3)
    values = [123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 0, 255, 142, 143, 113, 112]
    expected_scores = [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3, -8, 7, 7, 7, -7, -8]
    return doc, {"ties_and_clip": (values, (True, 12 * 1)), "_scores": expected_scores}


def case_unsigned_shift0():
    layers = [conv("c0", [[[1]], ], [-100], 2), requant("act", 2, False, [3], 0), conv("score", [[[1]]], [0], 2)]
    doc = document(layers, {"refine": "none", "threshold": 1, "frac_bits": 2})
    values = [0, 99, 100, 101, 102, 255, 100]  # clip(3 * (x - 100), 0, 3)
    return doc, {"relu_clip": (values, (True, 3 * 4)), "_scores": [0, 0, 0, 3, 3, 3, 0]}


def case_padding_centroid():
    layers = [conv("c0", [[[1]], [[2]], [[3]], [[-2]], [[-1]]], [7], 3)]
    doc = document(layers, {"refine": "centroid", "window": 2, "threshold": 0, "frac_bits": 4})
    L = 12
    return doc, {
        "edge_left": (place(L, [200, 100, 50], 0), None),
        "edge_right": (place(L, [50, 100, 200], L - 3), None),
        "middle": (place(L, [10, 90, 200, 60], 4), None),
        "all_full_scale": ([255] * L, None),
        "all_zero": ([0] * L, None),
    }


def case_centroid_edges():
    doc = document(IDENTITY, {"refine": "centroid", "window": 3, "threshold": 5, "frac_bits": 5})
    L = 10
    return doc, {
        "first_pixel": (place(L, [90, 60, 30, 10], 0), (True, 19)),  # u = 80,50,20,0: rdiv(90, 150, 5) = 19
        "last_pixel": (place(L, [10, 30, 60, 90], L - 4), None),
        "flat_window": ([7] * L, (True, 0)),  # D = 0
        "left_heavy": (place(L, [3, 50, 40, 70, 20, 5, 0], 2), None),
    }


def case_multichannel():
    rng = np.random.default_rng(7)
    layers = [
        conv("conv0", rng.integers(-3, 4, size=(3, 1, 3)).tolist(), [-300, 100, -50], 3),
        requant("act0", 3, False, [4000, 9000, 20000], 16),
        dense("mix1", rng.integers(-7, 8, size=(3, 2)).tolist(), [5, -9], 4),
        requant("act1", 5, True, [30000, 45000], 17),
        conv("score", rng.integers(-15, 16, size=(3, 2, 1)).tolist(), [3], 5),
    ]
    doc = document(layers, {"refine": "parabolic", "threshold": -50, "frac_bits": 8}, input_bits=12)
    L = 32
    profiles = {f"random{i}": (rng.integers(0, 4096, size=L).tolist(), None) for i in range(6)}
    profiles["all_zero"] = ([0] * L, None)
    profiles["all_full_scale"] = ([4095] * L, None)
    profiles["edges"] = (place(L, [4095, 2000], 0)[:-2] + [2000, 4095], None)
    return doc, profiles


def case_wide():
    rng = np.random.default_rng(11)
    layers = [
        conv("conv0", rng.choice([-127, 127], size=(9, 1, 2)).tolist(), [0, 1 << 20], 8),
        requant("act0", 8, True, [65535, 65521], 20),
        conv("score", rng.choice([-127, 127], size=(9, 2, 1)).tolist(), [-(1 << 24) - 1], 8),
    ]
    doc = document(layers, {"refine": "parabolic", "threshold": -(1 << 30), "frac_bits": 16}, input_bits=12)
    L = 24
    profiles = {f"random{i}": (rng.integers(0, 4096, size=L).tolist(), None) for i in range(4)}
    profiles["all_full_scale"] = ([4095] * L, None)
    profiles["alternating"] = ([4095 * (i % 2) for i in range(L)], None)
    return doc, profiles


CASES = {
    "parabolic_head": case_parabolic,
    "requantizer_ties_signed": case_requantizer,
    "requantizer_unsigned_shift0": case_unsigned_shift0,
    "padding_centroid": case_padding_centroid,
    "centroid_edges": case_centroid_edges,
    "multichannel_dense": case_multichannel,
    "wide_values": case_wide,
}


def build(name: str) -> dict:
    doc, profiles = CASES[name]()
    hand_scores = profiles.pop("_scores", None)
    names = list(profiles)
    inputs = [profiles[n][0] for n in names]
    scores = [reference_scores(doc, p) for p in inputs]
    results = [reference_head(doc["head"], s) for s in scores]
    if hand_scores is not None:
        assert scores[0] == hand_scores, (name, scores[0], hand_scores)
    for n, result in zip(names, results):
        want = profiles[n][1]
        if want is not None:
            assert result == want, (name, n, result, want)
    return {"description": (CASES[name].__doc__ or name), "document": doc, "profile_names": names,
            "profiles": inputs, "expected": {"scores": scores, "found": [r[0] for r in results],
                                             "pos": [r[1] for r in results]}}


def main() -> None:
    for name in CASES:
        case = build(name)
        (HERE / f"{name}.json").write_text(json.dumps(case, indent=1) + "\n")
        print(f"{name}: {len(case['profiles'])} profiles")


if __name__ == "__main__":
    main()
