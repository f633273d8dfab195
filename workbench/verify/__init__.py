"""Verification: MyHDL harness, vector files, testbenches, simulator runners, co-simulation.

The only code that runs both the hardware and the golden model."""
