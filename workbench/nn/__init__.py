"""Keras side: quantized layers, models, training, integer mode, export, TFLite, network detectors.

The only package that imports TensorFlow or Keras."""
