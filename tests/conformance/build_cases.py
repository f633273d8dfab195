#!/usr/bin/env python3
"""Write the qnn-int/1 conformance cases (`*.json`) of this folder and the qnn-int/2 ones of `v2/`.

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

from reference_qnn import reference_head_v2, reference_scores, reference_width_bin  # noqa: E402
from workbench.qnn.contract import fill_ranges  # noqa: E402
from workbench.qnn.contract_v2 import hybrid_document  # noqa: E402
from workbench.qnn.refinement import ADAPTIVE_BANK, REFINEMENTS, AdaptiveRefinement, Refinement  # noqa: E402


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


def case_fixed_refinement():
    """qnn-int/2, a fixed refinement d[i] = x[i+1] - x[i-1]: ties, edges, reach, threshold (hand-worked)."""
    doc = hybrid_document(document(IDENTITY, {"refine": "parabolic", "threshold": 10, "frac_bits": 6}),
                          Refinement("central", (-1, 0, 1)))
    L = 16
    return doc, {
        "symmetric": (place(L, [10, 20, 10], 4), (True, 5 * 64)),  # d5 = 0 >= 0 > d6 = -20: rdiv(0, 20) = 0
        "asymmetric": (place(L, [10, 20, 16], 4), (True, 5 * 64 + 15)),  # rdiv(6, 26, 6) = 15
        "half_tie": (place(L, [100, 127, 101, 0], 4), (True, 5 * 64 + 1)),  # rdiv(1, 128, 6): 0.5 -> 1
        "plateau": (place(L, [10, 40, 40, 40, 10], 4), (True, 6 * 64)),  # first max 5, crossing at 6 (offset +1)
        "first_pixel": (place(L, [50, 60, 20], 0), (True, 16)),  # x[-1] = x[0]: d0 = 10, rdiv(10, 40) = 16
        "last_pixel": (place(L, [0, 20, 60, 50], L - 4), (True, 14 * 64 + 48)),  # x[16] = x[15]: rdiv(30, 40)
        "no_crossing_in_reach": ([10 * i for i in range(L)], (True, 15 * 64)),  # rising to the end: p * 2^F
        "argmax_tie": (place(L, [0, 30, 5, 30, 0], 2), (True, 4 * 64)),  # first max 3; d4 = 0 >= 0 > d5 = -5 (+1)
        "at_threshold": (place(L, [0, 10, 0], 7), (True, 8 * 64)),
        "below_threshold": (place(L, [0, 9, 0], 7), (False, 0)),
        "flat": ([12] * L, (True, 0)),  # d = 0 everywhere: no crossing, p = 0
    }


def case_equal_distance():
    """qnn-int/2: crossings at offsets -2 and +1 from the score's arg-max (the raw minimum): the left one wins."""
    layers = [conv("score", [[[-1]]], [255], 2)]  # s = 255 - x: p is the first minimum of x
    doc = hybrid_document(document(layers, {"refine": "none", "threshold": 200, "frac_bits": 0}),
                          Refinement("central", (-1, 0, 1), frac_bits=6))
    profile = [50] * 16
    profile[6], profile[8], profile[9] = 100, 0, 100
    # d6 = 0 >= 0 > d7 = -100 (offset -2) and d9 = 50 >= 0 > d10 = -50 (offset +1): left, 6 * 64 + rdiv(0, 100)
    return doc, {"two_crossings": (profile, (True, 6 * 64)), "below_threshold": ([100] * 16, (False, 0))}


def case_adaptive_bins():
    """qnn-int/2, adaptive: the width bins, an edge tie (64 * narrow == e * wide counts) and a flat profile
    (wide = 0: every edge counts); the two members give different positions."""
    bank = (REFINEMENTS["br4"], Refinement("central", (-1, 0, 1)))
    doc = hybrid_document(document(IDENTITY, {"refine": "centroid", "threshold": 1, "frac_bits": 4}),
                          AdaptiveRefinement("adaptive", bank, (40, 60), (0, 0, 1)))
    L = 24
    return doc, {
        # narrow 450, wide 480: 64 * 450 == 60 * 480 counts, bin 2 (central: 730; br4 of bin 1 would give 728)
        "edge_tie": (place(L, [30, 250, 200], 10), (True, 730), 2),
        "impulse": (place(L, [200], 11), (True, 11 * 64), 2),  # narrow = wide = 200
        "wide_line": (place(L, [10, 30, 60, 90, 100, 80, 50, 20, 5], 8), None, 0),  # 64 * 155 / 375 = 26.5
        "asymmetric_narrow": (place(L, [40, 200, 120], 10), None, 1),  # 64 * 320 / 360 = 56.9
        "flat": ([3] * L, (True, 0), 2),
        "edge_left": (place(L, [220, 100, 30], 0), None, None),
        "edge_right": (place(L, [30, 100, 220], L - 3), None, None),
        "below_threshold": ([0] * L, (False, 0), None),
    }


