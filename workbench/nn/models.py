"""Peak-detector networks: a fully convolutional 1-D network whose last layer (one channel) is the score.

A `NetworkSpec` describes the topology (layer kinds, widths, kernel sizes) and the bits of every layer.
The same spec builds the quantization-aware model (`QConv1D`/`QDense` with `Requantizer` activations)
and its float twin (`Conv1D`/`Dense` with ReLU) used for the float reference and for TFLite int8.
The default network does 464 multiply-accumulates per pixel.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import keras

from workbench.errors import ConfigError
from workbench.nn.qlayers import QConv1D, QDense, Requantizer, check_bits
from workbench.qnn.contract import activation_range

LAYER_KINDS = ("conv", "dense")


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer: `conv` (kernel_size taps) or `dense` (channel mixing), and its output channels."""

    kind: str
    channels: int
    kernel_size: int = 1


@dataclass(frozen=True)
class NetworkSpec:
    """Topology and precision of a peak-detector network.

    `weight_bits` has one entry per layer, `act_bits` one per hidden layer (every layer but the
    score layer, which is followed by no requantizer). `scale_mode` and `init_range` configure the
    requantizers (see `workbench.nn.qlayers.Requantizer`).
    """

    layers: tuple[LayerSpec, ...]
    weight_bits: tuple[int, ...]
    act_bits: tuple[int, ...]
    input_bits: int = 8
    scale_mode: str = "learned"
    init_range: float = 2.0

    def __post_init__(self) -> None:
        if not self.layers:
            raise ConfigError("a network needs at least one layer")
        for index, layer in enumerate(self.layers):
            if layer.kind not in LAYER_KINDS:
                raise ConfigError(f"layer {index} kind {layer.kind!r}; allowed: {list(LAYER_KINDS)}")
            if layer.kind == "dense" and layer.kernel_size != 1:
                raise ConfigError(f"layer {index} is dense; its kernel_size must be 1, got {layer.kernel_size}")
        if self.layers[-1].channels != 1:
            raise ConfigError(f"the score layer must have 1 channel, got {self.layers[-1].channels}")
        if len(self.weight_bits) != len(self.layers) or len(self.act_bits) != len(self.layers) - 1:
            raise ConfigError(f"{len(self.layers)} layers need {len(self.layers)} weight widths and "
                              f"{len(self.layers) - 1} activation widths, got {list(self.weight_bits)} and "
                              f"{list(self.act_bits)}")
        for bits in (*self.weight_bits, *self.act_bits):
            check_bits(bits, "bit width")
        if self.input_bits not in (8, 10, 12):
            raise ConfigError(f"input_bits {self.input_bits}; allowed: 8, 10, 12")

    @property
    def macs_per_pixel(self) -> int:
        """Multiply-accumulates per pixel."""
        total, channels = 0, 1
        for layer in self.layers:
            total += layer.kernel_size * channels * layer.channels
            channels = layer.channels
        return total

    @property
    def bits_label(self) -> str:
        """`"W/A"` as in the tables: `"4/4"` when uniform, else the per-layer lists (`"6-4-4-6/4-3-3"`)."""
        def text(values: tuple[int, ...]) -> str:
            return str(values[0]) if len(set(values)) == 1 else "-".join(map(str, values))
        return f"{text(self.weight_bits)}/{text(self.act_bits)}"

    @property
    def qat_name(self) -> str:
        """File-safe name of the quantized network: `qat_4-4`, `qat_6-4-4-6_4-3-3`."""
        label = self.bits_label
        return "qat_" + (label.replace("/", "_") if "-" in label else label.replace("/", "-"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NetworkSpec":
        """Inverse of `to_dict`."""
        return cls(layers=tuple(LayerSpec(**layer) for layer in data["layers"]),
                   weight_bits=tuple(data["weight_bits"]), act_bits=tuple(data["act_bits"]),
                   input_bits=data.get("input_bits", 8), scale_mode=data.get("scale_mode", "learned"),
                   init_range=data.get("init_range", 2.0))


DEFAULT_TOPOLOGY = (LayerSpec("conv", 8, 7), LayerSpec("conv", 8, 5), LayerSpec("dense", 8), LayerSpec("conv", 1, 3))
TOPOLOGY_GRAMMAR = ("comma-separated layers, 'c<channels>k<odd kernel>' (convolution) or 'd<channels>' (dense), "
                    "the last with 1 channel, e.g. 'c8k7,c8k5,d8,c1k3'")
_TOKEN = re.compile(r"c(?P<conv>[0-9]+)k(?P<kernel>[0-9]+)|d(?P<dense>[0-9]+)")


def parse_topology(text: str) -> tuple[LayerSpec, ...]:
    """`"c8k7,c8k5,d8,c1k3"` into layer specs; a ConfigError names the first bad token."""
    layers = []
    for index, token in enumerate(text.split(",")):
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            raise ConfigError(f"topology {text!r}: token {index + 1} {token!r} is not a layer; "
                              f"expected {TOPOLOGY_GRAMMAR}")
        if match["dense"] is not None:
            layer = LayerSpec("dense", int(match["dense"]))
        else:
            layer = LayerSpec("conv", int(match["conv"]), int(match["kernel"]))
        if layer.channels < 1 or layer.kernel_size % 2 == 0:
            raise ConfigError(f"topology {text!r}: token {index + 1} {token!r} needs at least 1 channel and an "
                              f"odd kernel (the contract pads kernels symmetrically)")
        layers.append(layer)
    if layers[-1].channels != 1:
        raise ConfigError(f"topology {text!r}: the last token {text.split(',')[-1]!r} is the score layer and "
                          f"must have 1 channel")
    return tuple(layers)


def format_topology(layers: tuple[LayerSpec, ...]) -> str:
    """The inverse of `parse_topology`: `"c8k7,c8k5,d8,c1k3"`."""
    return ",".join(f"d{layer.channels}" if layer.kind == "dense" else f"c{layer.channels}k{layer.kernel_size}"
                    for layer in layers)


def default_spec(bits: str = "4/4", topology: tuple[LayerSpec, ...] = DEFAULT_TOPOLOGY, **kwargs: Any) -> NetworkSpec:
    """A network of `topology` (default: 4 layers, 464 MACs/pixel) at `bits`: `"W/A"` uniform or per-layer
    lists.

    Per-layer lists use `-`: `"6-4-4-6/4-3-3"`.
    """
    weight_bits, act_bits = parse_bits(bits, len(topology))
    return NetworkSpec(topology, weight_bits, act_bits, **kwargs)


def parse_bits(text: str, n_layers: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`"W/A"` into per-layer weight widths (n_layers) and activation widths (n_layers - 1)."""
    try:
        weights_text, acts_text = text.split("/")
        weights = tuple(int(v) for v in weights_text.split("-"))
        acts = tuple(int(v) for v in acts_text.split("-"))
    except ValueError:
        raise ConfigError(f"bits {text!r}; expected 'W/A' such as '4/4' or per-layer '6-4-4-6/4-3-3'") from None
    weights = weights * n_layers if len(weights) == 1 else weights
    acts = acts * (n_layers - 1) if len(acts) == 1 else acts
    if len(weights) != n_layers or len(acts) != n_layers - 1:
        raise ConfigError(f"bits {text!r}: need 1 or {n_layers} weight widths and 1 or {n_layers - 1} activation widths")
    return weights, acts


def build_qat_model(spec: NetworkSpec, name: str = "qat") -> keras.Model:
    """The quantization-aware model: input `(L, 1)` raw integer profile, output `(L, 1)` score."""
    inputs = keras.Input(shape=(None, 1), name="profile")
    x = inputs
    in_scale = 1.0 / ((1 << spec.input_bits) - 1)
    last = len(spec.layers) - 1
    for index, (layer, wbits) in enumerate(zip(spec.layers, spec.weight_bits)):
        if layer.kind == "dense":
            x = QDense(layer.channels, wbits, input_scale=in_scale, name=f"mix{index}")(x)
        else:
            x = QConv1D(layer.channels, layer.kernel_size, wbits, input_scale=in_scale, name=f"conv{index}")(x)
        if index < last:
            abits = spec.act_bits[index]
            x = Requantizer(abits, scale_mode=spec.scale_mode, init_range=spec.init_range, name=f"act{index}")(x)
            in_scale = 1.0 / activation_range(abits, False)[1]
    return keras.Model(inputs, x, name=name)


def build_float_model(spec: NetworkSpec, name: str = "float") -> keras.Model:
    """The float twin: the same topology with `Conv1D`/`Dense` and ReLU, input scaled to [0, 1]."""
    inputs = keras.Input(shape=(None, 1), name="profile")
    x = keras.layers.Rescaling(1.0 / ((1 << spec.input_bits) - 1), name="scale")(inputs)
    last = len(spec.layers) - 1
    for index, layer in enumerate(spec.layers):
        activation = "relu" if index < last else None
        if layer.kind == "dense":
            x = keras.layers.Dense(layer.channels, activation=activation, name=f"mix{index}")(x)
        else:
            x = keras.layers.Conv1D(layer.channels, layer.kernel_size, padding="same", activation=activation,
                                    name=f"conv{index}")(x)
    return keras.Model(inputs, x, name=name)
