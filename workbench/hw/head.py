"""The peak head: `(found, pos)` per profile from the score stream, exactly as the contract defines it.

Pipeline (every stage accepts one beat per clock; no registered stage puts a selection after a
comparison or a carry chain after another, which is what limited the clock at several lanes):

1. a window of `h` neighbours each side (`h = 1` parabolic, `window` centroid, none for `none`),
   zero padded at the profile's ends like every window (`window`);
2. a lane arg-max tree, `ceil(log2 P)` levels of two register stages (one stage for one lane): the
   comparison registers both candidates of each pair and whether the right (higher lane) one is
   strictly greater, so the left wins ties and the first index wins; the choice registers the
   winner; a candidate carries its `2h + 1` neighbours and its lane;
3. the running arg-max across the profile's beats (strictly greater replaces: first index wins),
   restarted by `first`: the comparison is the clock enable of the best candidate's registers, which
   hold the profile's best in the cycle after its `last` beat;
4. refinement, two-operand additions side by side: `found = s[p] >= threshold`; parabolic
   `n = c - a` (and `a - c`), `d = 2(2b - a - c)` from `a + c` in the next stage, zero at `p = 0` and
   `p = L - 1`; centroid: the minimum over the in-profile part of the window (one stage), then
   `N = sum j u_j` (constant `j`: shift-and-add) and `D = sum u_j`, then `-N` and `D > 0`; then the
   divider's operands `x = 2|n| 2^F + d`, `y = 2d`, which makes `floor(x / y)` the contract's
   `rdiv` magnitude (halves rounded away from zero);
5. the pipelined `divider`, then `p 2^F + q` and `p 2^F - q` side by side, and the choice of
   `pos = p 2^F + sign * q` (0 when not found).

The result follows the profile's last beat after a constant number of cycles, `head_latency`.
"""
from __future__ import annotations

from typing import Any

from myhdl import Signal, block, intbv

from workbench.qnn.contract import PeakHead
from workbench.hw.codegen import Emitter, render, signed_bounds
from workbench.hw.csd import csd_digits
from workbench.hw.divider import divider, divider_latency, quotient_bits
from workbench.hw.stream import Fmt, Stream, field_offsets, new_stream, read_field
from workbench.hw.window import window, window_latency, window_stream


TAG_FOUND, TAG_NEGATIVE, TAG_ZERO, TAG_P = 0, 1, 2, 3  # bits of the tag travelling with a division


def head_half(head: PeakHead) -> int:
    """Neighbours needed each side of the peak."""
    return {"parabolic": 1, "centroid": head.window, "none": 0}[head.refine]


def tree_levels(lanes: int) -> int:
    """Compare levels of the lane arg-max tree (none for one lane)."""
    return (lanes - 1).bit_length()


def tree_latency(lanes: int) -> int:
    """Register stages of the lane arg-max tree: a comparison and a choice per level, or one."""
    return max(1, 2 * tree_levels(lanes))


def quotient_max(head: PeakHead) -> int:
    """Largest `|delta|` the refinement can produce."""
    if head.refine == "parabolic":
        return max(1, 1 << head.frac_bits >> 1)
    return head.window << head.frac_bits


def refine_stages(head: PeakHead) -> int:
    """Registered stages from the running arg-max's result to the divider's quotient."""
    if head.refine == "none":
        return 0
    numerator_stages = 4 if head.refine == "centroid" else 2
    return numerator_stages + 1 + divider_latency(quotient_max(head))


def head_latency(head: PeakHead, lanes: int) -> int:
    """Cycles from a profile's last score beat to its result, with `valid` held high."""
    half = head_half(head)
    window_cycles = window_latency(half, lanes) if half else 0
    result_stages = 1 if head.refine == "none" else 2
    return window_cycles + tree_latency(lanes) + 1 + refine_stages(head) + result_stages


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
    # the running arg-max's own registers: the best neighbours and index p so far (the profile's with res_valid)
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
    instances.append(divided_result(clk, rst, q, q_tag, q_valid, found, pos, result_valid, head.frac_bits, qmax))
    return instances


