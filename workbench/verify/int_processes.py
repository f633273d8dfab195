"""The generated processes simulated on plain Python integers: same blocks, signals, edges and reset.

Every process of the hardware (`workbench.hw.codegen.render`) is straight-line MyHDL on `intbv`
variables and signal slices. MyHDL runs it as written, building an `intbv` object for every slice,
sign view and assignment (about 4,000 a clock on the 1-lane 4/4 design, most of the simulation's
time). `use_integer_processes` translates each process's source, the very source the converter
reads, into a Python function doing the same on integers, and gives the process a simulation
generator that calls it: MyHDL's own `always_seq` / `always_comb` loop (edge, reset, `reset_sigs`,
`reset_vars`), on a copy of the process whose `func` is the translation. The block hierarchy, the
signals, the sensitivity lists and every `.next` assignment (with MyHDL's bound checks) stay as they
were; the converter reads `func` and its source, never the generator, so the HDL does not change.

Faithful to `intbv`, not merely to the intended arithmetic: a variable keeps its value in its
`intbv` object between edges (stored at the end of every step that assigns it, loaded on entry
where the step may read it first, reset by MyHDL); an assignment
outside a variable's bounds, a slice assignment of a value too wide for the slice, or a `.next`
value outside a signal's bounds raises `ValueError` as MyHDL does (the check is left out only where
the value's range, from the declared bounds and the values assigned earlier in the step, proves it
cannot fail); a slice reads `(v >> j) & mask`, `.signed()` of an unsigned `n`-bit value is its two's
complement, `concat` masks each argument but the first to its width. A process using anything
outside this subset (`Unsupported`) keeps running as MyHDL.

On the trained 1-lane 4/4 design this runs 14 times as many clocks per second as the source
processes (`experiments/bench_simulators.py`, both paths in one run; docs/hdl.md).
"""
from __future__ import annotations

import ast
import copy
import itertools
import linecache
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from myhdl import intbv
from myhdl._always_comb import _AlwaysComb
from myhdl._always_seq import _AlwaysSeq
from myhdl._block import _Block
from myhdl._Signal import _Signal
from myhdl._simulator import _siglist

_counter = itertools.count()


class Unsupported(Exception):
    """The process uses a construct the translation does not cover (it then stays on MyHDL)."""


@dataclass(frozen=True)
class IntegerProcesses:
    """What `use_integer_processes` did: how many processes run translated, and those left to MyHDL."""

    translated: int
    kept: tuple[str, ...]  # "<process>: <reason>"


@dataclass(frozen=True)
class _Value:
    """A translated expression: Python source, MyHDL width (0: unsized), value range when known, and
    whether `.signed()` reinterprets it (an `intbv` with `min >= 0` and a width)."""

    code: str
    width: int = 0
    lo: int | None = None
    hi: int | None = None
    unsigned: bool = False

    def within(self, lo: int, hi: int) -> bool:
        """Whether every value it can take lies in `[lo, hi]`."""
        return self.lo is not None and self.hi is not None and lo <= self.lo and self.hi <= hi


def _bounds(obj: intbv) -> tuple[int | None, int | None]:
    """Inclusive `[min, max - 1]` of an intbv (None where unbounded)."""
    return obj.min, None if obj.max is None else obj.max - 1


def _unsigned(obj: intbv) -> bool:
    return obj.min is not None and obj.min >= 0 and bool(obj._nrbits)


def _holds_bits(var: intbv, high: int) -> bool:
    """Whether setting bits below `high` of the unsigned variable keeps it inside its bounds
    (`intbv(0)[w:]`: min 0, max 2^w, and `high <= w`)."""
    return var.min == 0 and var.max == 1 << var._nrbits and high <= var._nrbits


def _interval(op: type, a: _Value, b: _Value) -> tuple[int | None, int | None]:
    """Range of `a op b` for `+`, `-`, `*`, `<<` by a constant (None when unknown)."""
    if None in (a.lo, a.hi, b.lo, b.hi):
        return None, None
    if op is ast.Add:
        return a.lo + b.lo, a.hi + b.hi
    if op is ast.Sub:
        return a.lo - b.hi, a.hi - b.lo
    if op is ast.Mult:
        ends = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        return min(ends), max(ends)
    if op in (ast.LShift, ast.RShift) and b.lo == b.hi and b.lo >= 0:
        return (a.lo << b.lo, a.hi << b.lo) if op is ast.LShift else (a.lo >> b.lo, a.hi >> b.lo)
    return None, None


Range = tuple[int | None, int | None]


