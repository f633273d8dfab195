"""Cramér–Rao lower bound of the line centre under the generator's own noise model.

Pixel `i` has expectation `mu_i` (the generator's noiseless scene, `workbench.data.signals.scenes`) and,
as in `docs/yardstick.md`, Gaussian noise of variance `v_i = read^2 + mu_i / k + 1/12` (DN^2) before
rounding and clipping to `[0, FS]`. Clipped pixels are censored, not missing: a value of 0 says only
`x < 1/2` and a value of FS only `x >= FS - 1/2`, so each pixel's information about its mean is the
censored-Gaussian (Tobit) one, `censoring_factor / v_i` (1 / v_i far from both limits, 0 deep in
saturation). Saturated profiles therefore keep a finite, larger bound and stay in every figure.

Two bounds per line profile (px^2; NaN for empty profiles):

- `known`: every parameter but the centre known, every pixel used: `1 / sum_i w_i (d mu_i / d c)^2`;
- `free`: amplitude, sigma and a linear background `b0 + b1 (i - round(c))` unknown too, only the
  pixels within `window` px of the centre used: the (c, c) entry of the inverse 5 x 5 Fisher matrix.

The speckle factor and secondary reflections are treated as known: on the speckle preset the bound
is optimistic (speckle is multiplicative noise the model leaves out).

Only the Gaussian line without fixed-pattern noise is modelled (`has_bound`): for the asymmetric and
top-hat lines and the fixed-pattern condition both bounds are NaN (no bound), never a bound of another model.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import erf, log_ndtr, ndtr

from workbench.data.datasets import Dataset
from workbench.data.signals import GeneratorConfig, NoiselessScene, scenes
from workbench.errors import DatasetError

FREE_WINDOW_PX = 10
"""Half-width of the window over which the free-parameter bound is computed (px)."""
CENSORING_REACH = 8.0
"""Standard deviations from a clipping limit beyond which a pixel counts as uncensored."""


@dataclass(frozen=True)
class CentreBound:
    """Per-profile Cramér–Rao bounds of the centre (px^2), NaN for profiles without a line."""

    known: np.ndarray
    free: np.ndarray
    window: int


def pixel_variance(expected: np.ndarray, config: GeneratorConfig) -> np.ndarray:
    """Noise variance (DN^2) of each pixel: read noise, shot noise and the rounding step."""
    return config.read_noise_dn**2 + np.maximum(expected, 0.0) / config.electrons_per_dn + 1.0 / 12.0


def censoring_factor(mean: np.ndarray, variance: np.ndarray, full_scale: int) -> np.ndarray:
    """Fisher information about the mean of N(mean, variance) censored below 1/2 and at or above
    FS - 1/2, relative to the uncensored 1 / variance (1 far from both limits, 0 deep beyond one)."""
    std = np.sqrt(variance)
    low, high = (0.5 - mean) / std, (full_scale - 0.5 - mean) / std
    factor = np.ones(np.shape(mean))
    near = (low > -CENSORING_REACH) | (high < CENSORING_REACH)  # elsewhere the factor is 1 to 1e-12
    a, b = low[near], high[near]
    pdf_a, pdf_b = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi), np.exp(-0.5 * b * b) / math.sqrt(2 * math.pi)
    inside = ndtr(b) - ndtr(a) - (b * pdf_b - a * pdf_a)
    low_mass = np.exp(-a * a - math.log(2 * math.pi) - log_ndtr(a))      # pdf(a)^2 / P(x < lo)
    high_mass = np.exp(-b * b - math.log(2 * math.pi) - log_ndtr(-b))    # pdf(b)^2 / P(x >= hi)
    factor[near] = np.clip(inside + low_mass + high_mass, 0.0, 1.0)
    return factor


def line_derivatives(centre: np.ndarray, sigma: np.ndarray, amplitude: np.ndarray,
                     length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, L) derivatives of the pixel-integrated Gaussian line with respect to centre, amplitude, sigma."""
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    u = (edges[None, :] - centre[:, None]) / sigma[:, None]
    g = np.exp(-0.5 * u * u)
    d_centre = amplitude[:, None] * (g[:, :-1] - g[:, 1:])
    unit = sigma[:, None] * math.sqrt(math.pi / 2.0) * np.diff(erf(u / math.sqrt(2.0)), axis=1)
    ug = u * g
    d_sigma = amplitude[:, None] * (ug[:, :-1] - ug[:, 1:] + unit / sigma[:, None])
    return d_centre, unit, d_sigma


