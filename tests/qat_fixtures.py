"""Shared helpers of the quantization-aware tests: a tiny trained model, adversarial inputs, negative controls."""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from workbench.qnn import golden  # noqa: E402

from workbench.data import signals
from workbench.qnn.contract import Network, fill_ranges, load_network  # noqa: E402
from workbench.nn.training import TrainConfig, TrainedModel, train_qat, training_data  # noqa: E402
from workbench.nn.models import default_spec  # noqa: E402

TINY_CONFIG = TrainConfig(epochs=2, batch_size=32, finetune_epochs=1, seed=7)
TINY_LENGTH = 64


def tiny_data(n: int, seed: int, length: int = TINY_LENGTH) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A small mixed set of generator profiles."""
    return signals.generate(signals.preset("mixed", length=length), n, seed)


def tiny_trained(folder: Path, bits: str = "4/4", config: TrainConfig = TINY_CONFIG) -> TrainedModel:
    """A QAT model trained for a few seconds on a few hundred short profiles (snapped and frozen)."""
    train = training_data(*tiny_data(384, 1), config)
    val = training_data(*tiny_data(96, 2), config)
    return train_qat(default_spec(bits), train, val, config, folder, name="tiny", progress=lambda _: None)


def adversarial_profiles(rng: np.random.Generator, bits: int, n_random: int, length: int) -> np.ndarray:
    """All zeros, all full scale, alternating 0/full scale, a single full-scale spike, and random rows."""
    full = (1 << bits) - 1
    rows = [np.zeros(length), np.full(length, full), np.arange(length) % 2 * full,
            np.where(np.arange(length) == length // 2, full, 0)]
    rows += list(rng.integers(0, full + 1, size=(n_random, length)))
    return np.array(rows, dtype=np.int64)


def network_of(doc: dict[str, Any]) -> Network:
    """A validated network of a document whose ranges may be stale."""
    return load_network(fill_ranges(doc))


def observable_mutation(doc: dict[str, Any], profiles: np.ndarray) -> tuple[int, str, tuple, int]:
    """A change by 1 of one weight (preferred) or one multiplier that changes some golden score.

    Returns `(layer index, key, index into the key's nested list, delta)`; falls back to the score
    layer's bias when no weight or multiplier is observable on these profiles (a network whose
    score ignores its input).
    """
    reference = golden.scores(network_of(doc), profiles)
    candidates = []
    for index in reversed(range(len(doc["layers"]))):
        entry = doc["layers"][index]
        if entry["type"] == "requantizer":
            candidates += [(index, "multiplier", (c,)) for c in range(len(entry["multiplier"]))]
        else:
            array = np.array(entry["weights"])
            candidates += [(index, "weights", tuple(int(i) for i in idx)) for idx in np.ndindex(*array.shape)]
    for index, key, where in candidates[:64]:
        mutated, delta = _mutated(doc, index, key, where)
        if delta and not np.array_equal(golden.scores(network_of(mutated), profiles), reference):
            return index, key, where, delta
    return len(doc["layers"]) - 1, "bias", (0,), 1


def _mutated(doc: dict[str, Any], index: int, key: str, where: tuple) -> tuple[dict[str, Any], int]:
    mutated = copy.deepcopy(doc)
    entry = mutated["layers"][index]
    container = entry[key]
    for i in where[:-1]:
        container = container[i]
    value = container[where[-1]]
    if key == "weights":
        limit = (1 << (entry["weight_bits"] - 1)) - 1
        delta = -1 if value >= limit else 1
    else:
        delta = -1 if value >= (1 << 16) - 1 else 1
    container[where[-1]] = value + delta
    return mutated, delta


def mutate_keras(model: keras.Model, doc: dict[str, Any], mutation: tuple[int, str, tuple, int]) -> None:
    """Apply a mutation found by `observable_mutation` to the Keras model's integer variables."""
    index, key, where, delta = mutation
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    layer = layers[index]
    variable = {"weights": getattr(layer, "integer_kernel", None), "multiplier": getattr(layer, "multiplier", None),
                "bias": getattr(layer, "integer_bias", None)}[key]
    values = np.asarray(variable).copy()
    if key == "weights" and doc["layers"][index]["type"] == "qdense":
        where = (0, *where)
    values[where] += delta
    variable.assign(values)