def _fits(value: _Value, bounds: Range) -> bool:
    """Whether the value provably lies inside `bounds` (None: that side unbounded)."""
    lo, hi = bounds
    return ((lo is None or (value.lo is not None and value.lo >= lo))
            and (hi is None or (value.hi is not None and value.hi <= hi)))


def _union(a: Range, b: Range) -> Range:
    return (None if None in (a[0], b[0]) else min(a[0], b[0]), None if None in (a[1], b[1]) else max(a[1], b[1]))


def _intersection(a: Range, b: Range) -> Range:
    return (b[0] if a[0] is None else a[0] if b[0] is None else max(a[0], b[0]),
            b[1] if a[1] is None else a[1] if b[1] is None else min(a[1], b[1]))


def _next_kind(sig: _Signal) -> str:
    """How a `.next` assignment to `sig` is written: `intbv` or `bool` inline (MyHDL's
    `_setNextIntbv` / `_setNextBool` plus the `_siglist` entry), or `property` (MyHDL's setter)."""
    if type(sig) is _Signal:
        setter = getattr(sig._setNextVal, "__func__", None)
        if setter is _Signal._setNextIntbv:
            return "intbv"
        if setter is _Signal._setNextBool:
            return "bool"
    return "property"


class _Translator:
    """Python source of one process's step on integers (see the module docstring for the rules).

    Tracks, along the statements, the range of every variable assigned so far in the step (so a
    bound check is left out where the value provably fits), and which variables the step may read
    before assigning them: only those are loaded from their `intbv` objects; every variable the step
    assigns is stored back at its end.
    """

    BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.LShift: "<<", ast.RShift: ">>"}
    COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names
        self.read_signals: set[str] = set()
        self.written_signals: set[str] = set()
        self.loaded: set[str] = set()  # variables the step may read before assigning them
        self.assigned: set[str] = set()
        self.ranges: dict[str, Range] = {}  # variables assigned so far on this path, with their ranges
        self.lines: list[str] = []
        self.temps = itertools.count()

    # --- expressions -------------------------------------------------------------------------

    def expr(self, node: ast.expr) -> _Value:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(f"expression {ast.unparse(node)!r}")
        return method(node)

    def _Constant(self, node: ast.Constant) -> _Value:
        if not isinstance(node.value, int):
            raise Unsupported(f"constant {node.value!r}")
        value = int(node.value)
        return _Value(f"({value})", 1 if isinstance(node.value, bool) else 0, value, value)

    def _Name(self, node: ast.Name) -> _Value:
        name = node.id
        obj = self.names.get(name)
        if name.startswith("_") or obj is None:
            raise Unsupported(f"name {name!r}")
        if isinstance(obj, _Signal):
            self.read_signals.add(name)
            value = obj._val
            if isinstance(value, intbv):
                return _Value(name, obj._nrbits, *_bounds(value), unsigned=_unsigned(value))
            if isinstance(value, bool):
                return _Value(name, 1, 0, 1)
            raise Unsupported(f"signal {name} of type {type(value).__name__}")
        if isinstance(obj, intbv):
            return _Value(name, obj._nrbits, *self.read_variable(name), unsigned=_unsigned(obj))
        if isinstance(obj, int):
            return self._Constant(ast.Constant(obj))
        raise Unsupported(f"name {name!r} of type {type(obj).__name__}")

    def read_variable(self, name: str) -> Range:
        """The range of the variable's value here; one not yet assigned in the step is loaded."""
        if name in self.ranges:
            return self.ranges[name]
        self.loaded.add(name)
        return _bounds(self.names[name])

    def _Subscript(self, node: ast.Subscript) -> _Value:
        base = self.expr(node.value)
        if not base.width:
            raise Unsupported(f"slice of an unsized value {ast.unparse(node)!r}")
        if isinstance(node.slice, ast.Slice):
            high, low = self._slice(node.slice)
            if high is None:
                raise Unsupported(f"open slice {ast.unparse(node)!r}")
            width = high - low
            shifted = f"({base.code} >> {low})" if low else base.code
            return _Value(f"({shifted} & {(1 << width) - 1})", width, 0, (1 << width) - 1, unsigned=True)
        bit = self._constant(node.slice)
        return _Value(f"(({base.code} >> {bit}) & 1)", 1, 0, 1)

    def _Call(self, node: ast.Call) -> _Value:
        if node.keywords:
            raise Unsupported(f"call {ast.unparse(node)!r}")
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "signed" and not node.args:
            value = self.expr(func.value)
            if not value.unsigned:
                return value
            half = 1 << (value.width - 1)
            return _Value(f"(({value.code} ^ {half}) - {half})", value.width, -half, half - 1)
        if isinstance(func, ast.Name) and func.id == "concat" and node.args:
            return self._concat([self.expr(arg) for arg in node.args])
        raise Unsupported(f"call {ast.unparse(node)!r}")

    def _concat(self, parts: list[_Value]) -> _Value:
        """MyHDL's `concat`: the first part shifted up, each later part masked to its width; sized, the
        result is an unsigned intbv of the summed widths."""
        if any(not part.width for part in parts[1:]):
            raise Unsupported("concat of an unsized value")
        total = sum(part.width for part in parts[1:])
        pieces, offset = [], total
        for index, part in enumerate(parts):
            offset -= part.width if index else 0
            code = part.code
            if index and not part.within(0, (1 << part.width) - 1):
                code = f"({code} & {(1 << part.width) - 1})"
            pieces.append(f"({code} << {offset})" if offset else code)
        head = parts[0]
        if not head.width:  # MyHDL returns an unsized intbv
            return _Value(f"({' | '.join(pieces)})")
        if not head.within(0, (1 << head.width) - 1):  # MyHDL's intbv of the result would check its bounds
            raise Unsupported("concat whose first part may lie outside its width")
        width = head.width + total
        return _Value(f"({' | '.join(pieces)})", width, 0, (1 << width) - 1, unsigned=True)

    def _BinOp(self, node: ast.BinOp) -> _Value:
        op = type(node.op)
        if op not in self.BINARY:
            raise Unsupported(f"operator in {ast.unparse(node)!r}")
        left, right = self.expr(node.left), self.expr(node.right)
        return _Value(f"({left.code} {self.BINARY[op]} {right.code})", 0, *_interval(op, left, right))

    def _UnaryOp(self, node: ast.UnaryOp) -> _Value:
        value = self.expr(node.operand)
        if isinstance(node.op, ast.USub):
            lo, hi = (None, None) if value.lo is None or value.hi is None else (-value.hi, -value.lo)
            return _Value(f"(-{value.code})", 0, lo, hi)
        if isinstance(node.op, ast.Not):
            return _Value(f"(not {value.code})", 1, 0, 1)
        raise Unsupported(f"operator in {ast.unparse(node)!r}")

    def _BoolOp(self, node: ast.BoolOp) -> _Value:
        values = [self.expr(v) for v in node.values]
        word = " and " if isinstance(node.op, ast.And) else " or "
        known = all(v.lo is not None and v.hi is not None for v in values)
        return _Value(f"({word.join(v.code for v in values)})", 1 if all(v.width == 1 for v in values) else 0,
                      min(v.lo for v in values) if known else None, max(v.hi for v in values) if known else None)

    def _Compare(self, node: ast.Compare) -> _Value:
        parts = [self.expr(node.left).code]
        for op, right in zip(node.ops, node.comparators):
            if type(op) not in self.COMPARE:
                raise Unsupported(f"comparison in {ast.unparse(node)!r}")
            parts += [self.COMPARE[type(op)], self.expr(right).code]
        return _Value(f"({' '.join(parts)})", 1, 0, 1)

    def _slice(self, node: ast.Slice) -> tuple[int | None, int]:
        """MyHDL's `[i:j]`: `i` the high end (exclusive) or None, `j` the low end (default 0)."""
        if node.step is not None:
            raise Unsupported("slice step")
        high = None if node.lower is None else self._constant(node.lower)
        low = 0 if node.upper is None else self._constant(node.upper)
        if high is not None and high <= low:
            raise Unsupported(f"empty slice [{high}:{low}]")
        return high, low

    def _constant(self, node: ast.expr) -> int:
        """A literal integer, or a name bound to one."""
        value = node.value if isinstance(node, ast.Constant) else self.names.get(getattr(node, "id", ""))
        if type(value) is not int:
            raise Unsupported(f"index {ast.unparse(node)!r} is not a constant")
        return value

    # --- statements --------------------------------------------------------------------------

    def statements(self, body: list[ast.stmt], indent: int) -> None:
        for node in body:
            if isinstance(node, ast.Pass):
                self.emit("pass", indent)
            elif isinstance(node, ast.If):
                self.if_chain(node, indent)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                self.assign(node.targets[0], self.expr(node.value), indent)
            else:
                raise Unsupported(f"statement {ast.unparse(node)!r}")

    def if_chain(self, node: ast.If, indent: int) -> None:
        """`if` / `elif` ... / `else` (flat: a long chain nested would pass Python's indentation limit);
        afterwards a variable has a known range where every path assigned it."""
        before, outcomes, keyword = dict(self.ranges), [], "if"
        while True:
            self.emit(f"{keyword} {self.expr(node.test).code}:", indent)
            self.ranges = dict(before)
            self.branch(node.body, indent + 1)
            outcomes.append(self.ranges)
            if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
                node, keyword = node.orelse[0], "elif"
                continue
            self.ranges = dict(before)
            if node.orelse:
                self.emit("else:", indent)
                self.branch(node.orelse, indent + 1)
            outcomes.append(self.ranges)
            break
        merged = outcomes[0]
        for outcome in outcomes[1:]:
            merged = {name: _union(merged[name], outcome[name]) for name in merged if name in outcome}
        self.ranges = merged

    def branch(self, body: list[ast.stmt], indent: int) -> None:
        start = len(self.lines)
        self.statements(body, indent)
        if len(self.lines) == start:
            self.emit("pass", indent)

    def assign(self, target: ast.expr, value: _Value, indent: int) -> None:
        if isinstance(target, ast.Attribute) and target.attr == "next" and isinstance(target.value, ast.Name):
            self.write_signal(target.value.id, value, indent)
            return
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and isinstance(self.names.get(target.value.id), intbv) and not target.value.id.startswith("_")):
            raise Unsupported(f"assignment to {ast.unparse(target)!r}")
        name = target.value.id
        var = self.names[name]
        bounds = _bounds(var)
        self.assigned.add(name)
        if isinstance(target.slice, ast.Slice):
            high, low = self._slice(target.slice)
            if high is None and low:
                raise Unsupported(f"assignment to {ast.unparse(target)!r}")
            if high is None:
                self.emit(f"{name} = {value.code}", indent)
                safe = _fits(value, bounds)
                after = (value.lo, value.hi) if safe else _intersection((value.lo, value.hi), bounds)
            else:
                self.read_variable(name)
                self.assign_slice(name, high, low, value, indent)
                safe = _holds_bits(var, high) and value.lo is not None and value.lo >= 0
                after = bounds
        else:
            bit = self._constant(target.slice)
            self.read_variable(name)
            self.assign_bit(name, bit, value, indent)
            safe, after = _holds_bits(var, bit + 1), bounds
        if not safe:
            self.check(name, *bounds, indent)
        self.ranges[name] = after

    def write_signal(self, name: str, value: _Value, indent: int) -> None:
        """`name.next = value`, inline where the signal is a plain `intbv` or `bool` one."""
        sig = self.names.get(name)
        if not isinstance(sig, _Signal) or name.startswith("_"):
            raise Unsupported(f"assignment to {name}.next")
        self.written_signals.add(name)
        kind = _next_kind(sig)
        if kind == "property":
            self.emit(f"_s_{name}.next = {value.code}", indent)
            return
        code = value.code
        if kind == "intbv":
            lo, hi = _bounds(sig._next)
            if not _fits(value, (lo, hi)):
                code = self.temp(code, indent)
                self.check(code, lo, hi, indent)
            self.emit(f"_s_{name}._next._val = {code}", indent)
        else:
            if not value.within(0, 1):
                code = self.temp(code, indent)
                self.emit(f"if {code} not in (0, 1): raise ValueError("
                          f"'Expected boolean value, got %r' % ({code},))", indent)
            self.emit(f"_s_{name}._next = {code}", indent)
        self.emit(f"_changed(_s_{name})", indent)

    def temp(self, code: str, indent: int) -> str:
        name = f"_t{next(self.temps)}"
        self.emit(f"{name} = {code}", indent)
        return name

    def assign_slice(self, name: str, high: int, low: int, value: _Value, indent: int) -> None:
        limit = 1 << (high - low)
        mask = (limit - 1) << low
        code = value.code
        if not value.within(-limit, limit - 1):
            code = self.temp(code, indent)
            self.emit(f"if {code} >= {limit} or {code} < {-limit}: "
                      f"raise ValueError('intbv[{high}:{low}] = v abs(v) too large: %s' % ({code},))", indent)
        shifted = f"({code} << {low})" if low else code
        self.emit(f"{name} = ({name} & {~mask}) | {shifted}", indent)

    def assign_bit(self, name: str, bit: int, value: _Value, indent: int) -> None:
        if value.lo == value.hi and value.lo in (0, 1):
            self.emit(f"{name} = {name} | {1 << bit}" if value.lo else f"{name} = {name} & {~(1 << bit)}", indent)
            return
        temp = self.temp(value.code, indent)
        self.emit(f"if {temp} not in (0, 1): raise ValueError('intbv[{bit}] = v requires v in (0, 1)')", indent)
        self.emit(f"{name} = ({name} | {1 << bit}) if {temp} else ({name} & {~(1 << bit)})", indent)

    def check(self, name: str, lo: int | None, hi: int | None, indent: int) -> None:
        """MyHDL's `_handleBounds` on the variable's new value."""
        if hi is not None:
            self.emit(f"if {name} > {hi}: raise ValueError('intbv value %s >= maximum %s' % ({name}, {hi + 1}))",
                      indent)
        if lo is not None:
            self.emit(f"if {name} < {lo}: raise ValueError('intbv value %s < minimum %s' % ({name}, {lo}))",
                      indent)

    def emit(self, text: str, indent: int) -> None:
        self.lines.append("    " * indent + text)

    def source(self, function: str) -> str:
        """The factory: `_make(**objects)` returns the step function (call after `statements`)."""
        self.loaded |= self.assigned - set(self.ranges)  # assigned on some paths only: stored, so loaded
        out = [f"def _make({', '.join(self.objects())}):", f"    def {function}():"]
        for name in sorted(self.read_signals):
            value = self.names[name]._val
            out.append(f"        {name} = _s_{name}._val" + ("._val" if isinstance(value, intbv) else ""))
        out += [f"        {name} = _v_{name}._val" for name in sorted(self.loaded)]
        out += ["    " + line for line in self.lines]
        out += [f"        _v_{name}._val = {name}" for name in sorted(self.assigned)]
        out += [f"    return {function}"]
        return "\n".join(out) + "\n"

    def objects(self) -> dict[str, Any]:
        """The signal and variable objects the step uses, and MyHDL's list of changed signals."""
        signals = self.read_signals | self.written_signals
        return {"_changed": _siglist.append, **{f"_s_{n}": self.names[n] for n in sorted(signals)},
                **{f"_v_{n}": self.names[n] for n in sorted(self.loaded | self.assigned)}}



