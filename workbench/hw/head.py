"""The peak head: `(found, pos)` per profile from the score stream, exactly as the contract defines it.

Pipeline (every stage accepts one beat per clock):

1. a window of `h` neighbours each side (`h = 1` parabolic, `window` centroid, none for `none`),
   zero padded at the profile's ends like every window (`window`);
2. a lane arg-max tree, `ceil(log2 P)` registered levels (at least one): each level keeps the left
   (lower lane) candidate unless the right one is strictly greater, so the first index wins ties;
   a candidate carries its `2h + 1` neighbours and its lane;
3. the running arg-max across the profile's beats (strictly greater replaces: first index wins),
   restarted by `first`; on `last` it hands the profile's best on;
4. refinement: `found = s[p] >= threshold`; parabolic `n = c - a`, `d = 2(2b - a - c)` (zero at
   `p = 0` and `p = L - 1`); centroid: the minimum over the in-profile part of the window (one
   stage), then `N = sum j u_j` (constant `j`: shift-and-add) and `D = sum u_j`; then the
   divider's operands `x = 2|n| 2^F + d`, `y = 2d`, which makes `floor(x / y)` the contract's
   `rdiv` magnitude (halves rounded away from zero);
5. the pipelined `divider`, then `pos = p 2^F + sign * q` (0 when not found).

The result follows the profile's last beat after a constant number of cycles, `head_latency`.
"""
from __future__ import annotations

from typing import Any

from myhdl import Signal, block, intbv

from workbench.qnn.contract import PeakHead
from workbench.hw.codegen import Emitter, render, signed_bounds
from workbench.hw.csd import csd_digits
from workbench.hw.divider import divider, quotient_bits
from workbench.hw.stream import Fmt, Stream, field_offsets, new_stream, read_field
from workbench.hw.window import window, window_latency, window_stream


TAG_FOUND, TAG_NEGATIVE, TAG_ZERO, TAG_P = 0, 1, 2, 3  # bits of the tag travelling with a division


def head_half(head: PeakHead) -> int:
    """Neighbours needed each side of the peak."""
    return {"parabolic": 1, "centroid": head.window, "none": 0}[head.refine]


def tree_levels(lanes: int) -> int:
    """Registered levels of the lane arg-max tree."""
    return max(1, (lanes - 1).bit_length())


def quotient_max(head: PeakHead) -> int:
    """Largest `|delta|` the refinement can produce."""
    if head.refine == "parabolic":
        return max(1, 1 << head.frac_bits >> 1)
    return head.window << head.frac_bits


def refine_stages(head: PeakHead) -> int:
    """Registered stages between the running arg-max and the output register."""
    if head.refine == "none":
        return 0
    numerator_stages = 2 if head.refine == "centroid" else 1
    return numerator_stages + 1 + quotient_bits(quotient_max(head))


def head_latency(head: PeakHead, lanes: int) -> int:
    """Cycles from a profile's last score beat to its result, with `valid` held high."""
    half = head_half(head)
    return (window_latency(half, lanes) if half else 0) + tree_levels(lanes) + 1 + refine_stages(head) + 1


def pos_bits(head: PeakHead, profile_length: int) -> int:
    """Width of the unsigned `pos` output: `(L - 1) * 2^F` must fit."""
    return max(1, ((profile_length - 1) << head.frac_bits).bit_length())


