"""Integer sub-pixel refinement on the RAW profile around a given pixel: the locator of the hybrid detector.

The hybrid detector (`workbench.qnn.detector.hybrid_detector`, always labelled hybrid) lets the
integer network detect and gate (its score, threshold and first arg-max pixel `p`); this module locates:

- an antisymmetric integer FIR derivative of the raw samples,
  `d[i] = sum_t taps[t] * x[i + t - h]` (`h = (len(taps) - 1) / 2`, the edge samples replicated);
- the zero crossing `d[i] >= 0 > d[i+1]` nearest to `p` among `i - p` in `[-R, R - 1]` (`R = h + 1`,
  the search radius; on equal distance the left one), as `classical.zero_crossing` does in floats;
- `pos = i * 2^F + rdiv(d[i], d[i] - d[i+1], F)` in units of `2^-F` px, the contract's rounding
  division (`golden.rdiv`, half away from zero); `pos = p * 2^F` when no crossing lies in reach.

Every value is an integer; `widths` states the register widths streaming hardware needs (the
derivative, the divisor, the dividend and the quotient of an `F + 1`-bit divider), and `refine`
rejects a refinement whose dividend would not fit the int64 it computes in.

`AdaptiveRefinement` picks one refinement of a bank per profile by the line's width: the ratio of the
largest |BR4| to the largest |BR10| derivative within +-`PROBE_REACH` px of `p` (near 1 for a narrow
line, smaller for a wide one), compared with integer edges in units of `1/EDGE_SCALE`; which bank member
serves each bin is learned on TRAINING profiles (`learn_adaptive`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d

from workbench.detectors.classical import nearest_crossing
from workbench.errors import ConfigError
from workbench.qnn.golden import rdiv

DEFAULT_FRAC_BITS = 6
INT64_BITS = 64
PROBE_REACH = 6  # px either side of p over which the width probe takes its maxima
EDGE_SCALE = 64  # width-ratio edges are integers in units of 1/EDGE_SCALE


@dataclass(frozen=True)
class Refinement:
    """An integer FIR derivative (antisymmetric taps) and the precision of the zero crossing."""

    name: str
    taps: tuple[int, ...]
    frac_bits: int = DEFAULT_FRAC_BITS

    def __post_init__(self) -> None:
        taps = np.asarray(self.taps)
        half = (len(taps) - 1) // 2
        if len(taps) < 3 or len(taps) % 2 == 0 or not all(isinstance(t, (int, np.integer)) for t in self.taps):
            raise ConfigError(f"refinement taps {self.taps!r} invalid; allowed an odd number (>= 3) of integers")
        if not np.array_equal(taps, -taps[::-1]) or np.dot(np.arange(-half, half + 1), taps) <= 0:
            raise ConfigError(f"refinement taps {self.taps!r} invalid; allowed antisymmetric taps (taps[t] = "
                              "-taps[-1-t]) with a positive first moment (positive on a rising edge)")
        if not 0 <= self.frac_bits <= 16:
            raise ConfigError(f"refinement frac_bits {self.frac_bits!r} invalid; allowed 0..16")

    @property
    def half(self) -> int:
        """Taps on each side of the centre."""
        return (len(self.taps) - 1) // 2

    @property
    def radius(self) -> int:
        """The zero crossing is searched between offsets -radius and radius - 1 from the given pixel."""
        return self.half + 1

    def positions(self, profiles: np.ndarray, pixel: np.ndarray, input_bits: int = 8) -> np.ndarray:
        """`refine` with this refinement."""
        return refine(self, profiles, pixel, input_bits)


@dataclass(frozen=True)
class RefinementWidths:
    """Register widths (bits, two's complement where signed) of the refinement for one input depth."""

    input_bits: int
    derivative_max: int  # |d| <= derivative_max, reached by a full-scale step
    derivative_bits: int  # signed
    divisor_bits: int  # unsigned: 1 <= d[i] - d[i+1] <= 2 * derivative_max
    dividend_bits: int  # unsigned: 2 * d[i] * 2^F + (d[i] - d[i+1])
    quotient_bits: int  # unsigned: 0..2^F
    delay_line: int  # raw samples the derivative and the crossing search see around p: 2 * (half + radius) + 1


def _unsigned_bits(value: int) -> int:
    return max(1, int(value).bit_length())


def widths(refinement: Refinement, input_bits: int) -> RefinementWidths:
    """The widths of every value of `refine` on unsigned `input_bits`-bit samples (exact bounds)."""
    if not 1 <= input_bits <= 16:
        raise ConfigError(f"input_bits {input_bits!r} invalid; allowed 1..16")
    full_scale = (1 << input_bits) - 1
    derivative_max = full_scale * sum(t for t in refinement.taps if t > 0)
    divisor_max = 2 * derivative_max
    dividend_max = 2 * derivative_max * (1 << refinement.frac_bits) + divisor_max
    return RefinementWidths(input_bits, derivative_max, _unsigned_bits(derivative_max) + 1,
                            _unsigned_bits(divisor_max), _unsigned_bits(dividend_max),
                            _unsigned_bits(1 << refinement.frac_bits),
                            2 * (refinement.half + refinement.radius) + 1)


def _samples(profiles: np.ndarray, input_bits: int) -> np.ndarray:
    x = np.asarray(profiles)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ConfigError(f"profiles of shape {x.shape} invalid; allowed a 2-D array (N, L) with L >= 2")
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(np.isfinite(x)) or not np.array_equal(x, np.round(x)):
            raise ConfigError("profiles invalid; allowed integer samples (the raw sensor values)")
    x = x.astype(np.int64)
    top = (1 << input_bits) - 1
    if x.size and (x.min() < 0 or x.max() > top):
        raise ConfigError(f"profile values {int(x.min())}..{int(x.max())} out of range; allowed 0..{top} "
                          f"({input_bits}-bit input)")
    return x


def _pixels(pixel: np.ndarray, n: int, length: int) -> np.ndarray:
    p = np.asarray(pixel)
    if p.shape != (n,) or not np.issubdtype(p.dtype, np.integer) or (n and (p.min() < 0 or p.max() >= length)):
        raise ConfigError(f"pixel indices of shape {p.shape} invalid; allowed {n} integers in 0..{length - 1}")
    return p


def derivative(refinement: Refinement, profiles: np.ndarray, input_bits: int = 8) -> np.ndarray:
    """The integer FIR derivative `d[n, i]` (int64, edges replicated) of unsigned `input_bits`-bit profiles."""
    if widths(refinement, input_bits).dividend_bits >= INT64_BITS:
        raise ConfigError(f"refinement {refinement.name!r} at {input_bits}-bit input needs a dividend wider "
                          f"than {INT64_BITS - 1} bits; allowed smaller taps or fewer frac_bits")
    x = _samples(profiles, input_bits)
    return correlate1d(x, np.asarray(refinement.taps, dtype=np.int64), axis=1, mode="nearest")


def refine(refinement: Refinement, profiles: np.ndarray, pixel: np.ndarray, input_bits: int = 8) -> np.ndarray:
    """Positions in units of `2^-F` px (int64) of the zero crossing nearest each profile's `pixel`."""
    d = derivative(refinement, profiles, input_bits)
    p = _pixels(pixel, *d.shape)
    left, found, a, b = nearest_crossing(d, p, refinement.radius)
    fraction = rdiv(np.where(found, a, 0), np.where(found, a - b, 0), refinement.frac_bits)
    scale = 1 << refinement.frac_bits
    return np.where(found, left * scale + fraction, p * scale).astype(np.int64)


def width_probe(profiles: np.ndarray, pixel: np.ndarray, input_bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """`(narrow, wide)`: the largest |BR4| and |BR10| derivative within +-`PROBE_REACH` px of each `pixel`."""
    narrow, wide = (derivative(probe, profiles, input_bits) for probe in (PROBE_NARROW, PROBE_WIDE))
    p = _pixels(pixel, *narrow.shape)
    index = np.clip(p[:, None] + np.arange(-PROBE_REACH, PROBE_REACH + 1)[None, :], 0, narrow.shape[1] - 1)
    return tuple(np.abs(np.take_along_axis(d, index, axis=1)).max(axis=1) for d in (narrow, wide))


@dataclass(frozen=True)
class AdaptiveRefinement:
    """A bank of refinements, one chosen per profile by a width probe (module docstring).

    Bin `b = #{e in edges : EDGE_SCALE * narrow >= e * wide}` (edges ascending) selects `bank[choice[b]]`.
    """

    name: str
    bank: tuple[Refinement, ...]
    edges: tuple[int, ...]
    choice: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.bank or len({r.frac_bits for r in self.bank}) != 1:
            raise ConfigError(f"adaptive refinement {self.name!r}: allowed a non-empty bank with one frac_bits")
        if list(self.edges) != sorted(self.edges) or any(not isinstance(e, int) or e < 0 for e in self.edges):
            raise ConfigError(f"adaptive refinement edges {self.edges!r} invalid; allowed ascending integers >= 0 "
                              f"(units of 1/{EDGE_SCALE})")
        if len(self.choice) != len(self.edges) + 1 or any(not 0 <= c < len(self.bank) for c in self.choice):
            raise ConfigError(f"adaptive refinement choice {self.choice!r} invalid; allowed {len(self.edges) + 1} "
                              f"indices in 0..{len(self.bank) - 1}")

    @property
    def frac_bits(self) -> int:
        """The bank's common precision."""
        return self.bank[0].frac_bits

    def bins(self, profiles: np.ndarray, pixel: np.ndarray, input_bits: int = 8) -> np.ndarray:
        """The width bin of every profile around its `pixel`."""
        narrow, wide = width_probe(profiles, pixel, input_bits)
        edges = np.asarray(self.edges, dtype=np.int64)
        return (EDGE_SCALE * narrow[:, None] >= edges[None, :] * wide[:, None]).sum(axis=1)

    def positions(self, profiles: np.ndarray, pixel: np.ndarray, input_bits: int = 8) -> np.ndarray:
        """Positions in units of `2^-F` px, each profile's from the bank member its width bin selects."""
        members = np.asarray(self.choice)[self.bins(profiles, pixel, input_bits)]
        candidates = np.stack([r.positions(profiles, pixel, input_bits) for r in self.bank])
        return candidates[members, np.arange(members.size)]


def learn_adaptive(name: str, bank: tuple[Refinement, ...], profiles: np.ndarray, pixel: np.ndarray,
                   centres: np.ndarray, n_bins: int = 8, input_bits: int = 8) -> AdaptiveRefinement:
    """Edges at the width ratio's quantiles and, per bin, the bank member of least `mean(min(err^2, 1))`
    on these (TRAINING) line profiles around `pixel`."""
    if n_bins < 1 or len(profiles) < n_bins:
        raise ConfigError(f"{n_bins} bins over {len(profiles)} profiles invalid; allowed 1 <= bins <= profiles")
    narrow, wide = width_probe(profiles, pixel, input_bits)
    ratio = EDGE_SCALE * narrow / np.maximum(wide, 1)
    edges = tuple(sorted({int(np.ceil(q)) for q in np.quantile(ratio, np.linspace(0, 1, n_bins + 1)[1:-1])}))
    adaptive = AdaptiveRefinement(name, bank, edges, (0,) * (len(edges) + 1))
    bins = adaptive.bins(profiles, pixel, input_bits)
    scale = float(1 << adaptive.frac_bits)
    errors = np.stack([np.minimum((r.positions(profiles, pixel, input_bits) / scale - centres) ** 2, 1.0) for r in bank])
    choice = tuple(int(np.argmin(errors[:, bins == b].mean(axis=1))) if np.any(bins == b) else 0
                   for b in range(len(edges) + 1))
    return AdaptiveRefinement(name, bank, edges, choice)


def box_taps(order: int) -> tuple[int, ...]:
    """Blais–Rioux BR-`order` derivative: `order / 2` taps of -1, a 0, `order / 2` taps of +1."""
    half = order // 2
    return (-1,) * half + (0,) + (1,) * half


def triangle_taps(half: int) -> tuple[int, ...]:
    """A triangular-weighted derivative: `sign(t) * (half + 1 - |t|)` for `|t| <= half`."""
    return tuple(int(np.sign(t) * (half + 1 - abs(t))) for t in range(-half, half + 1))


PROBE_NARROW = Refinement("br4", box_taps(4))
PROBE_WIDE = Refinement("br10", box_taps(10))
REFINEMENTS: dict[str, Refinement] = {r.name: r for r in (
    *(Refinement(f"br{order}", box_taps(order)) for order in (4, 6, 8, 10)),
    *(Refinement(f"tri{half}", triangle_taps(half)) for half in (3, 4, 6)),
    # derivatives of Gaussians (sigma 1.5, 2, 2.5 px) rounded to 4-bit signed taps
    Refinement("dog1.5", (-1, -3, -7, -7, 0, 7, 7, 3, 1)),
    Refinement("dog2", (-1, -3, -6, -7, -5, 0, 5, 7, 6, 3, 1)),
    Refinement("dog2.5", (-2, -3, -5, -7, -7, -4, 0, 4, 7, 7, 5, 3, 2)),
)}
"""Named refinements, the candidates an experiment chooses among on validation data."""
ADAPTIVE_BANK = ("tri3", "tri4", "dog1.5", "dog2", "dog2.5")
"""The bank `learn_adaptive` chooses from: matched to line widths from about 0.7 to 3 px."""
DEFAULT_REFINEMENT = "br8"


def named_refinement(name: str) -> Refinement:
    """The registered refinement called `name`; ConfigError listing the allowed names otherwise."""
    if name not in REFINEMENTS:
        raise ConfigError(f"unknown refinement {name!r}; allowed {sorted(REFINEMENTS)}")
    return REFINEMENTS[name]