def has_bound(config: GeneratorConfig) -> bool:
    """Whether the bound's model covers a generator request: a Gaussian line, no fixed-pattern noise."""
    return config.gaussian_line and not config.fixed_pattern_noise


def scene_bounds(scene: NoiselessScene, config: GeneratorConfig, window: int = FREE_WINDOW_PX) -> CentreBound:
    """Both bounds for every profile of a scene (all NaN when the model does not cover it: `has_bound`)."""
    n, length = scene.expected.shape
    line = ~scene.empty
    known, free = np.full(n, np.nan), np.full(n, np.nan)
    if not line.any() or not has_bound(config):
        return CentreBound(known, free, window)
    expected, gain = scene.expected[line], scene.line_gain[line]
    centre, sigma, amplitude = scene.centre[line], scene.sigma[line], scene.amplitude[line]
    variance = pixel_variance(expected, config)
    weight = censoring_factor(expected, variance, config.full_scale) / variance
    weight = np.where(expected > 0, weight, 0.0)  # clipped at zero before the noise: no slope there
    d_centre, d_amplitude, d_sigma = (gain * d for d in line_derivatives(centre, sigma, amplitude, length))
    known[line] = 1.0 / np.sum(weight * d_centre**2, axis=1)

    peak = np.rint(centre).astype(int)
    offsets = np.arange(-window, window + 1)
    index = peak[:, None] + offsets[None, :]
    inside = (index >= 0) & (index < length)
    index = np.clip(index, 0, length - 1)
    rows = np.arange(index.shape[0])[:, None]
    w = np.where(inside, weight[rows, index], 0.0)
    columns = [d_centre[rows, index], d_amplitude[rows, index], d_sigma[rows, index],
               np.ones(index.shape), np.broadcast_to(offsets.astype(np.float64), index.shape)]
    jac = np.stack(columns, axis=2)                                   # (n, 2W+1, 5)
    fisher = np.einsum("npi,np,npj->nij", jac, w, jac)
    # pseudo-inverse: where the expectation is clipped at 0 on most of the window the background is not
    # identifiable there, while the centre still is
    free[line] = np.linalg.pinv(fisher, rcond=1e-12, hermitian=True)[:, 0, 0]
    return CentreBound(known, free, window)


@lru_cache(maxsize=64)
def _request_bounds(config_json: str, seed: int, n: int, window: int) -> tuple[np.ndarray, ...]:
    """(centres, sigmas, known, free) of the line profiles of one generator request, sorted by centre."""
    config = GeneratorConfig.from_dict(json.loads(config_json))
    parts = [(s.centre[~s.empty], s.sigma[~s.empty], scene_bounds(s, config, window), ~s.empty)
             for s in scenes(config, n, seed)]
    centres = np.concatenate([c for c, _, _, _ in parts])
    order = np.argsort(centres, kind="stable")
    arrays = (centres, np.concatenate([s for _, s, _, _ in parts]),
              np.concatenate([b.known[m] for _, _, b, m in parts]), np.concatenate([b.free[m] for _, _, b, m in parts]))
    return tuple(a[order] for a in arrays)


def dataset_bounds(dataset: Dataset, window: int = FREE_WINDOW_PX) -> CentreBound:
    """Both bounds for every profile of a dataset (or a subset of one), from the noiseless scenes its
    manifest's generator request regenerates; DatasetError when a line is not found among them."""
    manifest = dataset.manifest
    try:
        config_json, seed, n = json.dumps(manifest["config"], sort_keys=True), int(manifest["seed"]), int(manifest["n"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"dataset manifest lacks the generator request the bound needs ({exc})") from None
    centres, sigmas, known, free = _request_bounds(config_json, seed, n, window)
    wanted = ~np.asarray(dataset.truth["empty"], dtype=bool)
    truth_centre = np.asarray(dataset.truth["centre"], dtype=np.float64)[wanted]
    match = np.clip(np.searchsorted(centres, truth_centre), 0, max(centres.size - 1, 0))
    found = (np.zeros(match.shape, dtype=bool) if centres.size == 0 else
             (centres[match] == truth_centre) & (sigmas[match] == dataset.truth["sigma"][wanted]))
    if not found.all():
        raise DatasetError(f"{int((~found).sum())} line(s) of dataset {dataset.condition!r} are not among the "
                           f"profiles its manifest regenerates (seed {seed}, n {n}): the bound needs the "
                           "generator request that made the data")
    out_known, out_free = np.full(len(dataset), np.nan), np.full(len(dataset), np.nan)
    out_known[wanted], out_free[wanted] = known[match], free[match]
    return CentreBound(out_known, out_free, window)