@block
def peak_head_unit(clk: Any, rst: Any, scores: Stream, found: Any, pos: Any, result_valid: Any,
              head: PeakHead, profile_length: int) -> Any:
    """The head over the score stream `scores` (one field per lane), driving `found`, `pos`, `result_valid`."""
    lanes = scores.lanes
    half = head_half(head)
    score = scores.fields[0]
    neigh = Fmt(min(score.lo, 0), max(score.hi, 0))
    lane_fmt = Fmt(0, lanes - 1)
    index_fmt = Fmt(0, profile_length - 1)
    candidate = [neigh] * (2 * half + 1) + [lane_fmt]
    levels = tree_levels(lanes)
    instances = []
    source = scores
    if half:
        source = window_stream(scores, half)
        instances.append(window(clk, rst, scores, source, half))
    best = new_stream(candidate, 1)
    instances.append(argmax_tree(clk, rst, source, best, lanes, half, levels))
    # the running arg-max hands on: the neighbours, the index p and the valid flag
    res_nb = [Signal(intbv(0, min=signed_bounds(neigh.lo, neigh.hi)[0], max=signed_bounds(neigh.lo, neigh.hi)[1]))
              for _ in range(2 * half + 1)]
    res_p = Signal(intbv(0)[max(1, (profile_length - 1).bit_length()):])
    res_valid = Signal(bool(0))
    instances.append(running_argmax(clk, rst, best, res_nb, res_p, res_valid, half, lanes, neigh, index_fmt))
    if head.refine == "none":
        instances.append(plain_result(clk, rst, res_nb[half], res_p, res_valid, found, pos, result_valid, head, neigh))
        return instances
    qmax = quotient_max(head)
    x_max, y_max = _divider_bounds(head, neigh)
    x = Signal(intbv(0, min=signed_bounds(0, x_max)[0], max=signed_bounds(0, x_max)[1]))
    y = Signal(intbv(0, min=signed_bounds(0, y_max)[0], max=signed_bounds(0, y_max)[1]))
    tag, q_tag = (Signal(intbv(0)[TAG_P + len(res_p):]) for _ in range(2))
    div_valid, q_valid = Signal(bool(0)), Signal(bool(0))
    q = Signal(intbv(0)[quotient_bits(qmax):])
    instances.append(refine(clk, rst, res_nb, res_p, res_valid, x, y, tag, div_valid, head, profile_length,
                             neigh, x_max, y_max))
    instances.append(divider(clk, rst, x, y, tag, div_valid, q, q_tag, q_valid, x_max, y_max, qmax))
    instances.append(divided_result(clk, rst, q, q_tag, q_valid, found, pos, result_valid, head, qmax))
    return instances


@block
def argmax_tree(clk: Any, rst: Any, inp: Stream, out: Stream, lanes: int, half: int, levels: int) -> Any:
    """Reduce the beat's lanes to one candidate (neighbours + lane), first lane winning ties."""
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": inp.data, "dout": out.data}
    width = 2 * half + 1
    cand = list(out.fields)
    a = e.var("a", min(f.lo for f in cand), max(f.hi for f in cand))
    b = e.var("b", min(f.lo for f in cand), max(f.hi for f in cand))
    # level 0 (not registered): candidate j is window fields j .. j+2h with lane j
    current: list[tuple[str, list[Fmt], int, int | None]] = [("din", list(inp.fields), j, j) for j in range(lanes)]
    for level in range(1, levels + 1):
        pairs = [current[i:i + 2] for i in range(0, len(current), 2)]
        fields = cand * len(pairs)
        offsets = field_offsets(fields)
        pk = e.bits(f"pk{level}", offsets[-1])
        bus = "dout" if level == levels else f"lv{level}"
        for n, pair in enumerate(pairs):
            dst = n * len(cand)
            if len(pair) == 1:
                _copy_candidate(e, pk, offsets, dst, pair[0], width)
                continue
            e.line(f"{a}[:] = {_score(pair[0], half)}")
            e.line(f"{b}[:] = {_score(pair[1], half)}")
            with e.indented(f"if {b} > {a}:"):
                _copy_candidate(e, pk, offsets, dst, pair[1], width)
            with e.indented("else:"):
                _copy_candidate(e, pk, offsets, dst, pair[0], width)
        if bus != "dout":
            ports[bus] = Signal(intbv(0)[offsets[-1]:])
        e.line(f"{bus}.next = {pk}")
        current = [(bus, fields, n * len(cand), None) for n in range(len(pairs))]
    for flag in ("valid", "first", "last"):
        source = f"din_{flag}"
        ports[source] = getattr(inp, flag)
        for level in range(1, levels):
            ports[f"{flag}{level}"] = Signal(bool(0))
            e.line(f"{flag}{level}.next = {source}")
            source = f"{flag}{level}"
        ports[f"dout_{flag}"] = getattr(out, flag)
        e.line(f"dout_{flag}.next = {source}")
    return render("argmax_tree_logic", e, ports)()


def _score(cand: tuple[str, list[Fmt], int, int | None], half: int) -> str:
    bus, fields, start, _ = cand
    return read_field(bus, fields, start + half)


