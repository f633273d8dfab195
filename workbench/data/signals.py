"""Seeded, vectorised generator of laser-line profiles with per-profile ground truth.

A profile is one sensor column crossing a laser line: `L` pixels, unsigned `bits`-deep values.
The physical model (documented with every default in `docs/signals.md`):

    expected[i] = background[i] + speckle[i] * (line[i] + reflections[i])       (DN)
    line[i]     = integral over pixel i of A * exp(-(x - centre)^2 / (2 sigma^2))  (erf)
    value[i]    = clip(round(Poisson(expected[i] * k) / k + N(0, read^2)), 0, 2^bits - 1)

with `k` electrons per DN (full well / full scale). Pixel `i`'s centre is at coordinate `i`.
SNR = A / sqrt(read^2 + expected[peak pixel] / k): line amplitude over the read plus shot noise
standard deviation at the peak. `GeneratorConfig.snr_range` draws SNR (log-uniform) and solves for
the amplitude; otherwise the amplitude is drawn log-uniform from `amplitude_range` (fractions of
full scale), so that some profiles saturate.

Robustness options (defaults: the Gaussian line above, no pattern): `asymmetry` and `flat_top` shape the
line (Gaussian shoulders of std `sigma` left and `asymmetry * sigma` right of a flat top `flat_top` px
wide, peak intensity A; `centre` is the middle of the top, the peak when there is none); `fpn_gain`
and `fpn_offset` apply a per-pixel gain and offset pattern drawn from the dataset's seed
(`fixed_pattern`), `expected[i] -> gain[i] * expected[i] + offset[i]`.

Ground truth (`generate` returns it as a dict of length-N arrays): `centre` (px, NaN when empty),
`sigma` (px, NaN when empty), `amplitude` (DN, 0 when empty), `snr` (0 when empty), `saturated`
(a pixel of the line's core, within 2 sigma + 1 of the centre, sits at full scale), `reflection` (one or two secondary
peaks present), `empty` (no laser line).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Iterator

import numba
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import erf

from workbench.errors import ConfigError

ALLOWED_BITS = (8, 10, 12)
LENGTH_RANGE = (64, 2048)
MAX_PROFILES = 10_000_000
CHUNK = 8192  # profiles rendered at once (bounds memory)
TRUTH_KEYS = ("centre", "sigma", "amplitude", "snr", "saturated", "reflection", "empty")

Range = tuple[float, float]


@dataclass(frozen=True)
class GeneratorConfig:
    """Every parameter of the generator; amplitudes and backgrounds are fractions of full scale."""

    length: int = 256
    bits: int = 8
    sigma_range: Range = (0.7, 3.0)
    edge_margin: float = 8.0
    amplitude_range: Range = (0.015, 2.0)
    snr_range: Range | None = None
    full_well: float = 10_000.0
    read_noise: float = 80.0
    offset_range: Range = (0.0, 0.06)
    slope_max: float = 0.03
    bump_max: float = 0.08
    bump_sigma_range: Range = (0.1, 0.4)
    reflection_fraction: float = 0.3
    reflection_amplitude_range: Range = (0.1, 0.5)
    reflection_sigma_scale: Range = (1.0, 3.0)
    reflection_min_distance: float = 4.0
    speckle_contrast: float = 0.0
    speckle_grain: float = 2.0
    empty_fraction: float = 0.1
    asymmetry: float = 1.0
    flat_top: float = 0.0
    fpn_gain: float = 0.0
    fpn_offset: float = 0.0

    @property
    def full_scale(self) -> int:
        """Largest sensor value, 2^bits - 1."""
        return (1 << self.bits) - 1

    @property
    def electrons_per_dn(self) -> float:
        """Conversion gain k: electrons per digital number."""
        return self.full_well / self.full_scale

    @property
    def read_noise_dn(self) -> float:
        """Read noise standard deviation in DN."""
        return self.read_noise / self.electrons_per_dn

    def validate(self) -> GeneratorConfig:
        """Raise ConfigError naming the first bad parameter; return self when all are valid."""
        lo, hi = LENGTH_RANGE
        if not isinstance(self.length, int) or not lo <= self.length <= hi:
            raise ConfigError(f"profile length {self.length!r} out of range; allowed {lo}..{hi}")
        if self.bits not in ALLOWED_BITS:
            raise ConfigError(f"sensor depth {self.bits!r} bits not supported; allowed {ALLOWED_BITS}")
        _check_range("sigma_range", self.sigma_range, 0.2, self.length / 8)
        if not 0 <= self.edge_margin <= (self.length - 1) / 2:
            raise ConfigError(f"edge_margin {self.edge_margin!r} out of range; allowed 0..{(self.length - 1) / 2}")
        _check_range("amplitude_range", self.amplitude_range, 1e-4, 100.0)
        if self.snr_range is not None:
            _check_range("snr_range", self.snr_range, 0.1, 1e4)
        for name in ("full_well", "read_noise"):
            value = getattr(self, name)
            if not 0 < value < 1e9:
                raise ConfigError(f"{name} {value!r} must be positive and finite")
        _check_range("offset_range", self.offset_range, 0.0, 1.0, allow_zero=True)
        _check_range("bump_sigma_range", self.bump_sigma_range, 1e-3, 10.0)
        _check_range("reflection_amplitude_range", self.reflection_amplitude_range, 0.0, 1.0, allow_zero=True)
        _check_range("reflection_sigma_scale", self.reflection_sigma_scale, 0.1, 10.0)
        for name in ("slope_max", "bump_max", "reflection_fraction", "speckle_contrast", "empty_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} {value!r} out of range; allowed 0..1")
        if not 0 <= self.reflection_min_distance <= self.length / 4:
            raise ConfigError(f"reflection_min_distance {self.reflection_min_distance!r} out of range; "
                              f"allowed 0..{self.length / 4}")
        if not 0.1 <= self.speckle_grain <= self.length / 4:
            raise ConfigError(f"speckle_grain {self.speckle_grain!r} out of range; allowed 0.1..{self.length / 4}")
        for name, lo, hi in (("asymmetry", 0.2, 5.0), ("flat_top", 0.0, self.length / 8), ("fpn_gain", 0.0, 0.5),
                             ("fpn_offset", 0.0, 0.1)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and lo <= value <= hi):
                raise ConfigError(f"{name} {value!r} out of range; allowed {lo:g}..{hi:g}")
        return self

    @property
    def gaussian_line(self) -> bool:
        """The line is the symmetric Gaussian (no asymmetry, no flat top)."""
        return self.asymmetry == 1.0 and self.flat_top == 0.0

    @property
    def fixed_pattern_noise(self) -> bool:
        """A per-pixel gain or offset pattern is applied (`fixed_pattern`)."""
        return self.fpn_gain > 0 or self.fpn_offset > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Inverse of `to_dict`; unknown keys raise ConfigError."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown generator parameter(s) {unknown}; allowed {sorted(names)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values).validate()


def _check_range(name: str, value: Any, lo: float, hi: float, allow_zero: bool = False) -> None:
    ok = (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)
          and lo <= value[0] <= value[1] <= hi and (allow_zero or value[0] > 0))
    if not ok:
        raise ConfigError(f"{name} {value!r} invalid; allowed (low, high) with {lo} <= low <= high <= {hi:g}")


_CLEAN = dict(reflection_fraction=0.0, amplitude_range=(0.015, 0.8))
SWEEP_SNRS = (2, 4, 8, 16, 32, 64)
SWEEP_CONDITIONS = tuple(f"snr_{s}" for s in SWEEP_SNRS)  # the SNR sweep (other presets may fix SNR too)
_ROBUST = dict(snr_range=(16.0, 16.0), reflection_fraction=0.0)  # what the robustness conditions share

PRESETS: dict[str, GeneratorConfig] = {
    "mixed": GeneratorConfig(),
    **{name: GeneratorConfig(snr_range=(float(s), float(s)), reflection_fraction=0.0)
       for name, s in zip(SWEEP_CONDITIONS, SWEEP_SNRS)},
    **{f"sigma_{s:g}": GeneratorConfig(sigma_range=(s, s), snr_range=(16.0, 16.0), reflection_fraction=0.0)
       for s in (0.7, 1.5, 3.0)},
    "reflections": GeneratorConfig(snr_range=(8.0, 64.0), reflection_fraction=1.0),
    "no_reflections": GeneratorConfig(snr_range=(8.0, 64.0), reflection_fraction=0.0),
    "saturated": GeneratorConfig(amplitude_range=(1.0, 2.0), reflection_fraction=0.0),
    "unsaturated": GeneratorConfig(**_CLEAN),
    "speckle": GeneratorConfig(snr_range=(16.0, 16.0), reflection_fraction=0.0, speckle_contrast=0.3),
    # robustness conditions: test and per-condition validation only, never trained on (docs/signals.md)
    "asymmetric": GeneratorConfig(sigma_range=(0.7, 1.5), asymmetry=1.5, **_ROBUST),
    "top_hat": GeneratorConfig(sigma_range=(0.7, 1.5), flat_top=4.0, **_ROBUST),
    "sigma_0.5": GeneratorConfig(sigma_range=(0.5, 0.5), **_ROBUST),
    "sigma_4": GeneratorConfig(sigma_range=(4.0, 4.0), edge_margin=12.0, **_ROBUST),
    "fixed_pattern": GeneratorConfig(fpn_gain=0.03, fpn_offset=0.008, **_ROBUST),
    "bits_10": GeneratorConfig(bits=10, **_ROBUST),
    "bits_12": GeneratorConfig(bits=12, **_ROBUST),
}
"""Named conditions. `mixed` is the training/validation distribution; the others are test conditions."""

ROBUSTNESS_CONDITIONS = ("asymmetric", "top_hat", "sigma_0.5", "sigma_4", "fixed_pattern", "bits_10", "bits_12")
"""Conditions outside the training distribution (line shape, width, fixed-pattern noise, sensor depth):
every method is reported on them, none is trained on them."""


CLEAN_CONDITIONS = (*SWEEP_CONDITIONS, "sigma_0.7", "sigma_1.5", "sigma_3")
"""The clean presets (`is_clean`): the SNR and sigma sweeps. "Clean" means this everywhere."""


def worst_case_peak(config: GeneratorConfig) -> float:
    """The largest noiseless expected value (DN) a line's peak pixel can have, reflections and speckle
    aside: the highest background (offset + half the slope + bump) under the brightest, widest line."""
    background = config.full_scale * (config.offset_range[1] + config.slope_max / 2 + config.bump_max)
    sigma = np.array([config.sigma_range[1]])
    if config.snr_range is not None:
        amplitude = amplitude_for_snr(np.array([config.snr_range[1]]), np.array([background]), sigma, config)
    else:
        amplitude = np.array([config.amplitude_range[1] * config.full_scale])
    return float(background + line_peak_fraction(config, sigma)[0] * amplitude[0])


def is_clean(config: GeneratorConfig) -> bool:
    """A Gaussian line, no fixed-pattern noise, no secondary reflections, no speckle, and no saturation in
    the model: the noiseless expectation stays below full scale - 1/2 (noise alone may still clip a pixel
    in an extreme corner)."""
    return (config.gaussian_line and not config.fixed_pattern_noise and config.reflection_fraction == 0
            and config.speckle_contrast == 0 and worst_case_peak(config) < config.full_scale - 0.5)


def preset(name: str, **overrides: Any) -> GeneratorConfig:
    """A named preset, optionally with some parameters replaced; validated."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; allowed {sorted(PRESETS)}")
    names = {f.name for f in fields(GeneratorConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown generator parameter(s) {unknown}; allowed {sorted(names)}")
    return replace(PRESETS[name], **overrides).validate()


def preset_snr(name: str) -> float | None:
    """The fixed SNR of a preset (None when its SNR varies per profile)."""
    rng = PRESETS[name].snr_range if name in PRESETS else None
    return rng[0] if rng is not None and rng[0] == rng[1] else None


def pixel_gaussian(centre: np.ndarray, sigma: np.ndarray, amplitude: np.ndarray, length: int) -> np.ndarray:
    """(N, L) pixel-integrated Gaussians: the integral over [i-1/2, i+1/2] of A exp(-(x-c)^2/(2 s^2))."""
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    z = (edges[None, :] - centre[:, None]) / (sigma[:, None] * math.sqrt(2.0))
    cdf = erf(z)
    scale = amplitude * sigma * math.sqrt(math.pi / 2.0)
    return scale[:, None] * np.diff(cdf, axis=1)


def peak_fraction(sigma: np.ndarray) -> np.ndarray:
    """Value of a centred pixel-integrated unit-amplitude Gaussian (≤ 1): the peak-pixel share of A."""
    return sigma * math.sqrt(2.0 * math.pi) * erf(0.5 / (sigma * math.sqrt(2.0)))


def _shaped_line_cdf(x: np.ndarray, centre: np.ndarray, sigma: np.ndarray, asymmetry: float,
                     flat_top: float) -> np.ndarray:
    """Integral up to `x` (N, E) of a unit-amplitude line: flat at 1 over `flat_top` px about `centre`, with
    Gaussian shoulders of std `sigma` on the left and `asymmetry * sigma` on the right (0 at x = -inf)."""
    left, right = centre - flat_top / 2.0, centre + flat_top / 2.0
    s_left, s_right = sigma, asymmetry * sigma
    rise = s_left * math.sqrt(math.pi / 2.0) * (1.0 + erf((np.minimum(x, left) - left) / (s_left * math.sqrt(2.0))))
    top = np.clip(x - left, 0.0, flat_top)
    fall = s_right * math.sqrt(math.pi / 2.0) * erf((np.maximum(x, right) - right) / (s_right * math.sqrt(2.0)))
    return rise + top + fall


def pixel_line(config: GeneratorConfig, centre: np.ndarray, sigma: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """(N, L) pixel-integrated lines of the configured shape with peak intensity `amplitude` (DN per pixel
    width): `pixel_gaussian` for the Gaussian line, else a flat top of `flat_top` px (centred on `centre`)
    with shoulders of std `sigma` (left) and `asymmetry * sigma` (right)."""
    if config.gaussian_line:
        return pixel_gaussian(centre, sigma, amplitude, config.length)
    edges = np.arange(config.length + 1, dtype=np.float64)[None, :] - 0.5
    cdf = _shaped_line_cdf(edges, centre[:, None], sigma[:, None], config.asymmetry, config.flat_top)
    return amplitude[:, None] * np.diff(cdf, axis=1)


def line_peak_fraction(config: GeneratorConfig, sigma: np.ndarray) -> np.ndarray:
    """The peak-pixel share of A for the configured line shape, the line centred on the pixel."""
    if config.gaussian_line:
        return peak_fraction(sigma)
    edges = np.array([[-0.5, 0.5]])
    cdf = _shaped_line_cdf(edges, np.zeros((sigma.size, 1)), sigma[:, None], config.asymmetry, config.flat_top)
    return cdf[:, 1] - cdf[:, 0]


def amplitude_for_snr(snr: np.ndarray, background: np.ndarray, sigma: np.ndarray,
                      config: GeneratorConfig) -> np.ndarray:
    """Amplitude A (DN) with A / sqrt(read^2 + (f A + background) / k) = snr (f: peak-pixel share)."""
    k = config.electrons_per_dn
    b = snr**2 * line_peak_fraction(config, sigma) / k
    c = snr**2 * (config.read_noise_dn**2 + np.maximum(background, 0.0) / k)
    return (b + np.sqrt(b * b + 4.0 * c)) / 2.0


def snr_of(amplitude: np.ndarray, background: np.ndarray, sigma: np.ndarray,
           config: GeneratorConfig) -> np.ndarray:
    """SNR of a line: amplitude over the read plus shot noise std at its peak pixel."""
    expected = line_peak_fraction(config, sigma) * amplitude + np.maximum(background, 0.0)
    return amplitude / np.sqrt(config.read_noise_dn**2 + expected / config.electrons_per_dn)


@numba.njit(cache=True, nogil=True)
def _portable_exp_kernel(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = math.exp(x[i])


def portable_exp(x: np.ndarray) -> np.ndarray:
    """`exp` element by element with the C library's scalar `exp` (`math.exp`), the same on every x86-64 CPU.

    NumPy dispatches `np.exp` on float64 to its own AVX-512 code where the CPU has it, which differs from the
    C library in the last bit for some inputs: the same seed then gave other ground-truth floats (and dataset
    content hashes) on an AVX-512 machine than on others."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _portable_exp_kernel(x.reshape(-1), out.reshape(-1))
    return out


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return portable_exp(rng.uniform(math.log(lo), math.log(hi), n))


def _background(config: GeneratorConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """(N, L) offset + slope + broad ambient bump, in DN."""
    length, fs = config.length, config.full_scale
    x = np.arange(length, dtype=np.float64)[None, :]
    offset = rng.uniform(*config.offset_range, n)[:, None] * fs
    slope = rng.uniform(-config.slope_max, config.slope_max, n)[:, None] * fs
    bump_height = rng.uniform(0.0, config.bump_max, n)[:, None] * fs
    bump_centre = rng.uniform(0.0, length - 1, n)[:, None]
    bump_sigma = rng.uniform(*config.bump_sigma_range, n)[:, None] * length
    bump = bump_height * portable_exp(-0.5 * ((x - bump_centre) / bump_sigma) ** 2)
    return offset + slope * (x / (length - 1) - 0.5) + bump


def _reflections(config: GeneratorConfig, centre: np.ndarray, sigma: np.ndarray, amplitude: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n, L) one or two weaker, possibly wider secondary peaks, and whether any was placed.

    Each lies uniformly on one side of the line beyond `reflection_min_distance + flat_top / 2 + 2 (sigma
    max(1, asymmetry) + its sigma)`; the second one on the other side, so they never add up to the line's height.
    """
    n = centre.size
    total = np.zeros((n, config.length))
    placed = np.zeros(n, dtype=bool)
    count = rng.integers(1, 3, n)
    prefer_left = rng.uniform(size=n) < 0.5
    for k in (1, 2):
        rel = rng.uniform(*config.reflection_amplitude_range, n)
        r_sigma = sigma * rng.uniform(*config.reflection_sigma_scale, n)
        exclusion = config.reflection_min_distance + config.flat_top / 2.0 + 2.0 * (sigma * max(1.0, config.asymmetry)
                                                                                    + r_sigma)
        left_room = np.clip(centre - exclusion, 0.0, None)
        right_room = np.clip(config.length - 1 - (centre + exclusion), 0.0, None)
        if k == 1:  # the preferred side, or the other when it has no room
            left_side = np.where(prefer_left, left_room > 0, right_room <= 0)
        else:
            left_side = ~left_side
        u = rng.uniform(0.0, 1.0, n)
        pos = np.where(left_side, u * left_room, centre + exclusion + u * right_room)
        on = (count >= k) & (np.where(left_side, left_room, right_room) > 0)
        total += on[:, None] * pixel_gaussian(pos, r_sigma, rel * amplitude, config.length)
        placed |= on
    return total, placed


def _speckle(config: GeneratorConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """(N, L) multiplicative speckle factor, mean 1, std `speckle_contrast`, grain `speckle_grain` px."""
    white = rng.standard_normal((n, config.length))
    smooth = gaussian_filter1d(white, config.speckle_grain, axis=1, mode="wrap")
    smooth /= smooth.std(axis=1, keepdims=True)
    return np.clip(1.0 + config.speckle_contrast * smooth, 0.0, None)


@dataclass(frozen=True)
class FixedPattern:
    """Fixed-pattern noise of one dataset: every profile's expected value `e[i]` becomes
    `gain[i] * e[i] + offset[i]` (DN), the same `gain` and `offset` (L,) for all its profiles."""

    gain: np.ndarray
    offset: np.ndarray


FIXED_PATTERN_STREAM = 0xF1  # mixed with the dataset seed: the pattern's own stream, apart from the chunks'


def fixed_pattern(config: GeneratorConfig, seed: int) -> FixedPattern | None:
    """The dataset's per-pixel pattern, drawn from its seed alone (None without fixed-pattern noise):
    gain `max(0, 1 + fpn_gain g)` and offset `fpn_offset FS h`, `g`, `h` white standard normal."""
    if not config.fixed_pattern_noise:
        return None
    rng = np.random.default_rng([int(seed), FIXED_PATTERN_STREAM])
    gain = np.clip(1.0 + config.fpn_gain * rng.standard_normal(config.length), 0.0, None)
    offset = config.fpn_offset * config.full_scale * rng.standard_normal(config.length)
    return FixedPattern(gain, offset)


@dataclass(frozen=True)
class NoiselessScene:
    """The noiseless side of some profiles: what the noise is drawn around, and what made it.

    `expected` (N, L) is the expected value of every pixel in DN before noise (clipped at 0);
    `background` (N, L) its background part; `line_gain` (N, L) the speckle factor multiplying the line
    and reflections (all ones without speckle); the other arrays are the per-profile truth
    (`reflection`: a secondary reflection was placed).
    """

    expected: np.ndarray
    background: np.ndarray
    line_gain: np.ndarray
    centre: np.ndarray
    sigma: np.ndarray
    amplitude: np.ndarray
    snr: np.ndarray
    reflection: np.ndarray
    empty: np.ndarray


def _draw_scene(config: GeneratorConfig, n: int, rng: np.random.Generator,
                pattern: FixedPattern | None) -> NoiselessScene:
    """Every random draw before the noise, in the order that fixes the generator's output."""
    empty = rng.uniform(size=n) < config.empty_fraction
    sigma = rng.uniform(*config.sigma_range, n)
    centre = rng.uniform(config.edge_margin, config.length - 1 - config.edge_margin, n)
    return _scene_of_lines(config, centre, sigma, empty, rng, pattern)


def _scene_of_lines(config: GeneratorConfig, centre: np.ndarray, sigma: np.ndarray, empty: np.ndarray,
                    rng: np.random.Generator, pattern: FixedPattern | None = None) -> NoiselessScene:
    """The draws after the lines' places and widths: background, amplitude or SNR, reflections, speckle;
    then the fixed pattern, when given, on the expectation."""
    n = centre.size
    length, fs = config.length, config.full_scale
    empty = np.asarray(empty, dtype=bool).copy()
    background = _background(config, n, rng)
    bg_at_peak = background[np.arange(n), np.clip(np.rint(centre).astype(int), 0, length - 1)]
    if config.snr_range is not None:
        snr = _log_uniform(rng, *config.snr_range, n)
        amplitude = amplitude_for_snr(snr, bg_at_peak, sigma, config)
    else:
        amplitude = _log_uniform(rng, *config.amplitude_range, n) * fs
        snr = snr_of(amplitude, bg_at_peak, sigma, config)
    amplitude[empty] = 0.0
    snr[empty] = 0.0
    signal = pixel_line(config, centre, sigma, amplitude)
    reflection = (rng.uniform(size=n) < config.reflection_fraction) & ~empty
    if reflection.any():
        idx = np.flatnonzero(reflection)
        extra, placed = _reflections(config, centre[idx], sigma[idx], amplitude[idx], rng)
        signal[idx] += extra
        reflection[idx] = placed
    gain = _speckle(config, n, rng) if config.speckle_contrast > 0 else np.ones_like(signal)
    expected = background + gain * signal
    if pattern is not None:
        expected = pattern.gain * expected + pattern.offset
    expected = np.clip(expected, 0.0, None)
    return NoiselessScene(expected, background, gain, centre, sigma, amplitude, snr, reflection, empty)


def _observe(config: GeneratorConfig, scene: NoiselessScene, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Shot and read noise around the scene's expectation, rounding, saturation; the profiles and their truth."""
    fs, k = config.full_scale, config.electrons_per_dn
    electrons = rng.poisson(scene.expected * k).astype(np.float64)
    values = electrons / k + rng.normal(0.0, config.read_noise_dn, scene.expected.shape)
    profiles = np.clip(np.rint(values), 0, fs).astype(np.uint16)
    reach = 2.0 * scene.sigma * max(1.0, config.asymmetry) + config.flat_top / 2.0 + 1.0  # the line's core
    near = np.abs(np.arange(config.length)[None, :] - scene.centre[:, None]) <= reach[:, None]
    empty = scene.empty
    saturated = ((profiles == fs) & near).any(axis=1) & ~empty
    truth = {
        "centre": np.where(empty, np.nan, scene.centre),
        "sigma": np.where(empty, np.nan, scene.sigma),
        "amplitude": scene.amplitude,
        "snr": scene.snr,
        "saturated": saturated,
        "reflection": scene.reflection,
        "empty": empty,
    }
    return profiles, truth


def _render_chunk(config: GeneratorConfig, n: int, rng: np.random.Generator,
                  pattern: FixedPattern | None) -> tuple[np.ndarray, dict]:
    return _observe(config, _draw_scene(config, n, rng, pattern), rng)


def render_lines(config: GeneratorConfig, centre: np.ndarray, sigma: np.ndarray, empty: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Profiles `(n, L)` with a line at each given `centre` and `sigma` (none where `empty`), and their truth.

    Everything else (background, amplitude or SNR, reflections, speckle, noise, saturation) is drawn
    from `config` as `generate` draws it; the frame generator places its lines through this function.
    Fixed-pattern noise belongs to a dataset's seed, which this function has not: ConfigError.
    """
    if config.fixed_pattern_noise:
        raise ConfigError(f"fixed-pattern noise (fpn_gain {config.fpn_gain!r}, fpn_offset {config.fpn_offset!r}) "
                          "is drawn per dataset seed and cannot render given lines; allowed: 0 for both")
    return _observe(config, _scene_of_lines(config, centre, sigma, empty, rng), rng)


def _chunk_streams(config: GeneratorConfig, n: int, seed: int) -> Iterator[tuple[int, np.random.Generator]]:
    """(profiles in the chunk, its random generator) for every chunk of a request, after validating it."""
    config.validate()
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_PROFILES:
        raise ConfigError(f"number of profiles {n!r} out of range; allowed 1..{MAX_PROFILES}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r} invalid; allowed a non-negative integer")
    starts = range(0, int(n), CHUNK)
    streams = np.random.SeedSequence(int(seed)).spawn(len(starts))
    for start, stream in zip(starts, streams):
        yield min(CHUNK, int(n) - start), np.random.default_rng(stream)


def generate(config: GeneratorConfig, n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`n` profiles (uint16, shape (n, L)) and their ground truth; the same (config, n, seed), the same data."""
    streams = list(_chunk_streams(config, n, seed))  # validates the request first
    pattern = fixed_pattern(config, seed)
    parts = [_render_chunk(config, size, rng, pattern) for size, rng in streams]
    profiles = np.concatenate([p for p, _ in parts])
    truth = {key: np.concatenate([t[key] for _, t in parts]) for key in TRUTH_KEYS}
    return profiles, truth


def scenes(config: GeneratorConfig, n: int, seed: int) -> Iterator[NoiselessScene]:
    """The noiseless scenes of `generate(config, n, seed)`, chunk by chunk (the same draws, no noise)."""
    streams = list(_chunk_streams(config, n, seed))  # validates the request first
    pattern = fixed_pattern(config, seed)
    for size, rng in streams:
        yield _draw_scene(config, size, rng, pattern)
