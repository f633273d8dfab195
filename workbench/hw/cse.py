"""Constant matrix-vector products as adder graphs, with common subexpressions shared across outputs.

Each output `const + sum(sign * (field << shift))` (a `SumSpec`) starts as the canonical signed
digits of its coefficient per input field: a list of signed, shifted leaves. The search is
Hartley's common-subexpression elimination extended to many outputs: a pattern is a pair of
leaves up to a common shift and sign, `x_i << a +- x_j << b`; the pattern whose disjoint
occurrences over all outputs save the most adders becomes one adder, every occurrence becomes one
leaf reading it, and the search repeats until no pattern occurs twice. Patterns of patterns follow
naturally. Adder depth is bounded: an occurrence is only replaced when its output can still be
summed in at most `depth_limit` adder levels (the smallest depth the largest output needs, plus
`depth_slack`), checked with Kraft's inequality on the leaves' depths. Each output's remaining
leaves are then summed shallowest first, which reaches that bound. An output that would lose its
last positive leaf costs a negation, and the gain counts it, so the shared graph never has more
adders than the per-output sums (`share=False`).

A lane-replicated product (the same sums over fields translated by a fixed stride per lane, as
`mac.conv_sums` and the requantizers build them) is solved for the first lane and copied.
"""
from __future__ import annotations

import functools
import heapq
import itertools
from collections import defaultdict
from typing import Sequence

from workbench.hw.adder_graph import Adder, AdderGraph, Operand, Output
from workbench.hw.adder_tree import SumSpec, Term
from workbench.hw.csd import csd_digits
from workbench.hw.stream import Fmt

DEFAULT_DEPTH_SLACK = 1
_Key = tuple[int, int, int, int, int]  # (value a, shift a, value b, shift b, sign of b relative to a)


def product_graph(sums: Sequence[SumSpec], fields: Sequence[Fmt], lanes: int = 1, share: bool = True,
                  depth_slack: int = DEFAULT_DEPTH_SLACK) -> AdderGraph:
    """The adder graph of `sums` over input `fields`: shared subexpressions, or plain per-output sums."""
    return _cached_graph(tuple(sums), tuple(fields), lanes, share, depth_slack)