def _copy_candidate(e: Emitter, pk: str, offsets: list[int], dst: int,
                    cand: tuple[str, list[Fmt], int, int | None], width: int) -> None:
    """Copy a candidate's neighbours (contiguous fields of the same widths) and lane into field `dst`."""
    bus, fields, start, lane = cand
    src = field_offsets(fields)
    if lane is None:  # already a packed candidate, lane included
        e.line(f"{pk}[{offsets[dst + width + 1]}:{offsets[dst]}] = {bus}[{src[start + width + 1]}:{src[start]}]")
        return
    e.line(f"{pk}[{offsets[dst + width]}:{offsets[dst]}] = {bus}[{src[start + width]}:{src[start]}]")
    e.line(f"{pk}[{offsets[dst + width + 1]}:{offsets[dst + width]}] = {lane}")


@block
def running_argmax(clk: Any, rst: Any, best: Stream, res_nb: list, res_p: Any, res_valid: Any, half: int,
                    lanes: int, neigh: Fmt, index: Fmt) -> Any:
    """Best candidate of the profile so far (strictly greater replaces); emitted on the last beat."""
    width = 2 * half + 1
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": best.data, "din_valid": best.valid,
                             "din_first": best.first, "din_last": best.last, "res_p": res_p, "res_valid": res_valid}
    vmin, vmax = signed_bounds(neigh.lo, neigh.hi)
    base_bits = max(1, (index.hi + 1).bit_length())
    ports["base"] = Signal(intbv(0)[base_bits:])
    ports["best_p"] = Signal(intbv(0)[len(res_p):])
    for k in range(width):
        ports[f"best{k}"] = Signal(intbv(0, min=vmin, max=vmax))
        ports[f"res{k}"] = res_nb[k]
    nb = [e.var(f"nb{k}", neigh.lo, neigh.hi) for k in range(width)]
    start = e.var("start", 0, index.hi + lanes)
    p = e.var("p", 0, index.hi + lanes)
    cand = e.var("cand", neigh.lo, neigh.hi)
    with e.indented("if din_valid:"):
        with e.indented("if din_first:"):
            e.line(f"{start}[:] = 0")
        with e.indented("else:"):
            e.line(f"{start}[:] = base")
        e.line(f"base.next = {start} + {lanes}")
        e.line(f"{p}[:] = {start} + {read_field('din', best.fields, width)}")
        e.line(f"{cand}[:] = {read_field('din', best.fields, half)}")
        with e.indented(f"if din_first or {cand} > best{half}:"):
            for k in range(width):
                e.line(f"{nb[k]}[:] = {read_field('din', best.fields, k)}")
            e.line(f"best_p.next = {p}[{len(res_p)}:]")
            e.line(f"res_p.next = {p}[{len(res_p)}:]")
        with e.indented("else:"):
            for k in range(width):
                e.line(f"{nb[k]}[:] = best{k}")
            e.line("res_p.next = best_p")
        for k in range(width):
            e.line(f"best{k}.next = {nb[k]}")
            e.line(f"res{k}.next = {nb[k]}")
        e.line("res_valid.next = din_last")
    with e.indented("else:"):
        e.line("res_valid.next = 0")
    return render("running_argmax_logic", e, ports)()


def _divider_bounds(head: PeakHead, neigh: Fmt) -> tuple[int, int]:
    """Largest divider operands `x = 2|n| 2^F + d`, `y = 2d`."""
    span = neigh.hi - neigh.lo
    if head.refine == "parabolic":
        n_max, d_max = 2 * span, 8 * span
    else:
        w = head.window
        n_max, d_max = w * (w + 1) // 2 * span, (2 * w + 1) * span
    return (n_max << (head.frac_bits + 1)) + d_max, 2 * d_max