@block
def argmax_tree(clk: Any, rst: Any, inp: Stream, out: Stream, lanes: int, half: int, levels: int,
                channels: int = 1, key: int | None = None) -> Any:
    """Reduce the beat's lanes to one candidate (neighbours + lane), first lane winning ties.

    Lane `j`'s candidate is the window's fields `j * channels ..` (`2 * half + 1` pixels of `channels`
    fields), compared by its field `key` (default `half`, the centre of one channel), then the lane.
    Each level is two register stages: the comparison (both candidates of each pair and whether the
    right one is strictly greater), then the choice; one lane is one register stage.
    """
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": inp.data, "dout": out.data}
    width = (2 * half + 1) * channels
    key = half if key is None else key
    cand = list(out.fields)
    offsets = field_offsets(cand)
    size = offsets[-1]
    score = (offsets[key + 1], offsets[key])
    a = e.var("a", min(f.lo for f in cand), max(f.hi for f in cand))
    b = e.var("b", min(f.lo for f in cand), max(f.hi for f in cand))
    left, right = e.bits("left", size), e.bits("right", size)
    # a node is lane j of the input beat ("din", j) or candidate n of a level's choices (bus, n)
    nodes: list[tuple[str, int]] = [("din", j) for j in range(lanes)]
    stages = 0
    for level in range(1, levels + 1):
        pairs = [nodes[i:i + 2] for i in range(0, len(nodes), 2)]
        pk, fv = e.bits(f"pk{level}", 2 * size * len(pairs)), e.bits(f"fv{level}", len(pairs))
        pairs_bus, flags, chosen = f"pair{level}", f"gt{level}", "dout" if level == levels else f"best{level}"
        ports[pairs_bus], ports[flags] = Signal(intbv(0)[2 * size * len(pairs):]), Signal(intbv(0)[len(pairs):])
        if level < levels:
            ports[chosen] = Signal(intbv(0)[size * len(pairs):])
        for n, pair in enumerate(pairs):  # stage 1: compare
            _candidate(e, left, pair[0], inp, width, size, channels)
            _candidate(e, right, pair[-1], inp, width, size, channels)
            e.line(f"{pk}[{(2 * n + 1) * size}:{2 * n * size}] = {left}")
            e.line(f"{pk}[{(2 * n + 2) * size}:{(2 * n + 1) * size}] = {right}")
            e.line(f"{a}[:] = {left}[{score[0]}:{score[1]}].signed()")
            e.line(f"{b}[:] = {right}[{score[0]}:{score[1]}].signed()")
            with e.indented(f"if {b} > {a}:"):
                e.line(f"{fv}[{n}] = 1")
            with e.indented("else:"):
                e.line(f"{fv}[{n}] = 0")
        e.line(f"{pairs_bus}.next = {pk}")
        e.line(f"{flags}.next = {fv}")
        choice = e.bits(f"ch{level}", size * len(pairs))
        for n in range(len(pairs)):  # stage 2: choose
            with e.indented(f"if {flags}[{n}]:"):
                e.line(f"{choice}[{(n + 1) * size}:{n * size}] = {pairs_bus}[{(2 * n + 2) * size}:{(2 * n + 1) * size}]")
            with e.indented("else:"):
                e.line(f"{choice}[{(n + 1) * size}:{n * size}] = {pairs_bus}[{(2 * n + 1) * size}:{2 * n * size}]")
        e.line(f"{chosen}.next = {choice}")
        nodes = [(chosen, n) for n in range(len(pairs))]
        stages += 2
    if not levels:
        _candidate(e, left, nodes[0], inp, width, size, channels)
        e.line(f"dout.next = {left}")
        stages = 1
    for flag in ("valid", "first", "last"):
        source = f"din_{flag}"
        ports[source] = getattr(inp, flag)
        for stage in range(1, stages):
            ports[f"{flag}{stage}"] = Signal(bool(0))
            e.line(f"{flag}{stage}.next = {source}")
            source = f"{flag}{stage}"
        ports[f"dout_{flag}"] = getattr(out, flag)
        e.line(f"dout_{flag}.next = {source}")
    return render("argmax_tree_logic", e, ports)()


