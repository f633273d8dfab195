"""Render straight-line MyHDL processes from generated statements.

MyHDL's converter reads a generator's source code, and it cannot translate what the hardware here
needs written per lane and per weight: part-selects with a loop variable are not legal Verilog, and
tuple ROMs only convert as `sig.next = ROM[int(i)]`. So every block of the design is a generated,
fully unrolled process: the builders emit one statement per field (constant slice bounds, constant
shifts, literal coefficients), `render_block` turns the statements into a `@block` with one
`always_seq` (or `always_comb`) process, and MyHDL both simulates and converts that source.

The source is registered in `linecache` under a unique name, so `inspect` (which MyHDL uses for both
simulation and conversion) finds it like any module's code.

The sized variables are created once per instance, in the block's body, not on every clock edge:
building an `intbv` with `min`/`max` is the costliest thing a cycle did. MyHDL treats such free
`intbv`s of an `always_seq` as the process's variables (declared in the converted process, reset with
the registers). The generated statements assign every variable before reading it in the same cycle,
so nothing is carried from one edge to the next and behaviour is unchanged (checked by overwriting
every variable with random legal values before each edge: identical scores, results and cycles).
Combinational processes keep their declarations inside (MyHDL gives them no variable registers).

Conversion rules applied by construction (see `notes/toolchain-check.md` section 3.4):
- every arithmetic operand is first widened into a signed variable sized for the whole expression;
- constants beyond 31 bits go through a sized signed variable, built from 30-bit chunks (VHDL integer
  literals are 32-bit, and Verilog's wide hex literals are unsigned);
- slices always have constant bounds.
"""
from __future__ import annotations

import functools
import itertools
import linecache
from contextlib import contextmanager
from typing import Any, Iterator

from myhdl import always_comb, always_seq, block, concat, intbv

from workbench.qnn.contract import bit_width

SMALL_LITERAL = 1 << 30  # literals below this magnitude are safe in VHDL and Verilog as written
_CHUNK = 30
_counter = itertools.count()


class Var(intbv):
    """The `intbv` of a generated process's signed variables: shifting it gives a plain `int`.

    MyHDL's `intbv << n` (and `>> n`) builds a new unbounded `intbv`, which the generated code only
    ever adds, subtracts, negates, compares or assigns, and all of those give the same result for the
    plain integer; the adder trees shift hundreds of operands a cycle. The converter sees an `intbv`
    variable as before (it reads the process's source, not this class).
    """

    def __lshift__(self, other: Any) -> int:
        return self._val << int(other)

    def __rshift__(self, other: Any) -> int:
        return self._val >> int(other)


def signed_bounds(lo: int, hi: int) -> tuple[int, int]:
    """`(min, max)` of the smallest signed intbv holding `[lo, hi]` (always signed, even for lo >= 0)."""
    width = bit_width(min(int(lo), -1), int(hi))
    return -(1 << (width - 1)), 1 << (width - 1)


class Emitter:
    """Collects variable declarations and statements for one generated process."""

    def __init__(self) -> None:
        self._decls: list[str] = []
        self._prelude: list[str] = []
        self._lines: list[str] = []
        self._names: set[str] = set()
        self._indent = 0
        self._consts: dict[tuple[int, int], str] = {}

    def var(self, name: str, lo: int, hi: int) -> str:
        """Declare a signed variable covering `[lo, hi]` (widened to at least hold -1)."""
        vmin, vmax = signed_bounds(lo, hi)
        return self._declare(name, f"Var(0, min={vmin}, max={vmax})")

    def bits(self, name: str, width: int) -> str:
        """Declare an unsigned bit-vector variable of `width` bits (a packed bus being assembled)."""
        return self._declare(name, f"intbv(0)[{width}:]")

    def const(self, value: int, lo: int, hi: int) -> str:
        """An expression for the constant `value`, safe inside arithmetic on variables covering `[lo, hi]`."""
        value = int(value)
        if abs(value) < SMALL_LITERAL:
            return f"({value})" if value < 0 else str(value)
        key = (value, signed_bounds(min(lo, value), max(hi, value))[1])
        if key not in self._consts:
            # one chunk of headroom below: the partial values while building a negative constant
            name = self.var(f"k{len(self._consts)}", min(lo, value) - (1 << _CHUNK), max(hi, value))
            chunks = []
            rest = value
            while abs(rest) >= SMALL_LITERAL:
                chunks.append(rest & ((1 << _CHUNK) - 1))
                rest >>= _CHUNK
            self._prelude.append(f"{name}[:] = {rest}")
            for chunk in reversed(chunks):
                self._prelude.append(f"{name}[:] = ({name} << {_CHUNK}) + {chunk}")
            self._consts[key] = name
        return self._consts[key]

    def line(self, text: str) -> None:
        """Append one statement at the current indentation."""
        self._lines.append("    " * self._indent + text)

    @contextmanager
    def indented(self, header: str) -> Iterator[None]:
        """`with e.indented("if x:"):` emits the header and indents the statements inside."""
        self.line(header)
        self._indent += 1
        yield
        self._indent -= 1

    def declarations(self) -> list[str]:
        """The variable declarations (made once per instance, in the block's scope)."""
        return list(self._decls)

    def body(self) -> list[str]:
        """Constant set-up and statements, in order (what runs on every clock edge)."""
        return self._prelude + (self._lines or ["pass"])

    def _declare(self, name: str, init: str) -> str:
        if name in self._names:
            raise ValueError(f"variable {name} declared twice")
        self._names.add(name)
        self._decls.append(f"{name} = {init}")
        return name


def beat_start(e: Emitter, start: str, lanes: int, base_bits: int) -> None:
    """Emit, for a valid beat: its first pixel's index into `start` (0 on a profile's first beat, else the
    previous beat's plus `lanes`) and keep it in the `base` register (`base_bits` wide)."""
    with e.indented("if din_first:"):
        e.line(f"{start}[:] = 0")
    with e.indented("else:"):
        e.line(f"{start}[:] = base + {lanes}")
    e.line(f"base.next = {start}[{base_bits}:]")


def render(name: str, emitter: Emitter, ports: dict[str, Any], clocked: bool = True) -> Any:
    """Instantiate a `@block` named `name` whose one process runs the emitted statements.

    `ports` maps the names used in the statements to signals (with `clk` and `rst` when
    `clocked`: the process is then `always_seq(clk.posedge, reset=rst)`, else `always_comb`).
    Call it as the return value of a `@block` function: MyHDL requires sub-blocks to be
    instantiated directly in a block's body, so this returns the generated block *function*
    bound to its ports, which the caller's body invokes: `return render(...)()`.
    """
    params = list(ports)
    decorator = "@always_seq(clk.posedge, reset=rst)" if clocked else "@always_comb"
    decls = "".join("    " + line + "\n" for line in emitter.declarations()) if clocked else ""
    inner = emitter.body() if clocked else emitter.declarations() + emitter.body()
    body = "\n".join("        " + line for line in inner)
    source = (f"@block\ndef {name}({', '.join(params)}):\n{decls}"
              f"    {decorator}\n    def logic():\n{body}\n    return logic\n")
    filename = f"<workbench.hw generated {name} {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"block": block, "always_seq": always_seq, "always_comb": always_comb,
                                 "intbv": intbv, "Var": Var, "concat": concat}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated hardware description
    return functools.partial(namespace[name], **ports)
