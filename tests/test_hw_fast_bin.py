"""The harness's faster `bin` for MyHDL's intbv bounds returns exactly MyHDL's strings."""
from __future__ import annotations

import myhdl._bin
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.verify.harness import _fast_bin, fast_intbv_bounds


@settings(max_examples=300, deadline=None)
@given(value=st.integers(-(1 << 200), 1 << 200), width=st.sampled_from([0, 1, 8, 48, 201]))
def test_fast_bin_equals_myhdl_bin(value, width):
    assert _fast_bin(value, width) == myhdl._bin.bin(value, width)


def test_the_swap_is_undone_after_the_run():
    original = myhdl._intbv.bin
    with fast_intbv_bounds():
        assert myhdl._intbv.bin is _fast_bin
        assert len(myhdl.intbv(0, min=-(1 << 70), max=1 << 70)) == 71
    assert myhdl._intbv.bin is original
