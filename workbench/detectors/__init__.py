"""The detector interface and the classical peak detectors."""