@functools.lru_cache(maxsize=64)
def _cached_graph(sums: tuple[SumSpec, ...], fields: tuple[Fmt, ...], lanes: int, share: bool,
                  depth_slack: int) -> AdderGraph:
    stride = _lane_stride(sums, lanes)
    if stride is None:
        return _Builder(fields, sums, share, depth_slack).graph()
    first = _Builder(fields, sums[:len(sums) // lanes], share, depth_slack).graph()
    return _replicate(first, sums, lanes, stride)


def _lane_stride(sums: tuple[SumSpec, ...], lanes: int) -> int | None:
    """The field stride between lanes if every lane's sums are the first lane's, translated; else None."""
    if lanes < 2 or len(sums) % lanes:
        return None
    size = len(sums) // lanes
    first_fields = [t.field for s in sums[:size] for t in s.terms]
    second_fields = [t.field for s in sums[size:2 * size] for t in s.terms]
    if not first_fields or len(first_fields) != len(second_fields):
        return None
    stride = second_fields[0] - first_fields[0]
    for lane in range(lanes):
        for base, other in zip(sums[:size], sums[lane * size:(lane + 1) * size]):
            moved = tuple(Term(t.field + lane * stride, t.shift, t.sign) for t in base.terms)
            if (moved, base.const, base.out) != (other.terms, other.const, other.out):
                return None
    return stride


def _replicate(first: AdderGraph, sums: tuple[SumSpec, ...], lanes: int, stride: int) -> AdderGraph:
    """`first` (the first lane's graph) copied to every lane, inputs moved by `lane * stride`."""
    n_inputs, n_adders = len(first.inputs), len(first.adders)
    adders, outputs = [], []
    for lane in range(lanes):
        def moved(op: Operand) -> Operand:
            value = op.value + lane * stride if op.value < n_inputs else op.value + lane * n_adders
            return Operand(value, op.shift, op.sign)

        adders += [Adder(tuple(moved(op) for op in a.operands), a.const) for a in first.adders]
        outputs += [Output(moved(o.operand) if o.operand else None, o.const, s.out)
                    for o, s in zip(first.outputs, sums[lane * len(first.outputs):])]
    return AdderGraph(first.inputs, tuple(adders), tuple(outputs))


def _leaves(terms: Sequence[Term]) -> list[Operand]:
    """Canonical signed digits of each field's total coefficient (repeated fields merged)."""
    coefficients: dict[int, int] = defaultdict(int)
    for t in terms:
        coefficients[t.field] += t.sign << t.shift
    return [Operand(field, shift, sign) for field, value in sorted(coefficients.items())
            for shift, sign in csd_digits(value)]


def _pattern(p: Operand, q: Operand) -> tuple[_Key, int, int]:
    """The canonical pattern of a pair of leaves, and the shift and sign of the leaf replacing them:
    `p + q == sign * (pattern << shift)`, the pattern's first term positive."""
    base = min(p.shift, q.shift)
    first, second = sorted([(p.value, p.shift - base, p.sign), (q.value, q.shift - base, q.sign)])
    return (first[0], first[1], second[0], second[1], first[2] * second[2]), base, first[2]


def _kraft(depths: Sequence[int]) -> int:
    return sum(1 << d for d in depths)


class _Builder:
    """One run of the search over a set of outputs (see the module docstring)."""

    def __init__(self, fields: Sequence[Fmt], sums: Sequence[SumSpec], share: bool, depth_slack: int) -> None:
        self.fields = tuple(fields)
        self.sums = list(sums)
        self.leaves = [_leaves(s.terms) for s in sums]
        self.consts = [int(s.const) for s in sums]
        self.adders: list[Adder] = []
        self.index: dict[Adder, int] = {}
        self.depth = [0] * len(self.fields)
        widest = max([len(ls) + (c != 0) for ls, c in zip(self.leaves, self.consts)] + [1])
        self.limit = 1 << ((widest - 1).bit_length() + depth_slack)  # Kraft sum allowed per output
        self.share = share

    def graph(self) -> AdderGraph:
        if self.share:
            per_output = [self._occurrences(o) for o in range(len(self.sums))]
            totals: dict[_Key, int] = defaultdict(int)
            for pairs in per_output:
                for key, found in pairs.items():
                    totals[key] += len(found)
            while self._share_best(per_output, totals):
                pass
        outputs = tuple(self._sum_output(o) for o in range(len(self.sums)))
        return AdderGraph(self.fields, tuple(self.adders), outputs)

    def _value(self, adder: Adder) -> int:
        """The value number of `adder`, added to the graph unless an equal adder exists (and sharing is on)."""
        if adder not in self.index or not self.share:
            self.index[adder] = len(self.fields) + len(self.adders)
            self.adders.append(adder)
            self.depth.append(1 + max(self.depth[op.value] for op in adder.operands))
        return self.index[adder]

    def _occurrences(self, output: int) -> dict[_Key, list[tuple[int, int]]]:
        pairs: dict[_Key, list[tuple[int, int]]] = defaultdict(list)
        for a, b in itertools.combinations(range(len(self.leaves[output])), 2):
            pairs[_pattern(self.leaves[output][a], self.leaves[output][b])[0]].append((a, b))
        return pairs

    def _choose(self, output: int, key: _Key, pairs: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], bool]:
        """Disjoint occurrences of `key` in `output` that keep it within the depth limit, and whether
        replacing them leaves it without a positive leaf (a negation) where it had one."""
        leaves = self.leaves[output]
        new_depth = 1 + max(self.depth[key[0]], self.depth[key[2]])
        kraft = _kraft([self.depth[op.value] for op in leaves]) + (self.consts[output] != 0)
        used: set[int] = set()
        chosen = []
        for a, b in pairs:
            if a in used or b in used:
                continue
            after = kraft - (1 << self.depth[leaves[a].value]) - (1 << self.depth[leaves[b].value]) + (1 << new_depth)
            if after > self.limit:
                continue
            kraft = after
            used |= {a, b}
            chosen.append((a, b))
        if not chosen or self.consts[output] != 0:
            return chosen, False
        kept_positive = any(op.sign > 0 for i, op in enumerate(leaves) if i not in used)
        new_positive = any(_pattern(leaves[a], leaves[b])[2] > 0 for a, b in chosen)
        had_positive = any(op.sign > 0 for op in leaves)
        return chosen, had_positive and not (kept_positive or new_positive)

    def _share_best(self, per_output: list[dict[_Key, list[tuple[int, int]]]], totals: dict[_Key, int]) -> bool:
        """Turn the pattern with the largest saving into an adder; False when none saves any.
        `per_output` (each output's pair occurrences) and `totals` (pairs per pattern over all
        outputs, an upper bound on its disjoint occurrences) are kept up to date."""
        best: tuple[int, tuple, _Key] | None = None
        best_choice: dict[int, list[tuple[int, int]]] = {}
        for key in sorted((k for k, n in totals.items() if n > 1), key=lambda k: (-totals[k], k)):
            if best is not None and totals[key] - 1 < best[0]:
                break
            choice, negations = {}, 0
            for o, pairs in enumerate(per_output):
                if key in pairs:
                    chosen, negates = self._choose(o, key, pairs[key])
                    if chosen:
                        choice[o] = chosen
                        negations += negates
            gain = sum(len(c) for c in choice.values()) - 1 - negations
            rank = (gain, (-max(self.depth[key[0]], self.depth[key[2]]),), key)
            if gain > 0 and (best is None or rank[:2] > best[:2]):
                best, best_choice = rank, choice
        if best is None:
            return False
        key = best[2]
        value = self._value(Adder((Operand(key[0], key[1], 1), Operand(key[2], key[3], key[4]))))
        for o, chosen in best_choice.items():
            leaves = self.leaves[o]
            replaced = {i for pair in chosen for i in pair}
            new = [Operand(value, *_pattern(leaves[a], leaves[b])[1:]) for a, b in chosen]
            self.leaves[o] = [op for i, op in enumerate(leaves) if i not in replaced] + new
            for old, pairs in per_output[o].items():
                totals[old] -= len(pairs)
            per_output[o] = self._occurrences(o)
            for new_key, pairs in per_output[o].items():
                totals[new_key] += len(pairs)
        return True

    def _sum_output(self, o: int) -> Output:
        """Sum an output's leaves (and constant) shallowest first: the least depth the leaves allow."""
        const, out = self.consts[o], self.sums[o].out
        order = itertools.count()
        heap: list[tuple[int, int, Operand | None]] = [(self.depth[op.value], next(order), op) for op in self.leaves[o]]
        if const:
            heap.append((0, next(order), None))  # the constant, a leaf of depth 0
        heapq.heapify(heap)
        if not heap:
            return Output(None, const, out)
        while len(heap) > 1:
            _, _, a = heapq.heappop(heap)
            _, _, b = heapq.heappop(heap)
            leaf = self._combine(a, b, const)
            heapq.heappush(heap, (self.depth[leaf.value], next(order), leaf))
        root = heap[0][2]
        return Output(root, 0, out) if root is not None else Output(None, const, out)

    def _combine(self, a: Operand | None, b: Operand | None, const: int) -> Operand:
        """One adder summing two leaves (None is the constant), oriented to keep a positive result."""
        if a is None or b is None:
            op = b if a is None else a
            assert op is not None
            return Operand(self._value(Adder((op,), const)), 0, 1)
        first, second = sorted([a, b], key=lambda op: (-op.sign, op.value, op.shift))
        base = min(a.shift, b.shift)
        adder = Adder((Operand(first.value, first.shift - base, 1),
                       Operand(second.value, second.shift - base, first.sign * second.sign)))
        return Operand(self._value(adder), base, first.sign)