def _candidate(e: Emitter, dst: str, node: tuple[str, int], inp: Stream, width: int, size: int,
               channels: int) -> None:
    """Set the candidate variable `dst` to a node: lane `j` of the input beat (its `width` window fields
    from field `j * channels`, and the lane number), or candidate `n` of a level's choices."""
    bus, index = node
    if bus == "din":
        src = field_offsets(inp.fields)
        fields = field_offsets(inp.fields[:width])[-1]
        first = index * channels
        e.line(f"{dst}[{fields}:0] = din[{src[first + width]}:{src[first]}]")
        e.line(f"{dst}[{size}:{fields}] = {index}")
        return
    e.line(f"{dst}[:] = {bus}[{(index + 1) * size}:{index * size}]")


@block
def running_argmax(clk: Any, rst: Any, best: Stream, res_nb: list, res_p: Any, res_valid: Any, half: int,
                    lanes: int, neigh: Fmt, index: Fmt) -> Any:
    """Best candidate of the profile so far (strictly greater replaces), held in `res_nb`/`res_p`:
    `res_valid` marks the cycle after the last beat, when they hold the profile's best."""
    width = 2 * half + 1
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "din": best.data, "din_valid": best.valid,
                             "din_first": best.first, "din_last": best.last, "best_p": res_p, "res_valid": res_valid}
    base_bits = max(1, (index.hi + 1).bit_length())
    ports["base"] = Signal(intbv(0)[base_bits:])
    for k in range(width):
        ports[f"best{k}"] = res_nb[k]
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
                e.line(f"best{k}.next = {read_field('din', best.fields, k)}")
            e.line(f"best_p.next = {p}[{len(res_p)}:]")
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


def _signal(lo: int, hi: int) -> Any:
    """A signed register covering `[lo, hi]`."""
    vmin, vmax = signed_bounds(lo, hi)
    return Signal(intbv(0, min=vmin, max=vmax))


@block
def refine(clk: Any, rst: Any, res_nb: list, res_p: Any, res_valid: Any, x: Any, y: Any, tag: Any, valid: Any,
            head: PeakHead, length: int, neigh: Fmt, x_max: int, y_max: int) -> Any:
    """Numerator and denominator of `delta` and the divider's operands, with the found/sign/zero/p tag.

    Every stage is two-operand additions or comparisons side by side, or a selection feeding one:
    the numerator `n` both ways round (`n` and `-n`) so that `|n|` is a selection, and `gt = (d > 0)`
    computed beside `d` rather than after it. Parabolic: stage A `c - a`, `a - c`, `a + c`; stage S
    `|n|`, `d/2 = 2b - (a + c)` and `d > 0`. Centroid: the minimum (stage M), `N` and `D` (stage A),
    `N`, `-N`, `D` and `D > 0` (stage C), `|N|` (stage S). Stage B: the divider's operands
    `x = 2|n| 2^F + d`, `y = 2d` (both zero when `d <= 0` or at the profile's ends).
    """
    half = head_half(head)
    width = 2 * half + 1
    e = Emitter()
    ports: dict[str, Any] = {"clk": clk, "rst": rst, "res_p": res_p, "res_valid": res_valid, "x": x, "y": y,
                             "tag": tag, "valid": valid}
    ports.update({f"res{k}": res_nb[k] for k in range(width)})
    span = neigh.hi - neigh.lo
    # bounds of the numerator, of the registered denominator (d/2 for parabolic) and its doubling
    if head.refine == "parabolic":
        num, den, den_shift = 2 * span, 4 * span, 1
    else:
        num, den, den_shift = head.window * (head.window + 1) // 2 * span, (2 * head.window + 1) * span, 0
    lo = min(-num, -den, 2 * neigh.lo, -x_max)
    hi = max(num, den, 2 * neigh.hi, x_max, y_max)
    v = [e.var(f"s{k}", lo, hi) for k in range(width)]
    n, d = e.var("n", lo, hi), e.var("d", lo, hi)
    ports["s_n"] = _signal(0, num)
    ports["s_d"] = _signal(-den, den)
    for name in ("neg", "gt", "ok", "found", "valid"):
        ports[f"s_{name}"] = Signal(bool(0))
    ports["s_p"] = Signal(intbv(0)[len(res_p):])
    ports["a_p"] = Signal(intbv(0)[len(res_p):])
    for name in ("found", "valid"):
        ports[f"a_{name}"] = Signal(bool(0))
    if head.refine == "parabolic":
        _parabolic_stages(e, ports, v, head, length, neigh, lo, hi)
        before = "a"
    else:
        _centroid_stages(e, ports, v, n, d, head, length, neigh, lo, hi)
        before = "c"
    for name in ("found", "p", "valid"):
        e.line(f"s_{name}.next = {before}_{name}")
    # stage B: the divider's operands (the selections and the zeroing feed the adder's look-up tables)
    pk = e.bits("pk", len(tag))
    shift = head.frac_bits + 1 - den_shift
    high = e.var("high", 0, x_max)
    xb = e.bits("xb", len(x))
    e.line(f"{pk}[:] = 0")
    e.line(f"{pk}[{TAG_FOUND}] = s_found")
    e.line(f"{pk}[{len(tag)}:{TAG_P}] = s_p")
    e.line(f"{pk}[{TAG_NEGATIVE}] = s_neg")
    e.line(f"{n}[:] = s_n")
    e.line(f"{d}[:] = s_d")
    with e.indented("if not (s_ok and s_gt):"):
        e.line(f"{pk}[{TAG_ZERO}] = 1")
        e.line(f"{n}[:] = 0")
        e.line(f"{d}[:] = 0")
    e.line(f"{high}[:] = {n} + ({d} >> {shift})")
    e.line(f"{xb}[:] = 0")
    if shift:  # the low bits of d below the shift (none for a parabolic head with no fraction bits)
        e.line(f"{xb}[{head.frac_bits + 1}:{den_shift}] = {d}[{shift}:]")
    e.line(f"{xb}[{len(x)}:{head.frac_bits + 1}] = {high}[{len(x) - head.frac_bits - 1}:]")
    e.line(f"x.next = {xb}.signed()")
    e.line(f"y.next = {d} << {den_shift + 1}")
    e.line(f"tag.next = {pk}")
    e.line("valid.next = s_valid")
    return render("refine_logic", e, ports)()


