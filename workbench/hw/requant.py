"""The requantizer: `y = clip(floor((acc * multiplier + r) / 2^shift), lo, hi)` per channel.

Two implementations, both exact:

- product path: `acc * multiplier + r` as a canonical-signed-digit adder tree (`adder_tree`, the
  multiplier is a constant: no DSP), then one stage that shifts arithmetically and clips by
  comparing the product with `lo * 2^shift` and `(hi + 1) * 2^shift`;
- threshold path, for small unsigned outputs (`bits <= threshold_bits`): `y` is the number of
  thresholds `T_k = ceil((k * 2^shift - r) / multiplier)`, `k = 1 .. hi`, that `acc` reaches, i.e.
  `2^bits - 1` constant comparisons and no product at all (one stage).

Comparisons whose outcome the ranges already decide are left out.
"""
from __future__ import annotations

from typing import Any

from myhdl import block

from workbench.qnn.contract import RequantLayer
from workbench.hw.adder_tree import SumSpec, Term, tree_stream
from workbench.hw.arithmetic import DEFAULT_ARITHMETIC, sums_block
from workbench.hw.codegen import Emitter, render
from workbench.hw.csd import csd_digits
from workbench.hw.stream import Fmt, Stream, field_offsets, new_stream, read_field


def uses_thresholds(layer: RequantLayer, threshold_bits: int) -> bool:
    """Whether the layer is built as threshold comparisons (small unsigned, non-zero multipliers)."""
    return not layer.signed and layer.bits <= threshold_bits and all(int(m) > 0 for m in layer.multiplier)


def requant_latency(layer: RequantLayer, pipeline_stages: int, threshold_bits: int) -> int:
    """Cycles from accumulators entering to activations leaving."""
    return 1 if uses_thresholds(layer, threshold_bits) else pipeline_stages + 1


def requant_stream(layer: RequantLayer, lanes: int) -> Stream:
    """Fresh signals for the activations: `lanes` pixels of one `[lo, hi]` field per channel."""
    return new_stream([Fmt(layer.lo, layer.hi)] * (len(layer.multiplier) * lanes), lanes)


def thresholds(layer: RequantLayer, channel: int) -> list[int]:
    """`T_k = ceil((k * 2^shift - r) / m)` for `k = 1 .. hi`: `y >= k` exactly when `acc >= T_k`."""
    m = int(layer.multiplier[channel])
    return [-((layer.rounding - (k << layer.shift)) // m) for k in range(1, layer.hi + 1)]


def product_sums(layer: RequantLayer, lanes: int) -> list[SumSpec]:
    """`acc * multiplier + r` of every channel of `lanes` pixels, as sums of canonical signed digits."""
    channels = len(layer.multiplier)
    return [SumSpec(tuple(Term(f, shift, sign) for shift, sign in csd_digits(int(layer.multiplier[f % channels]))),
                    layer.rounding, Fmt(int(layer.prod_min[f % channels]), int(layer.prod_max[f % channels])))
            for f in range(channels * lanes)]


@block
def requantizer(clk: Any, rst: Any, inp: Stream, out: Stream, layer: RequantLayer, pipeline_stages: int,
                threshold_bits: int, arithmetic: str = DEFAULT_ARITHMETIC) -> Any:
    """Activations of `layer` for every beat of accumulators `inp`, driving `out` (see `requant_stream`);
    the product path's multiplications built as `arithmetic` says."""
    channels = len(layer.multiplier)
    if uses_thresholds(layer, threshold_bits):
        return select_stage(clk, rst, inp, out, [_threshold_choices(layer, c % channels, inp.fields[c])
                                            for c in range(len(inp.fields))])
    sums = product_sums(layer, inp.lanes)
    prod = tree_stream(sums, inp.lanes)
    choices = [_clip_choices(layer, fmt) for fmt in prod.fields]
    return sums_block(arithmetic)(clk, rst, inp, prod, sums, pipeline_stages), select_stage(clk, rst, prod, out, choices)


def _clip_choices(layer: RequantLayer, prod: Fmt) -> tuple[list[tuple[int, str]], str]:
    """`(threshold, value)` pairs tried from the top, and the fallback, for the shift-and-clip stage."""
    tests = []
    upper = (layer.hi + 1) << layer.shift
    if upper <= prod.hi:
        tests.append((upper, str(layer.hi)))
    lower = layer.lo << layer.shift
    middle = f"v >> {layer.shift}" if layer.shift else "v"
    if lower > prod.lo:
        tests.append((lower, middle))
        return tests, str(layer.lo)
    return tests, middle


def _threshold_choices(layer: RequantLayer, channel: int, acc: Fmt) -> tuple[list[tuple[int, str]], str]:
    """`(T_k, k)` from the top, leaving out thresholds the accumulator range never or always reaches."""
    tests = []
    for k, limit in reversed(list(enumerate(thresholds(layer, channel), start=1))):
        if limit <= acc.lo:
            return tests, str(k)
        if limit <= acc.hi:
            tests.append((limit, str(k)))
    return tests, "0"


@block
def select_stage(clk: Any, rst: Any, inp: Stream, out: Stream, choices: list[tuple[list[tuple[int, str]], str]]) -> Any:
    """One registered stage: per field, the value of the first `v >= threshold` test, else the fallback."""
    e = Emitter()
    lo = min([f.lo for f in inp.fields] + [t for tests, _ in choices for t, _ in tests])
    hi = max([f.hi for f in inp.fields] + [t for tests, _ in choices for t, _ in tests])
    v = e.var("v", lo, hi)
    y = e.var("y", min(f.lo for f in out.fields), max(f.hi for f in out.fields))
    offsets = field_offsets(out.fields)
    pk = e.bits("pk", offsets[-1])
    for index, (tests, fallback) in enumerate(choices):
        e.line(f"{v}[:] = {read_field('din', inp.fields, index)}")
        for n, (threshold, value) in enumerate(tests):
            with e.indented(f"{'if' if n == 0 else 'elif'} {v} >= {e.const(threshold, lo, hi)}:"):
                e.line(f"{y}[:] = {value}")
        if tests:
            with e.indented("else:"):
                e.line(f"{y}[:] = {fallback}")
        else:
            e.line(f"{y}[:] = {fallback}")
        e.line(f"{pk}[{offsets[index + 1]}:{offsets[index]}] = {y}[{out.fields[index].width}:]")
    e.line(f"dout.next = {pk}")
    ports = {"clk": clk, "rst": rst, "din": inp.data, "dout": out.data}
    for flag in ("valid", "first", "last"):
        ports[f"din_{flag}"], ports[f"dout_{flag}"] = getattr(inp, flag), getattr(out, flag)
        e.line(f"dout_{flag}.next = din_{flag}")
    return render("select_logic", e, ports)()
