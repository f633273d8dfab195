"""qpeak-workbench: quantization-aware integer networks for FPGA laser-line peak detection."""

__version__ = "0.1.0"