def _parabolic_stages(e: Emitter, ports: dict[str, Any], v: list[str], head: PeakHead, length: int, neigh: Fmt,
                      lo: int, hi: int) -> None:
    """Stage A: `c - a`, `a - c`, `a + c` (and b, found, not at an end); stage S: `d/2 = 2b - (a + c)`, `d > 0`."""
    span = neigh.hi - neigh.lo
    for name, (low, high) in {"np": (-span, span), "nn": (-span, span), "m": (2 * neigh.lo, 2 * neigh.hi),
                              "b": (neigh.lo, neigh.hi)}.items():
        ports[f"a_{name}"] = _signal(low, high)
    ports["a_ok"] = Signal(bool(0))
    for k in range(3):
        e.line(f"{v[k]}[:] = res{k}")
    e.line(f"a_np.next = {v[2]} - {v[0]}")
    e.line(f"a_nn.next = {v[0]} - {v[2]}")
    e.line(f"a_m.next = {v[0]} + {v[2]}")
    e.line("a_b.next = res1")
    e.line(f"a_ok.next = not (res_p == 0 or res_p == {length - 1})")
    e.line(f"a_found.next = {_threshold_test(e, 'res1', head.threshold, neigh, lo, hi)}")
    e.line("a_p.next = res_p")
    e.line("a_valid.next = res_valid")
    e.line(f"{v[1]}[:] = a_b")
    e.line(f"{v[1]}[:] = {v[1]} << 1")
    e.line(f"{v[0]}[:] = a_m")
    e.line(f"s_d.next = {v[1]} - {v[0]}")
    e.line(f"s_gt.next = {v[1]} > {v[0]}")
    _absolute_stage(e, "a_np", "a_nn")
    e.line("s_ok.next = a_ok")


def _absolute_stage(e: Emitter, positive: str, negative: str) -> None:
    """Stage S's `|n|` and sign, a selection between the registered `n` and `-n`."""
    with e.indented(f"if {positive} < 0:"):
        e.line(f"s_n.next = {negative}")
        e.line("s_neg.next = 1")
    with e.indented("else:"):
        e.line(f"s_n.next = {positive}")
        e.line("s_neg.next = 0")


