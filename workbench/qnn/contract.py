"""The `qnn-int/1` integer contract: parse, validate and compute the ranges of a network document.

The document is the one interface between training and hardware (see `docs/contract.md`). A
reader only accepts a document after checking every type, shape and weight range and after
recomputing every `acc_min/acc_max/prod_min/prod_max` bound: a document whose ranges disagree is
rejected, so hardware sized from them can never wrap around.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from workbench.errors import ContractError

FORMAT = "qnn-int/1"
# The head key version 2 adds; a version-1 document carrying it is rejected, not read as the network-only head.
REFINEMENT_KEY = "refinement"
INPUT_BITS = (8, 10, 12)
MIN_BITS, MAX_BITS = 2, 8  # weight and activation widths a layer may use
MULTIPLIER_LIMIT = 1 << 16  # multipliers lie in [0, 2^16)
MAX_SHIFT = 48
BOUND_LIMIT = 1 << 52  # no accumulator or product bound may exceed this magnitude
REFINES = ("parabolic", "centroid", "none")
MAX_FRAC_BITS = 16
MAX_WINDOW = 8

Document = dict[str, Any]


def activation_range(bits: int, signed: bool) -> tuple[int, int]:
    """`(lo, hi)` of a requantizer's output: two's complement when signed, else `[0, 2^bits - 1]`."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


