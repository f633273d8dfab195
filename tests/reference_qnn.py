"""A deliberately naive, loop-by-loop reading of the qnn-int/1 rules in plain Python integers.

It shares no code with `workbench.qnn.golden` (which is vectorised), so that the two can check each
other, and it produces the expected values of the conformance cases.
"""
from __future__ import annotations

from typing import Any


def _floor_div(a: int, b: int) -> int:
    return a // b  # Python's // is floor division for every sign


def _rdiv(n: int, d: int, f: int) -> int:
    sign = -1 if n < 0 else 1
    return sign * _floor_div(2 * abs(n) * 2 ** f + d, 2 * d)


def reference_scores(doc: dict[str, Any], profile: list[int]) -> list[int]:
    """Scores of one profile, layer by layer, exactly as the contract states them."""
    length = len(profile)
    x = [[v] for v in profile]
    for layer in doc["layers"]:
        if layer["type"] in ("qconv1d", "qdense"):
            if layer["type"] == "qdense":
                k, weights = 1, [layer["weights"]]
            else:
                k, weights = layer["kernel_size"], layer["weights"]
            out = []
            for i in range(length):
                row = []
                for o in range(layer["out_channels"]):
                    acc = layer["bias"][o]
                    for t in range(k):
                        j = i + t - (k - 1) // 2
                        for c in range(layer["in_channels"]):
                            xv = x[j][c] if 0 <= j < length else 0
                            acc += weights[t][c][o] * xv
                    row.append(acc)
                out.append(row)
            x = out
        else:
            bits, shift = layer["bits"], layer["shift"]
            lo, hi = (-2 ** (bits - 1), 2 ** (bits - 1) - 1) if layer["signed"] else (0, 2 ** bits - 1)
            r = 2 ** (shift - 1) if shift > 0 else 0
            x = [[min(max(_floor_div(acc * m + r, 2 ** shift), lo), hi)
                  for acc, m in zip(row, layer["multiplier"])] for row in x]
    return [row[0] for row in x]


def reference_head(head: dict[str, Any], s: list[int]) -> tuple[bool, int]:
    """(found, pos) of one score vector."""
    length = len(s)
    p = s.index(max(s))
    if s[p] < head["threshold"]:
        return False, 0
    f = head["frac_bits"]
    delta = 0
    if head["refine"] == "parabolic" and 0 < p < length - 1:
        a, b, c = s[p - 1], s[p], s[p + 1]
        d = 2 * (2 * b - a - c)
        delta = 0 if d == 0 else _rdiv(c - a, d, f)
    elif head["refine"] == "centroid":
        js = [j for j in range(-head["window"], head["window"] + 1) if 0 <= p + j < length]
        low = min(s[p + j] for j in js)
        num = sum(j * (s[p + j] - low) for j in js)
        den = sum(s[p + j] - low for j in js)
        delta = 0 if den == 0 else _rdiv(num, den, f)
    return True, p * 2 ** f + delta


def _fir(taps: list[int], profile: list[int], i: int) -> int:
    """`sum_k taps[k] * x[i + k - h]` with the edge samples replicated (the refinement's derivative)."""
    h, n = (len(taps) - 1) // 2, len(profile)
    return sum(t * profile[min(max(i + k - h, 0), n - 1)] for k, t in enumerate(taps))


def reference_crossing(member: dict[str, Any], profile: list[int], p: int) -> int:
    """Position (units of 2^-frac_bits px) of the zero crossing d[i] >= 0 > d[i+1] nearest p, i - p in
    [-R, R-1] with R = h + 1, the left one on equal distance; p * 2^F when none is in reach."""
    taps, f, n = member["taps"], member["frac_bits"], len(profile)
    radius = (len(taps) - 1) // 2 + 1
    best = None
    for i in range(p - radius, p + radius):
        if i < 0 or i + 1 >= n:
            continue
        a, b = _fir(taps, profile, i), _fir(taps, profile, i + 1)
        if a >= 0 > b and (best is None or abs(2 * (i - p) + 1) < abs(2 * (best[0] - p) + 1)):
            best = (i, a, b)
    if best is None:
        return p * 2 ** f
    i, a, b = best
    return i * 2 ** f + _rdiv(a, a - b, f)


def reference_width_bin(section: dict[str, Any], profile: list[int], p: int) -> int:
    """The adaptive refinement's width bin: how many edges e satisfy edge_scale * narrow >= e * wide, with
    narrow and wide the largest |probe derivative| over the pixels within +-reach of p inside the profile."""
    probe, n = section["probe"], len(profile)
    near = [j for j in range(p - probe["reach"], p + probe["reach"] + 1) if 0 <= j < n]
    narrow = max(abs(_fir(probe["narrow"], profile, j)) for j in near)
    wide = max(abs(_fir(probe["wide"], profile, j)) for j in near)
    return sum(1 for e in section["edges"] if probe["edge_scale"] * narrow >= e * wide)


def reference_head_v2(head: dict[str, Any], s: list[int], profile: list[int]) -> tuple[bool, int]:
    """(found, pos) of one profile under a qnn-int/2 head: version 1's rule without a refinement; with one,
    the first arg-max and the threshold gate, the refinement on the raw profile locates."""
    section = head.get("refinement")
    if section is None:
        return reference_head(head, s)
    p = s.index(max(s))
    if s[p] < head["threshold"]:
        return False, 0
    if section["kind"] == "fixed":
        return True, reference_crossing(section, profile, p)
    member = section["bank"][section["choice"][reference_width_bin(section, profile, p)]]
    return True, reference_crossing(member, profile, p)