def _centroid_stages(e: Emitter, ports: dict[str, Any], v: list[str], n: str, d: str, head: PeakHead,
                     length: int, neigh: Fmt, lo: int, hi: int) -> None:
    """Stage M: the window's minimum; stage A: `N = sum j u_j`, `D = sum u_j`; stage C: `N`, `-N`, `D`,
    `D > 0`; stage S: `|N|`."""
    half = head.window
    width = 2 * half + 1
    span = neigh.hi - neigh.lo
    num = half * (half + 1) // 2 * span
    ports["a_n"], ports["c_n"], ports["c_nn"] = (_signal(-num, num) for _ in range(3))
    ports["a_d"], ports["c_d"] = (_signal(-width * span, width * span) for _ in range(2))
    t = e.var("t", lo, hi)
    _centroid_min_stage(e, ports, v, half, length, neigh)
    for k in range(width):
        e.line(f"{v[k]}[:] = m{k}")
    e.line(f"{t}[:] = m_min")
    for k in range(width):
        with e.indented(f"if {_inside('m_p', k - half, length)}:"):
            e.line(f"{v[k]}[:] = {v[k]} - {t}")
        with e.indented("else:"):
            e.line(f"{v[k]}[:] = 0")
    e.line(f"{d}[:] = " + " + ".join(v))
    terms = [(v[k], shift, sign if k > half else -sign) for k in range(width) if k != half
             for shift, sign in csd_digits(abs(k - half))]
    e.line(f"{n}[:] = 0 " + " ".join(("+ " if sign > 0 else "- ") + (f"({var} << {shift})" if shift else var)
                                      for var, shift, sign in terms))
    e.line(f"a_n.next = {n}")
    e.line(f"a_d.next = {d}")
    e.line(f"a_found.next = {_threshold_test(e, f'm{half}', head.threshold, neigh, lo, hi)}")
    e.line("a_p.next = m_p")
    e.line("a_valid.next = m_valid")
    for name in ("gt", "found", "valid"):
        ports[f"c_{name}"] = Signal(bool(0))
    ports["c_p"] = Signal(intbv(0)[len(ports["res_p"]):])
    e.line("c_n.next = a_n")
    e.line(f"{n}[:] = a_n")
    e.line(f"c_nn.next = -{n}")
    e.line("c_d.next = a_d")
    e.line("c_gt.next = a_d > 0")
    for name in ("found", "p", "valid"):
        e.line(f"c_{name}.next = a_{name}")
    _absolute_stage(e, "c_n", "c_nn")
    e.line("s_d.next = c_d")
    e.line("s_gt.next = c_gt")
    e.line("s_ok.next = 1")


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
                    frac_bits: int, qmax: int) -> Any:
    """`pos = p 2^F + sign * q` (just `p 2^F` when the divisor was zero), 0 when not found: stage R1
    forms `p 2^F + q` and `p 2^F - q` side by side, stage R2 chooses. The tag's bits are `TAG_*`."""
    e = Emitter()
    index_hi = (1 << (len(q_tag) - TAG_P)) - 1
    lo, hi = -qmax, (index_hi << frac_bits) + qmax
    r = e.var("r", lo, hi)
    qv = e.var("qv", lo, hi)
    ports = {"clk": clk, "rst": rst, "q": q, "q_tag": q_tag, "q_valid": q_valid, "found": found, "pos": pos,
             "result_valid": result_valid, "r_plus": _signal(lo, hi), "r_minus": _signal(lo, hi),
             "r_found": Signal(bool(0)), "r_negative": Signal(bool(0)), "r_valid": Signal(bool(0))}
    e.line(f"{r}[:] = q_tag[{len(q_tag)}:{TAG_P}]")
    if frac_bits:
        e.line(f"{r}[:] = {r} << {frac_bits}")
    with e.indented(f"if q_tag[{TAG_ZERO}]:"):
        e.line(f"{qv}[:] = 0")
    with e.indented("else:"):
        e.line(f"{qv}[:] = q")
    e.line(f"r_plus.next = {r} + {qv}")
    e.line(f"r_minus.next = {r} - {qv}")
    e.line(f"r_found.next = q_tag[{TAG_FOUND}]")
    e.line(f"r_negative.next = q_tag[{TAG_NEGATIVE}]")
    e.line("r_valid.next = q_valid")
    with e.indented("if r_negative:"):
        e.line(f"{r}[:] = r_minus")
    with e.indented("else:"):
        e.line(f"{r}[:] = r_plus")
    _emit_result(e, "r_found", r, len(pos), "r_valid")
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
