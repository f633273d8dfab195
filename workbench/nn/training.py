"""Training of the float and quantization-aware peak detectors: targets, loss, fitting, snapping.

The score target is a function of the distance to the true centre, sampled at every pixel, fitted
with mean squared error plus `position_weight` times a term that pins the head's parabolic vertex to
the true centre on lines of SNR >= `position_min_snr` (`PeakLoss`); empty profiles have an all-zero
target. `parabola` (`max(0, 1 - (d/w)^2)`,
w = 2 px by default) is the default: for |d| < w - 1 the head's 3-point parabolic refinement
reproduces the centre exactly from it, so the target leaves no S-curve of its own (`docs/training.md`
gives the validation numbers behind the choice).

`train_float` and `train_qat` are deterministic for a seed (`keras.utils.set_random_seed` and TF op
determinism), stop early on the validation loss (restoring the best weights), log one line per
epoch, keep the best checkpoint of each phase, and write `<name>.keras` and `<name>.log.json`.
`train_qat` trains, snaps every requantizer scale to `multiplier / 2^shift`, fine-tunes briefly with
the scales frozen and freezes the integer weights, so the saved model exports as it is.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from workbench.errors import ConfigError
from workbench.nn.integer_mode import freeze_integers, snap_scales
from workbench.nn.models import NetworkSpec, build_float_model, build_qat_model

TARGETS = ("parabola", "gaussian", "triangle")
HEIGHTS = ("unit", "amplitude")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Training budget and target. The same config trains the float and every quantized network."""

    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 4
    finetune_epochs: int = 3
    finetune_learning_rate: float = 5e-4
    target: str = "parabola"
    target_width: float = 2.0
    target_height: str = "unit"
    position_weight: float = 0.1
    position_min_snr: float = 8.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"target {self.target!r}; allowed: {list(TARGETS)}")
        if self.target_height not in HEIGHTS:
            raise ConfigError(f"target_height {self.target_height!r}; allowed: {list(HEIGHTS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.finetune_epochs < 0 or self.patience < 1:
            raise ConfigError(f"epochs, batch_size and patience must be >= 1, finetune_epochs >= 0: {self}")
        if not self.target_width > 0 or not self.learning_rate > 0:
            raise ConfigError(f"target_width and learning_rate must be positive: {self}")
        if self.position_weight < 0 or self.position_min_snr < 0:
            raise ConfigError(f"position_weight and position_min_snr must be >= 0: {self}")


@dataclass
class TrainingData:
    """Inputs `(N, L, 1)` (raw integer values as float32) and targets `(N, L, 3)`: the score target, a
    mask marking the pixel `p0 = round(centre)` of the lines the vertex term covers (none for empty
    profiles and lines below `position_min_snr`) and `centre - p0` there."""

    inputs: np.ndarray
    targets: np.ndarray


@dataclass
class TrainedModel:
    """A trained model, where it was saved, and its training log."""

    model: keras.Model
    path: Path
    log: dict[str, Any] = field(default_factory=dict)


def score_targets(centre: np.ndarray, empty: np.ndarray, length: int, kind: str = "parabola",
                  width: float = 2.0, height: np.ndarray | float = 1.0) -> np.ndarray:
    """Target score `(N, L)` around each true centre, scaled by `height` per profile; zeros when empty.

    With `d = (i - centre) / width`: `parabola` `max(0, 1 - d^2)`, `gaussian` `exp(-d^2 / 2)`,
    `triangle` `max(0, 1 - |d|)`.
    """
    if kind not in TARGETS:
        raise ConfigError(f"target {kind!r}; allowed: {list(TARGETS)}")
    empty = np.asarray(empty, dtype=bool) | ~np.isfinite(np.asarray(centre, dtype=np.float64))
    safe = np.where(empty, 0.0, centre)
    d = (np.arange(length)[None, :] - safe[:, None]) / width
    if kind == "parabola":
        target = np.maximum(0.0, 1.0 - d ** 2)
    elif kind == "gaussian":
        target = np.exp(-0.5 * d ** 2)
    else:
        target = np.maximum(0.0, 1.0 - np.abs(d))
    target = target * np.broadcast_to(np.asarray(height, dtype=np.float64), empty.shape)[:, None]
    return np.where(empty[:, None], 0.0, target).astype(np.float32)


def target_heights(amplitude: np.ndarray, full_scale: float, kind: str) -> np.ndarray | float:
    """Per-profile target height: 1 (`unit`), or `sqrt(min(amplitude / full_scale, 1))` (`amplitude`), so
    that a brighter line scores higher and the arg-max prefers the line over weaker reflections."""
    if kind == "unit":
        return 1.0
    return np.sqrt(np.clip(np.nan_to_num(np.asarray(amplitude, dtype=np.float64)) / full_scale, 0.0, 1.0))


def _truth_field(truth: dict[str, np.ndarray], key: str, needed_by: str) -> np.ndarray:
    """`truth[key]`, or a ConfigError naming the setting that needs it and the keys there are."""
    if key not in truth:
        raise ConfigError(f"{needed_by} needs {key!r} in the ground truth; it has {sorted(truth)}")
    return truth[key]


def training_data(profiles: np.ndarray, truth: dict[str, np.ndarray], config: TrainConfig,
                  full_scale: float = 255.0) -> TrainingData:
    """Network inputs and targets of a dataset (`profiles` (N, L), `truth` with `centre`, `empty`,
    `amplitude` in DN and `snr`, `full_scale` the sensor's largest value)."""
    profiles = np.asarray(profiles)
    height = 1.0 if config.target_height == "unit" else target_heights(
        _truth_field(truth, "amplitude", f"target_height {config.target_height!r}"), full_scale, config.target_height)
    length = profiles.shape[1]
    targets = score_targets(truth["centre"], truth["empty"], length, config.target, config.target_width, height)
    line = ~np.asarray(truth["empty"], dtype=bool) & np.isfinite(truth["centre"])
    centre = np.where(line, truth["centre"], 0.0)
    nearest = np.clip(np.floor(centre + 0.5), 1, max(length - 2, 1)).astype(np.int64)
    clear = line
    if config.position_weight > 0 and config.position_min_snr > 0:
        snr = _truth_field(truth, "snr", f"position_min_snr {config.position_min_snr} (0 uses every line)")
        clear = line & (np.nan_to_num(np.asarray(snr, dtype=np.float64), nan=0.0) >= config.position_min_snr)
    mask = np.zeros_like(targets)
    mask[np.flatnonzero(clear), nearest[clear]] = 1.0
    offset = np.where(mask > 0, (centre - nearest)[:, None], 0.0).astype(np.float32)
    return TrainingData(profiles.astype(np.float32)[:, :, None], np.stack([targets, mask, offset], axis=-1))


@keras.saving.register_keras_serializable(package="qpeak")
class PeakLoss(keras.losses.Loss):
    """Mean squared error of the score target, plus `position_weight` times the squared residual of the
    head's parabolic vertex equation at the pixel `p` nearest the true centre (the pixels that
    `training_data`'s mask marks).

    With `a, b, c = s[p-1], s[p], s[p+1]` and true offset `t = centre - p`, the head's vertex is `t`
    exactly when `r = (c - a) - 2t(2b - a - c) = 0`; for a unit-height target `r` is the vertex error
    in pixels. The residual is linear in the scores (no division), so it cannot be lowered by making
    the score peakier, unlike the squared error of the vertex itself.
    """

    def __init__(self, position_weight: float = 0.0, name: str = "peak_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.position_weight = float(position_weight)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        score = y_pred[..., 0]
        mse = tf.reduce_mean(tf.square(score - y_true[..., 0]), axis=-1)
        if not self.position_weight:
            return mse
        left = tf.concat([score[:, :1], score[:, :-1]], axis=1)
        right = tf.concat([score[:, 1:], score[:, -1:]], axis=1)
        residual = (right - left) - 2.0 * y_true[..., 2] * (2.0 * score - left - right)
        position = tf.reduce_sum(y_true[..., 1] * tf.square(residual), axis=-1)
        return mse + self.position_weight * position

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "position_weight": self.position_weight}


class _EpochLog(keras.callbacks.Callback):
    """Records loss, validation loss and seconds of every epoch and reports each through `progress`."""

    def __init__(self, label: str, total: int, progress: Callable[[str], None]) -> None:
        super().__init__()
        self.label, self.total, self.progress = label, total, progress
        self.epochs: list[dict[str, float]] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        row = {"epoch": epoch + 1, "loss": float(logs.get("loss", np.nan)),
               "val_loss": float(logs.get("val_loss", np.nan)), "seconds": round(time.perf_counter() - self._start, 3)}
        self.epochs.append(row)
        self.progress(f"{self.label}: epoch {row['epoch']}/{self.total} loss {row['loss']:.5f} "
                      f"val_loss {row['val_loss']:.5f} ({row['seconds']:.1f} s)")


def pin_threads(threads: int) -> None:
    """Limit TensorFlow to `threads` intra-op and inter-op threads (a no-op once its runtime has started
    with these settings; an error if it started with others)."""
    current = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    if current == (threads, threads):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:
        raise ConfigError(f"TensorFlow already runs with {current} intra/inter-op threads; cannot pin it to "
                          f"{threads}: {exc}") from None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and make TF ops deterministic."""
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def fit(model: keras.Model, train: TrainingData, val: TrainingData, *, epochs: int, learning_rate: float,
        batch_size: int, patience: int, checkpoint: Path, label: str, progress: Callable[[str], None],
        position_weight: float = 0.0) -> dict[str, Any]:
    """Adam + `PeakLoss` with early stopping on the validation loss, ending on the best epoch's weights;
    returns the phase log."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=PeakLoss(position_weight))
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    epoch_log = _EpochLog(label, epochs, progress)
    # Keras restores the best validation epoch's weights when training ends, stopped early or not.
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    saver = keras.callbacks.ModelCheckpoint(str(checkpoint), monitor="val_loss", save_best_only=True)
    model.fit(train.inputs, train.targets, validation_data=(val.inputs, val.targets), epochs=epochs,
              batch_size=batch_size, shuffle=True, verbose=0, callbacks=[epoch_log, stopper, saver])
    best = int(np.nanargmin([row["val_loss"] for row in epoch_log.epochs])) + 1
    return {"epochs": epoch_log.epochs, "best_epoch": best,
            "best_val_loss": epoch_log.epochs[best - 1]["val_loss"], "checkpoint": str(checkpoint)}


def train_float(spec: NetworkSpec, train: TrainingData, val: TrainingData, config: TrainConfig, folder: Path,
                name: str = "float", progress: Callable[[str], None] = log.info) -> TrainedModel:
    """Train the float twin of `spec`; saves `<folder>/<name>.keras` and `<name>.log.json`."""
    seed_everything(config.seed)
    model = build_float_model(spec, name=name)
    start = time.perf_counter()
    phases = {"train": fit(model, train, val, epochs=config.epochs, learning_rate=config.learning_rate,
                           batch_size=config.batch_size, patience=config.patience,
                           checkpoint=Path(folder) / "checkpoints" / f"{name}-train.keras", label=name,
                           progress=progress, position_weight=config.position_weight)}
    return _save(model, folder, name, spec, config, phases, {"seconds": time.perf_counter() - start})


def train_qat(spec: NetworkSpec, train: TrainingData, val: TrainingData, config: TrainConfig, folder: Path,
              name: str = "qat", progress: Callable[[str], None] = log.info) -> TrainedModel:
    """Quantization-aware training, snapping, frozen fine-tune, integer freeze; saves like `train_float`."""
    seed_everything(config.seed)
    model = build_qat_model(spec, name=name)
    start = time.perf_counter()
    checkpoints = Path(folder) / "checkpoints"
    phases = {"train": fit(model, train, val, epochs=config.epochs, learning_rate=config.learning_rate,
                           batch_size=config.batch_size, patience=config.patience,
                           checkpoint=checkpoints / f"{name}-train.keras", label=name, progress=progress,
                           position_weight=config.position_weight)}
    snapped = snap_scales(model)
    progress(f"{name}: scales snapped to multiplier / 2^shift, largest relative error "
             f"{max(r['max_relative_error'] for r in snapped):.2e}")
    if config.finetune_epochs:
        phases["finetune"] = fit(model, train, val, epochs=config.finetune_epochs,
                                 learning_rate=config.finetune_learning_rate, batch_size=config.batch_size,
                                 patience=config.patience, checkpoint=checkpoints / f"{name}-finetune.keras",
                                 label=f"{name} fine-tune", progress=progress,
                                 position_weight=config.position_weight)
    freeze_integers(model)
    return _save(model, folder, name, spec, config, phases, {"seconds": time.perf_counter() - start,
                                                              "snap": snapped})


def _save(model: keras.Model, folder: Path, name: str, spec: NetworkSpec, config: TrainConfig,
          phases: dict[str, Any], extra: dict[str, Any]) -> TrainedModel:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.keras"
    model.save(path)
    record = {"name": name, "model": path.name, "spec": spec.to_dict(), "bits": spec.bits_label,
              "macs_per_pixel": spec.macs_per_pixel, "config": asdict(config), "phases": phases, **extra}
    write_log(path, record)
    return TrainedModel(model, path, record)


def log_path(model_path: Path) -> Path:
    """`<name>.log.json` next to `<name>.keras`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".log.json")


def write_log(model_path: Path, record: dict[str, Any]) -> Path:
    """Write (or rewrite) a model's JSON training log."""
    path = log_path(model_path)
    path.write_text(json.dumps(record, indent=1, default=float))
    return path


def log_summary(log: dict[str, Any]) -> dict[str, Any]:
    """One row of a training log: model, bits, epochs run (every phase), best epoch and validation loss of
    the last phase, seconds per epoch and in all."""
    epochs = [e for phase in log["phases"].values() for e in phase["epochs"]]
    last = list(log["phases"].values())[-1]
    return {"model": log["name"], "bits": log["bits"], "epochs": len(epochs), "best_epoch": last["best_epoch"],
            "best_val_loss": last["best_val_loss"],
            "seconds_per_epoch": sum(e["seconds"] for e in epochs) / max(len(epochs), 1), "seconds": log["seconds"]}


def read_log(model_path: Path) -> dict[str, Any]:
    """A model's training log, or an empty dict when it has none."""
    path = log_path(model_path)
    return json.loads(path.read_text()) if path.is_file() else {}