@dataclass(frozen=True)
class ConvLayer:
    """A `qconv1d` or `qdense` layer; weights are always `(kernel_size, in_channels, out_channels)`."""

    name: str
    kind: str  # "qconv1d" or "qdense"
    kernel_size: int
    in_channels: int
    out_channels: int
    weight_bits: int
    weights: np.ndarray
    bias: np.ndarray
    acc_min: np.ndarray
    acc_max: np.ndarray

    @property
    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per output pixel."""
        return self.kernel_size * self.in_channels * self.out_channels


@dataclass(frozen=True)
class RequantLayer:
    """A `requantizer`: `clip(floor((acc * multiplier + r) / 2^shift), lo, hi)` per channel."""

    name: str
    bits: int
    signed: bool
    multiplier: np.ndarray
    shift: int
    prod_min: np.ndarray
    prod_max: np.ndarray

    @property
    def lo(self) -> int:
        """Smallest output value."""
        return activation_range(self.bits, self.signed)[0]

    @property
    def hi(self) -> int:
        """Largest output value."""
        return activation_range(self.bits, self.signed)[1]

    @property
    def rounding(self) -> int:
        """The rounding constant `r` (half up)."""
        return 1 << (self.shift - 1) if self.shift > 0 else 0


@dataclass(frozen=True)
class PeakHead:
    """The `peak` head: arg-max, threshold and sub-pixel refinement in units of `2^-frac_bits` px."""

    refine: str
    window: int
    threshold: int
    frac_bits: int


Layer = Union[ConvLayer, RequantLayer]


@dataclass(frozen=True)
class Network:
    """A validated `qnn-int/1` network."""

    input_bits: int
    layers: tuple[Layer, ...]
    head: PeakHead
    document: Document

    @property
    def input_range(self) -> tuple[int, int]:
        """The unsigned input range `[0, 2^bits - 1]`."""
        return 0, (1 << self.input_bits) - 1

    @property
    def conv_layers(self) -> tuple[ConvLayer, ...]:
        """The convolution and dense layers, in order."""
        return tuple(layer for layer in self.layers if isinstance(layer, ConvLayer))

    @property
    def score_range(self) -> tuple[int, int]:
        """Bounds of the score (the last layer's accumulator)."""
        last = self.conv_layers[-1]
        return int(last.acc_min[0]), int(last.acc_max[0])

    @property
    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per pixel of the whole network."""
        return sum(layer.macs_per_pixel for layer in self.conv_layers)


def bit_width(lo: int, hi: int) -> int:
    """Smallest two's complement width `w` with `-2^(w-1) <= lo` and `hi <= 2^(w-1) - 1`."""
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ContractError(f"empty range [{lo}, {hi}]")
    width = 1
    while lo < -(1 << (width - 1)) or hi > (1 << (width - 1)) - 1:
        width += 1
    return width


def conv_acc_range(weights: np.ndarray, bias: np.ndarray, lo: int, hi: int) -> tuple[list[int], list[int]]:
    """Interval bounds of `acc[., o]` for inputs in `[lo, hi]` (with `lo <= 0 <= hi`, so padding fits)."""
    acc_min, acc_max = [], []
    for o in range(weights.shape[2]):
        column = [int(w) for w in weights[:, :, o].ravel()]
        acc_min.append(int(bias[o]) + sum(min(w * lo, w * hi) for w in column))
        acc_max.append(int(bias[o]) + sum(max(w * lo, w * hi) for w in column))
    return acc_min, acc_max


def requant_prod_range(acc_min: np.ndarray, acc_max: np.ndarray, multiplier: np.ndarray,
                       shift: int) -> tuple[list[int], list[int]]:
    """Bounds of `acc * multiplier + r` per channel (multipliers are non-negative)."""
    r = 1 << (shift - 1) if shift > 0 else 0
    lows = [int(a) * int(m) + r for a, m in zip(acc_min, multiplier)]
    highs = [int(a) * int(m) + r for a, m in zip(acc_max, multiplier)]
    return lows, highs


def fill_ranges(document: Document) -> Document:
    """A copy of `document` with every `acc_*`/`prod_*` range computed from its weights.

    Structure is checked as in `load_network`; only the range keys are (re)written.
    """
    doc = copy.deepcopy(document)
    _check_top(doc)
    lo, hi = 0, (1 << int(doc["input"]["bits"])) - 1
    acc: tuple[list[int], list[int]] | None = None
    for index, entry in enumerate(doc["layers"]):
        where = _where(index, entry)
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind in ("qconv1d", "qdense"):
            weights = _weights(entry, kind, where)
            bias = _int_vector(entry.get("bias"), weights.shape[2], f"{where} bias")
            acc = conv_acc_range(weights, bias, lo, hi)
            entry["acc_min"], entry["acc_max"] = acc
        elif kind == "requantizer":
            if acc is None:
                raise ContractError(f"{where}: a requantizer must follow a qconv1d or qdense layer")
            bits, signed = _requant_format(entry, where)
            multiplier = _int_vector(entry.get("multiplier"), len(acc[0]), f"{where} multiplier")
            shift = _int_in(entry.get("shift"), 0, MAX_SHIFT, f"{where} shift")
            entry["prod_min"], entry["prod_max"] = requant_prod_range(
                np.array(acc[0], dtype=object), np.array(acc[1], dtype=object), multiplier, shift)
            lo, hi = activation_range(bits, signed)
            acc = None
        else:
            raise ContractError(f"{where}: unknown layer type {kind!r}; allowed: qconv1d, qdense, requantizer")
    return doc


def load_network(source: Union[Document, str, Path]) -> Network:
    """Parse and validate a `qnn-int/1` document (a dict or a JSON file path)."""
    doc = read_document(source)
    _check_top(doc)
    input_bits = int(doc["input"]["bits"])
    expected = fill_ranges(doc)
    layers: list[Layer] = []
    channels = 1
    raw_layers = doc["layers"]
    for index, entry in enumerate(raw_layers):
        where = _where(index, entry)
        last = index == len(raw_layers) - 1
        if entry["type"] in ("qconv1d", "qdense"):
            if layers and isinstance(layers[-1], ConvLayer):
                raise ContractError(f"{where}: two weight layers in a row; a requantizer must separate them")
            layer = _conv_layer(entry, expected["layers"][index], where)
            if layer.in_channels != channels:
                raise ContractError(f"{where}: in_channels {layer.in_channels} does not match the "
                                    f"{channels} channels coming in")
            channels = layer.out_channels
        else:
            if last:
                raise ContractError(f"{where}: the last layer must be qconv1d or qdense (the score "
                                    "accumulator has no requantizer)")
            layer = _requant_layer(entry, expected["layers"][index], where)
        layers.append(layer)
    if channels != 1:
        raise ContractError(f"last layer has {channels} output channels; the score layer must have 1")
    head = _head(doc.get("head"))
    return Network(input_bits, tuple(layers), head, doc)


def read_document(source: Union[Document, str, Path]) -> Document:
    """The document itself, or the JSON file at `source` (a missing or malformed file is a ContractError)."""
    if isinstance(source, dict):
        return source
    path = Path(source)
    if not path.is_file():
        raise ContractError(f"network document {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ContractError(f"network document {path} is not valid JSON: {exc}") from None


def _check_top(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ContractError(f"a qnn-int/1 document is a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ContractError(f"format is {doc.get('format')!r}; expected {FORMAT!r}")
    inp = doc.get("input")
    bits = inp.get("bits") if isinstance(inp, dict) else None
    if not _is_int(bits) or bits not in INPUT_BITS:
        raise ContractError(f"input.bits is {bits!r}; allowed: {list(INPUT_BITS)}")
    layers = doc.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ContractError("layers must be a non-empty list")
    for index, entry in enumerate(layers):
        if not isinstance(entry, dict):
            raise ContractError(f"layer {index} must be an object, got {type(entry).__name__}")


def _where(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"layer {index} ({name})" if name else f"layer {index}"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_in(value: Any, lo: int, hi: int, what: str) -> int:
    if not _is_int(value) or not lo <= value <= hi:
        raise ContractError(f"{what} is {value!r}; allowed: an integer in [{lo}, {hi}]")
    return int(value)


def _int_array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=object)
    except ValueError:
        array = None
    if array is None or array.shape != shape:
        got = None if array is None else array.shape
        raise ContractError(f"{what} has shape {got}; expected {shape}")
    bad = [v for v in array.ravel() if not _is_int(v)]
    if bad:
        raise ContractError(f"{what} holds non-integer value {bad[0]!r}; only integers are allowed")
    big = [v for v in array.ravel() if abs(int(v)) > BOUND_LIMIT]
    if big:
        raise ContractError(f"{what} holds {big[0]}, beyond the 2^52 bound")
    return array.astype(np.int64)


def _int_vector(value: Any, length: int, what: str) -> np.ndarray:
    return _int_array(value, (length,), what)


def _weights(entry: Document, kind: str, where: str) -> np.ndarray:
    cin = _int_in(entry.get("in_channels"), 1, 4096, f"{where} in_channels")
    cout = _int_in(entry.get("out_channels"), 1, 4096, f"{where} out_channels")
    if kind == "qdense":
        return _int_array(entry.get("weights"), (cin, cout), f"{where} weights")[None]
    k = entry.get("kernel_size")
    if not _is_int(k) or k < 1 or k % 2 == 0 or k > 255:
        raise ContractError(f"{where} kernel_size is {k!r}; allowed: an odd integer in [1, 255]")
    return _int_array(entry.get("weights"), (int(k), cin, cout), f"{where} weights")


def _requant_format(entry: Document, where: str) -> tuple[int, bool]:
    bits = _int_in(entry.get("bits"), MIN_BITS, MAX_BITS, f"{where} bits")
    signed = entry.get("signed", False)
    if not isinstance(signed, bool):
        raise ContractError(f"{where} signed is {signed!r}; allowed: true or false")
    return bits, signed


def _check_range(entry: Document, expected: Document, keys: tuple[str, str], where: str) -> tuple[np.ndarray, ...]:
    out = []
    for key in keys:
        if key not in entry:
            raise ContractError(f"{where}: missing {key}")
        want = expected[key]
        if [int(v) if _is_int(v) else v for v in entry[key]] != want:
            raise ContractError(f"{where} {key} is {entry[key]}, but the weights and input range give {want}")
        too_big = [v for v in want if abs(v) > BOUND_LIMIT]
        if too_big:
            raise ContractError(f"{where} {key} bound {too_big[0]} exceeds 2^52")
        out.append(np.array(want, dtype=np.int64))
    return tuple(out)


def _conv_layer(entry: Document, expected: Document, where: str) -> ConvLayer:
    kind = entry["type"]
    weights = _weights(entry, kind, where)
    bits = _int_in(entry.get("weight_bits"), MIN_BITS, MAX_BITS, f"{where} weight_bits")
    limit = (1 << (bits - 1)) - 1
    worst = int(np.abs(weights).max())
    if worst > limit:
        raise ContractError(f"{where} weight {worst} (in magnitude) does not fit {bits} bits; "
                            f"allowed: |w| <= {limit}")
    k, cin, cout = weights.shape
    bias = _int_vector(entry.get("bias"), cout, f"{where} bias")
    acc_min, acc_max = _check_range(entry, expected, ("acc_min", "acc_max"), where)
    return ConvLayer(entry.get("name", ""), kind, k, cin, cout, bits, weights, bias, acc_min, acc_max)


def _requant_layer(entry: Document, expected: Document, where: str) -> RequantLayer:
    bits, signed = _requant_format(entry, where)
    multiplier = np.array(entry["multiplier"], dtype=np.int64)
    bad = [int(m) for m in multiplier if not 0 <= m < MULTIPLIER_LIMIT]
    if bad:
        raise ContractError(f"{where} multiplier {bad[0]} is out of range; allowed: [0, 2^16)")
    prod_min, prod_max = _check_range(entry, expected, ("prod_min", "prod_max"), where)
    return RequantLayer(entry.get("name", ""), bits, signed, multiplier, int(entry["shift"]), prod_min, prod_max)


def _head(head: Any) -> PeakHead:
    if not isinstance(head, dict) or head.get("type") != "peak":
        raise ContractError(f"head must be an object with type 'peak', got {head!r}")
    if REFINEMENT_KEY in head:
        raise ContractError(f"head.{REFINEMENT_KEY} is a qnn-int/2 section, not allowed in a {FORMAT} document; "
                            f"allowed: format 'qnn-int/2', or no head.{REFINEMENT_KEY}")
    refine = head.get("refine")
    if refine not in REFINES:
        raise ContractError(f"head refine is {refine!r}; allowed: {list(REFINES)}")
    window = _int_in(head.get("window", 1), 1, MAX_WINDOW, "head window")
    threshold = head.get("threshold")
    if not _is_int(threshold) or abs(threshold) > BOUND_LIMIT:
        raise ContractError(f"head threshold is {threshold!r}; allowed: an integer within 2^52")
    frac_bits = _int_in(head.get("frac_bits"), 0, MAX_FRAC_BITS, "head frac_bits")
    return PeakHead(refine, window, int(threshold), frac_bits)