def case_adaptive_network():
    """qnn-int/2, adaptive with the study's bank on a 12-bit multi-channel network, noisy lines of several widths."""
    rng = np.random.default_rng(23)
    smooth = [[1, 2, 3, 2, 1], [0, 1, 3, 1, 0], [1, 1, 1, 1, 1]]  # per channel, over the 5 taps
    layers = [
        conv("conv0", [[[smooth[c][t] for c in range(3)]] for t in range(5)], [-2000, -1000, -1500], 3),
        requant("act0", 4, False, [7, 12, 12], 14),
        conv("score", [[[1], [1], [1]], [[3], [2], [2]], [[1], [1], [1]]], [0], 3),
    ]
    bank = tuple(REFINEMENTS[n] for n in ADAPTIVE_BANK)
    doc = hybrid_document(document(layers, {"refine": "parabolic", "threshold": 50, "frac_bits": 6}, input_bits=12),
                          AdaptiveRefinement("adaptive", bank, (21, 23, 25, 28, 31, 37, 44), (4, 3, 4, 3, 1, 1, 0, 0)))
    L, i = 48, np.arange(48)
    profiles = {}
    for k, sigma in enumerate((0.6, 0.9, 1.3, 1.8, 2.5, 3.2, 4.0, 1.0)):
        centre = rng.uniform(4, L - 5) if k < 7 else 0.7  # the last one at the left edge
        line = 300 + 3000 * np.exp(-0.5 * ((i - centre) / sigma) ** 2) + rng.normal(0, 40, L)
        profiles[f"sigma_{sigma}"] = (np.clip(np.round(line), 0, 4095).astype(int).tolist(), None, None)
    profiles["all_full_scale"] = ([4095] * L, None, None)
    return doc, profiles


CASES_V2 = {
    "hybrid_fixed_refinement": case_fixed_refinement,
    "hybrid_equal_distance": case_equal_distance,
    "hybrid_adaptive_bins": case_adaptive_bins,
    "hybrid_adaptive_network": case_adaptive_network,
}


def build(name: str, make) -> dict:
    """The case `make()` returns with its expected values from the naive reference (version 1's head, or
    version 2's when the document has a refinement), checked against the hand-worked values it states:
    `_scores` (the first profile's scores), a profile's `(found, pos)`, and its width bin (third entry)."""
    doc, profiles = make()
    hand_scores = profiles.pop("_scores", None)
    names = list(profiles)
    inputs = [profiles[n][0] for n in names]
    scores = [reference_scores(doc, p) for p in inputs]
    results = [reference_head_v2(doc["head"], s, p) for s, p in zip(scores, inputs)]
    if hand_scores is not None:
        assert scores[0] == hand_scores, (name, scores[0], hand_scores)
    for n, s, result in zip(names, scores, results):
        want = profiles[n][1]
        assert want is None or result == want, (name, n, result, want)
        if len(profiles[n]) > 2 and profiles[n][2] is not None:
            got = reference_width_bin(doc["head"]["refinement"], profiles[n][0], s.index(max(s)))
            assert got == profiles[n][2], (name, n, got, profiles[n][2])
    return {"description": (make.__doc__ or name), "document": doc, "profile_names": names,
            "profiles": inputs, "expected": {"scores": scores, "found": [r[0] for r in results],
                                             "pos": [r[1] for r in results]}}


def main() -> None:
    for name in CASES:
        case = build(name, CASES[name])
        (HERE / f"{name}.json").write_text(json.dumps(case, indent=1) + "\n")
        print(f"{name}: {len(case['profiles'])} profiles")
    (HERE / "v2").mkdir(exist_ok=True)
    for name in CASES_V2:
        case = build(name, CASES_V2[name])
        (HERE / "v2" / f"{name}.json").write_text(json.dumps(case, indent=1) + "\n")
        print(f"v2/{name}: {len(case['profiles'])} profiles")


if __name__ == "__main__":
    main()
