"""Streaming MyHDL hardware generated from a `qnn-int/1` network (see `docs/hardware.md`).

`top.build_top(network, lanes, profile_length)` gives the AXI4-Stream style peak detector; the
blocks it assembles (window, constant-coefficient adder trees, requantizer, peak head, divider)
live in their own modules. `workbench.verify.harness` drives it cycle by cycle against the golden model.
"""