def translate(process: Any) -> Callable[[], None]:
    """The integer step of one `always_seq` / `always_comb` process (raises `Unsupported`)."""
    func = process.func
    definition = _definition(func)
    names = dict(func.__globals__)
    names.update(zip(func.__code__.co_freevars, (cell.cell_contents for cell in func.__closure__ or ())))
    translator = _Translator(names)
    translator.statements(definition.body, 1)
    source = translator.source(func.__name__)
    filename = f"<workbench.verify integer process {func.__name__} {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - translated hardware description
    return namespace["_make"](**translator.objects())


def _definition(func: Any) -> ast.FunctionDef:
    """The syntax tree of `func`'s definition, parsed from its file's lines (`linecache`, which holds
    the generated blocks' source; `inspect.getsource` would scan every module and tokenize)."""
    code = func.__code__
    lines = linecache.getlines(code.co_filename)
    if not lines:
        raise Unsupported(f"no source for {func.__name__}")
    for node in ast.walk(ast.parse("".join(lines))):
        if isinstance(node, ast.FunctionDef) and node.name == func.__name__ and \
                min([node.lineno] + [d.lineno for d in node.decorator_list]) == code.co_firstlineno:
            if node.args.args or node.args.vararg or node.args.kwarg:
                raise Unsupported("a function with arguments")
            return node
    raise Unsupported(f"definition of {func.__name__} not found")


def processes(top: Any) -> Iterator[Any]:
    """Every `always_seq` and `always_comb` process below a block instance, depth first."""
    for sub in top.subs:
        if isinstance(sub, _Block):
            yield from processes(sub)
        elif isinstance(sub, (_AlwaysSeq, _AlwaysComb)):
            yield sub


def use_integer_processes(top: Any) -> IntegerProcesses:
    """Have MyHDL simulate every translatable process below `top` (an elaborated, not yet simulated
    block instance) through its integer step; call it before `run_sim`."""
    translated, kept = 0, []
    for process in processes(top):
        try:
            step = translate(process)
        except (Unsupported, SyntaxError, RecursionError) as exc:  # the last two: Python's limits
            kept.append(f"{process.name}: {exc}")
            continue
        twin = copy.copy(process)
        twin.func = step
        process.gen = process.genfunc.__func__(twin)  # MyHDL's own loop (edges, reset), calling the step
        translated += 1
    return IntegerProcesses(translated, tuple(kept))