@block
def refine(clk: Any, rst: Any, res_nb: list, res_p: Any, res_valid: Any, x: Any, y: Any, tag: Any, valid: Any,
            head: PeakHead, length: int, neigh: Fmt, x_max: int, y_max: int) -> Any:
    """Numerator and denominator of `delta` and the divider's operands, with the found/sign/zero/p tag."""
    half = head_half(head)
    width = 2 * half + 1
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "res_p": res_p, "res_valid": res_valid, "x": x, "y": y,
                             "tag": tag, "valid": valid}
    ports.update({f"res{k}": res_nb[k] for k in range(width)})
    span = neigh.hi - neigh.lo
    if head.refine == "parabolic":
        num_lo, num_hi, den_lo, den_hi = -2 * span, 2 * span, -8 * span, 8 * span
    else:
        w = head.window
        num_lo, num_hi = -(w * (w + 1) // 2) * span, w * (w + 1) // 2 * span
        den_lo, den_hi = -(2 * w + 1) * span, (2 * w + 1) * span
    regs = {"n": (num_lo, num_hi), "d": (den_lo, den_hi)}
    for name, (lo, hi) in regs.items():
        vmin, vmax = signed_bounds(lo, hi)
        ports[f"a_{name}"] = Signal(intbv(0, min=vmin, max=vmax))
    for name in ("found", "edge", "valid"):
        ports[f"a_{name}"] = Signal(bool(0))
    ports["a_p"] = Signal(intbv(0)[len(res_p):])
    lo = min(num_lo, den_lo, neigh.lo * 8, -x_max)
    hi = max(num_hi, den_hi, neigh.hi * 8, x_max, y_max)
    v = [e.var(f"s{k}", lo, hi) for k in range(width)]
    n, d, t = e.var("n", lo, hi), e.var("d", lo, hi), e.var("t", lo, hi)
    source = "res"
    if head.refine == "centroid":
        _centroid_min_stage(e, ports, v, half, length, neigh)
        source = "m"
    # stage A: numerator and denominator
    for k in range(width):
        e.line(f"{v[k]}[:] = {source}{k}")
    if head.refine == "parabolic":
        e.line(f"{n}[:] = {v[2]} - {v[0]}")
        e.line(f"{d}[:] = ({v[1]} << 2) - ({v[0]} << 1) - ({v[2]} << 1)")
        e.line(f"a_edge.next = res_p == 0 or res_p == {length - 1}")
    else:
        e.line(f"{t}[:] = m_min")
        for k in range(width):
            j = k - half
            with e.indented(f"if {_inside('m_p', j, length)}:"):
                e.line(f"{v[k]}[:] = {v[k]} - {t}")
            with e.indented("else:"):
                e.line(f"{v[k]}[:] = 0")
        e.line(f"{d}[:] = " + " + ".join(v))
        terms = [(v[k], shift, sign if k > half else -sign) for k in range(width) if k != half
                 for shift, sign in csd_digits(abs(k - half))]
        e.line(f"{n}[:] = 0 " + " ".join(("+ " if sign > 0 else "- ") + (f"({var} << {shift})" if shift else var)
                                          for var, shift, sign in terms))
        e.line("a_edge.next = 0")
    prefix = "m" if head.refine == "centroid" else "res"
    e.line(f"a_n.next = {n}")
    e.line(f"a_d.next = {d}")
    found_expr = _threshold_test(e, f"{prefix}{half}", head.threshold, neigh, lo, hi)
    e.line(f"a_found.next = {found_expr}")
    e.line(f"a_p.next = {prefix}_p")
    e.line(f"a_valid.next = {prefix}_valid")
    # stage B: divider operands and tag
    pk = e.bits("pk", len(tag))
    e.line(f"{n}[:] = a_n")
    e.line(f"{d}[:] = a_d")
    e.line(f"{pk}[:] = 0")
    e.line(f"{pk}[{TAG_FOUND}] = a_found")
    e.line(f"{pk}[{len(tag)}:{TAG_P}] = a_p")
    with e.indented(f"if a_edge or {d} <= 0:"):
        e.line(f"{pk}[{TAG_ZERO}] = 1")
        e.line("x.next = 0")
        e.line("y.next = 0")
    with e.indented("else:"):
        with e.indented(f"if {n} < 0:"):
            e.line(f"{pk}[{TAG_NEGATIVE}] = 1")
            e.line(f"{n}[:] = -{n}")
        e.line(f"{t}[:] = ({n} << {head.frac_bits + 1}) + {d}")
        e.line(f"x.next = {t}")
        e.line(f"y.next = {d} << 1")
    e.line(f"tag.next = {pk}")
    e.line("valid.next = a_valid")
    return render("refine_logic", e, ports)()


def _inside(p: str, j: int, length: int) -> str:
    """Condition that pixel `p + j` lies in the profile."""
    if j < 0:
        return f"{p} >= {-j}"
    if j > 0:
        return f"{p} <= {length - 1 - j}"
    return "True"


def _centroid_min_stage(e: Emitter, ports: dict[str, Any], v: list[str], half: int, length: int, neigh: Fmt) -> None:
    """Stage M: the minimum of the in-profile window, registered with the window, p, found inputs."""
    vmin, vmax = signed_bounds(neigh.lo, neigh.hi)
    width = 2 * half + 1
    for k in range(width):
        ports[f"m{k}"] = Signal(intbv(0, min=vmin, max=vmax))
    ports["m_min"] = Signal(intbv(0, min=vmin, max=vmax))
    ports["m_p"] = Signal(intbv(0)[len(ports["res_p"]):])
    ports["m_valid"] = Signal(bool(0))
    low = e.var("low", neigh.lo, neigh.hi)
    e.line(f"{low}[:] = res{half}")
    for k in range(width):
        if k == half:
            continue
        with e.indented(f"if {_inside('res_p', k - half, length)} and res{k} < {low}:"):
            e.line(f"{low}[:] = res{k}")
        e.line(f"m{k}.next = res{k}")
    e.line(f"m{half}.next = res{half}")
    e.line(f"m_min.next = {low}")
    e.line("m_p.next = res_p")
    e.line("m_valid.next = res_valid")


def _threshold_test(e: Emitter, score: str, threshold: int, neigh: Fmt, lo: int, hi: int) -> str:
    """`score >= threshold`, folded when the score range decides it."""
    if threshold <= neigh.lo:
        return "True"
    if threshold > neigh.hi:
        return "False"
    return f"{score} >= {e.const(threshold, lo, hi)}"


@block
def divided_result(clk: Any, rst: Any, q: Any, q_tag: Any, q_valid: Any, found: Any, pos: Any, result_valid: Any,
                    head: PeakHead, qmax: int) -> Any:
    """`pos = p 2^F + sign * q` (just `p 2^F` when the divisor was zero), 0 when not found."""
    e = Emitter()
    index_hi = (1 << (len(q_tag) - TAG_P)) - 1
    r = e.var("r", -qmax, (index_hi << head.frac_bits) + qmax)
    qv = e.var("qv", -qmax, (index_hi << head.frac_bits) + qmax)
    e.line(f"{r}[:] = q_tag[{len(q_tag)}:{TAG_P}]")
    if head.frac_bits:
        e.line(f"{r}[:] = {r} << {head.frac_bits}")
    e.line(f"{qv}[:] = q")
    with e.indented(f"if not q_tag[{TAG_ZERO}]:"):
        with e.indented(f"if q_tag[{TAG_NEGATIVE}]:"):
            e.line(f"{r}[:] = {r} - {qv}")
        with e.indented("else:"):
            e.line(f"{r}[:] = {r} + {qv}")
    _emit_result(e, f"q_tag[{TAG_FOUND}]", r, len(pos), "q_valid")
    ports = {"clk": clk, "rst": rst, "q": q, "q_tag": q_tag, "q_valid": q_valid, "found": found, "pos": pos,
             "result_valid": result_valid}
    return render("result_logic", e, ports)()


def _emit_result(e: Emitter, found: str, pos: str, pos_width: int, valid: str) -> None:
    """The output register: `(found, pos)` or `(0, 0)`, and the result valid."""
    with e.indented(f"if {found}:"):
        e.line("found.next = 1")
        e.line(f"pos.next = {pos}[{pos_width}:]")
    with e.indented("else:"):
        e.line("found.next = 0")
        e.line("pos.next = 0")
    e.line(f"result_valid.next = {valid}")


@block
def plain_result(clk: Any, rst: Any, score: Any, res_p: Any, res_valid: Any, found: Any, pos: Any,
                  result_valid: Any, head: PeakHead, neigh: Fmt) -> Any:
    """Refinement `none`: `pos = p 2^F` when found."""
    e = Emitter()
    lo, hi = min(neigh.lo, head.threshold), max(neigh.hi, head.threshold, (1 << len(res_p)) << head.frac_bits)
    r = e.var("r", lo, hi)
    e.line(f"{r}[:] = res_p")
    if head.frac_bits:
        e.line(f"{r}[:] = {r} << {head.frac_bits}")
    _emit_result(e, _threshold_test(e, "score", head.threshold, neigh, lo, hi), r, len(pos), "res_valid")
    ports = {"clk": clk, "rst": rst, "score": score, "res_p": res_p, "res_valid": res_valid, "found": found,
             "pos": pos, "result_valid": result_valid}
    return render("result_logic", e, ports)()
