"""Signals and datasets: the seeded laser-line generator and `.npz` storage."""
