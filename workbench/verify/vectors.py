"""Test-vector files for the HDL testbenches: input beats, expected scores and expected results.

Every number is written as a hexadecimal word (zero-extended to whole hex digits), so values of any
width are read the same way by VHDL's `hread` and Verilog's `$fscanf("%h")`. One line per clock:

    stimulus.txt / stimulus_gaps.txt   `V U L DATA`  tvalid, tuser, tlast (0/1) and s_tdata
                                       (P lanes of B bits, lane j = pixel beat*P+j at bits
                                       [j*B+B-1 : j*B]); `stimulus_gaps.txt` has idle clocks
                                       (V = 0) between beats
    expected_scores.txt                `SCORES`      m_score_tdata of one valid score beat
                                       (P two's complement lanes of SW bits)
    expected_results.txt               `F POS`       m_found (0/1) and m_pos of one profile

`vectors.json` records the counts and widths. The expected values come from the golden model (or,
for test fixtures, from their own reference), never from the hardware under test.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.errors import ConfigError
from workbench.hw.interface import StreamDesign
from workbench.verify.beats import DEFAULT_GAP_SHARE, gap_schedule

STIMULUS = "stimulus.txt"
STIMULUS_GAPS = "stimulus_gaps.txt"
EXPECTED_SCORES = "expected_scores.txt"
EXPECTED_RESULTS = "expected_results.txt"
MANIFEST = "vectors.json"


@dataclass(frozen=True)
class VectorSet:
    """Input profiles `(N, L)` and the expected scores `(N, L)`, found `(N,)` and pos `(N,)`."""

    profiles: np.ndarray
    scores: np.ndarray
    found: np.ndarray
    pos: np.ndarray

    @property
    def value_count(self) -> int:
        """Number of values a testbench compares: every score, every found flag and every pos."""
        return int(self.scores.size + 2 * len(self.found))


def golden_vectors(network, profiles: np.ndarray) -> VectorSet:
    """Expected values for `profiles` from the golden integer model of a `workbench.qnn.contract.Network`."""
    from workbench.qnn.golden import run_golden

    result = run_golden(network, profiles)
    return VectorSet(np.asarray(profiles, dtype=np.int64), result.scores, result.found, result.pos)


def hex_digits(width: int) -> int:
    """Hex digits needed for a `width`-bit word."""
    return max(1, -(-width // 4))


def _check_range(name: str, values: np.ndarray, lo: int, hi: int) -> None:
    if values.size and (values.min() < lo or values.max() > hi):
        raise ConfigError(f"{name} values span [{values.min()}, {values.max()}], outside the "
                          f"hardware's [{lo}, {hi}]: the vectors do not fit this design")


@dataclass(frozen=True)
class StimulusClocks:
    """The input ports per clock: `valid`, `user`, `last` `(C,)` (0/1) and the lane values `(C, P)`."""

    valid: np.ndarray
    user: np.ndarray
    last: np.ndarray
    lanes: np.ndarray


def stimulus_arrays(design: StreamDesign, profiles: np.ndarray, gap_seed: int | None = None,
                    gap_share: float = DEFAULT_GAP_SHARE) -> StimulusClocks:
    """The stimulus clocks for the profiles as arrays: back to back, or with the seeded
    `workbench.verify.beats.gap_schedule` (the clocks `beats.profile_clocks` drives, vectorised)."""
    profiles = np.asarray(profiles, dtype=np.int64)
    beats = design.beats_per_profile
    values = profiles.reshape(-1, design.lanes)
    index = np.arange(len(values)) % beats
    user, last = (index == 0).astype(np.int64), (index == beats - 1).astype(np.int64)
    idle = np.asarray(gap_schedule(len(values), gap_seed, gap_share), dtype=np.int64)
    at = np.arange(len(values)) + np.cumsum(idle)      # clock of each beat
    clocks = len(values) + int(idle.sum())
    valid, user_c, last_c = (np.zeros(clocks, dtype=np.int64) for _ in range(3))
    lanes = np.zeros((clocks, design.lanes), dtype=np.int64)
    valid[at], user_c[at], last_c[at], lanes[at] = 1, user, last, values
    return StimulusClocks(valid, user_c, last_c, lanes)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ROWS_PER_CHUNK = 1 << 16


def hex_columns(words: np.ndarray, width: int) -> np.ndarray:
    """ASCII hex digits `(R, D)` of each row of `words` `(R, lanes)` packed as `beats.pack_lanes` does
    (two's complement lanes of `width` <= 63 bits, lane 0 lowest), zero-extended to D = hex_digits(lanes * width)."""
    rows, lanes = words.shape
    total = lanes * width
    digits = hex_digits(total)
    out = np.empty((rows, digits), dtype=np.uint8)
    weights = np.array([1, 2, 4, 8], dtype=np.uint8)
    for start in range(0, rows, _ROWS_PER_CHUNK):
        chunk = words[start:start + _ROWS_PER_CHUNK] & ((1 << width) - 1)
        bits = ((chunk[:, :, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(len(chunk), total)
        bits = np.pad(bits, ((0, 0), (0, 4 * digits - total)))
        nibbles = bits.reshape(len(chunk), digits, 4) @ weights
        out[start:start + len(chunk)] = _HEX[nibbles[:, ::-1]]
    return out


def _lines(*columns: np.ndarray) -> bytes:
    """Text lines from ASCII columns `(R, k)`, separated by spaces, each line ending in a newline."""
    rows = len(columns[0])
    parts = []
    for column in columns:
        parts += [column, np.full((rows, 1), ord(" "), dtype=np.uint8)]
    parts[-1] = np.full((rows, 1), ord("\n"), dtype=np.uint8)
    return np.concatenate(parts, axis=1).tobytes()


def _digit(flags: np.ndarray) -> np.ndarray:
    return (ord("0") + np.asarray(flags, dtype=np.uint8)).reshape(-1, 1)


def _stimulus_text(design: StreamDesign, clocks: StimulusClocks) -> bytes:
    return _lines(_digit(clocks.valid), _digit(clocks.user), _digit(clocks.last),
                  hex_columns(clocks.lanes, design.in_bits))


def write_vectors(folder: Path, design: StreamDesign, vectors: VectorSet, *,
                  gap_seed: int = 1, gap_share: float = DEFAULT_GAP_SHARE) -> dict:
    """Write the vector files into `folder`; returns the manifest (also written as vectors.json).

    The clocks are those of `workbench.verify.beats.profile_clocks`, written with numpy: the gap
    variant has the seeded gap schedule (1-3 idle clocks, all zero, before about `gap_share` of the beats).
    """
    n, length = vectors.profiles.shape
    if length != design.profile_length:
        raise ConfigError(f"profiles have {length} pixels, the design expects {design.profile_length}")
    lanes, b, sw, pw = design.lanes, design.in_bits, design.score_bits, design.pos_bits
    _check_range("input", vectors.profiles, 0, (1 << b) - 1)
    _check_range("score", vectors.scores, -(1 << (sw - 1)), (1 << (sw - 1)) - 1)
    _check_range("pos", vectors.pos, 0, (1 << pw) - 1)
    beats = stimulus_arrays(design, vectors.profiles)
    gaps = stimulus_arrays(design, vectors.profiles, gap_seed, gap_share)
    texts = {STIMULUS: _stimulus_text(design, beats), STIMULUS_GAPS: _stimulus_text(design, gaps),
             EXPECTED_SCORES: _lines(hex_columns(np.asarray(vectors.scores, dtype=np.int64).reshape(-1, lanes), sw))
             if vectors.scores.size else b"",
             EXPECTED_RESULTS: _lines(_digit(vectors.found), hex_columns(np.asarray(vectors.pos, dtype=np.int64)
                                                                         .reshape(-1, 1), pw)) if n else b""}
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_bytes(text)
    manifest = {
        "profiles": n, "profile_length": length, "lanes": lanes, "beats": len(beats.valid),
        "clocks_with_gaps": len(gaps.valid), "in_bits": b, "score_bits": sw, "pos_bits": pw,
        "frac_bits": design.frac_bits, "values": vectors.value_count,
        "files": {STIMULUS: "V U L DATA per clock, back to back",
                  STIMULUS_GAPS: "V U L DATA per clock, with idle clocks (V = 0)",
                  EXPECTED_SCORES: "m_score_tdata per valid score beat (hex)",
                  EXPECTED_RESULTS: "m_found m_pos per profile (pos hex)"},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def stress_profiles(rng: np.random.Generator, count: int, length: int, in_bits: int) -> np.ndarray:
    """`count` profiles that exercise the corners: empty, saturated, flat, peaks at both edges,
    ties, single hot pixels and noisy Gaussian lines of random width and amplitude."""
    full = (1 << in_bits) - 1
    x = np.arange(length)
    fixed = [
        np.zeros(length),                              # empty, all zero
        np.full(length, full),                         # saturated everywhere (a tie over all pixels)
        np.where(x == 0, full, 0),                     # hot pixel at the left edge
        np.where(x == length - 1, full, 0),            # hot pixel at the right edge
        np.where((x == 3) | (x == length - 4), full // 2, 0),   # two equal peaks (a tie)
        np.clip(full * np.exp(-0.5 * ((x - 0.3) / 1.5) ** 2), 0, full),          # peak at the edge
        np.clip(full * np.exp(-0.5 * ((x - length + 1.2) / 1.5) ** 2), 0, full),
    ]
    out = []
    for index in range(count):
        if index < len(fixed):
            out.append(fixed[index])
            continue
        kind = rng.random()
        if kind < 0.15:
            profile = rng.poisson(rng.uniform(0, full / 16), size=length)      # no line, only noise
        else:
            centre = rng.uniform(-1, length)
            sigma = rng.uniform(0.5, 4.0)
            amplitude = full * np.exp(rng.uniform(np.log(0.02), np.log(2.5)))   # some saturate
            background = rng.uniform(0, full / 10)
            profile = background + amplitude * np.exp(-0.5 * ((x - centre) / sigma) ** 2)
            profile = profile + rng.normal(0, rng.uniform(0.5, full / 40), size=length)
        out.append(profile)
    return np.clip(np.rint(np.array(out, dtype=np.float64)), 0, full).astype(np.int64)
