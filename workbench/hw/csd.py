"""Canonical signed digits: constant products as a few shifted additions and subtractions.

`w * x` becomes `sum(sign * (x << shift))` over the non-zero digits of `w`'s canonical signed-digit
(non-adjacent) form, which has the fewest non-zero digits of any signed-binary form: at most
`ceil((b + 1) / 2)` for a `b`-bit weight. No multiplier is needed, so synthesis uses no DSP.
"""
from __future__ import annotations


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Non-zero digits `(shift, sign)` of `value` in non-adjacent form, lowest first.

    `sum(sign << shift)` equals `value`; no two digits are adjacent.
    """
    value = int(value)
    digits = []
    shift = 0
    while value:
        if value & 1:
            sign = 2 - (value & 3)  # +1 when value = 1 (mod 4), -1 when 3 (mod 4)
            digits.append((shift, sign))
            value -= sign
        value >>= 1
        shift += 1
    return digits
