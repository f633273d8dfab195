#!/usr/bin/env python3
"""CPU throughput of every detector, side by side in one run, at batch sizes 1 and 1024.

Methods: the golden integer model, the Keras network (float, and integer mode rebuilt from the
qnn-int/1 document), the TFLite int8 interpreter (converted here from the float network with 100
training profiles) and every classical detector, all on the same profiles. Each is timed
`--repeats` times after a warm-up; rows give the median (and min/max) to `tables/throughput.csv`.

    python experiments/bench_inference.py --models results/latest/models --data data/x.npz --out bench/
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from workbench.qnn.artifacts import pick_document  # noqa: E402
from workbench.evaluation.benchmarking import THROUGHPUT_COLUMNS, Timing, time_batches  # noqa: E402

def network_methods(models_dir: Path, calibration: np.ndarray) -> dict[str, tuple[str, object]]:
    """`name -> (kind, profiles -> result)` for the golden model, Keras float/integer and TFLite int8."""
    import keras

    from workbench.qnn import golden

    from workbench.nn import integer_mode
    from workbench.qnn.contract import load_network
    from workbench.nn.detectors import float_head_positions
    from workbench.nn.tflite_baseline import Int8Runner, convert_int8

    doc_path = pick_document(models_dir)
    network = load_network(doc_path)
    float_model = keras.models.load_model(models_dir / "float.keras", compile=False)
    integer_model = integer_mode.model_from_document(network.document)
    runner = Int8Runner(convert_int8(float_model, calibration))

    def keras_float(x: np.ndarray) -> object:
        scores = keras.ops.convert_to_numpy(float_model(x.astype(np.float32)[:, :, None], training=False))
        return float_head_positions(scores[:, :, 0])

    def keras_integer(x: np.ndarray) -> object:
        return golden.peak_head(network.head, integer_mode.integer_scores(integer_model, x, batch_size=len(x)))

    label = doc_path.stem
    return {
        f"golden ({label})": ("integer", lambda x: golden.run_golden(network, x)),
        "keras float": ("float", keras_float),
        f"keras integer mode ({label})": ("integer", keras_integer),
        "tflite int8 (LiteRT)": ("int8", lambda x: golden.peak_head(network.head, runner(x))),
    }


def classical_methods() -> dict[str, tuple[str, object]]:
    """`name -> (kind, profiles -> result)` for every classical detector at its first window."""
    from workbench.detectors.classical import METHODS, make_detector

    return {name: ("classical", make_detector(name).detect) for name in METHODS}


def offline_methods(config: object) -> dict[str, tuple[str, object]]:
    """`name -> (kind, profiles -> result)` of the offline references: the Gaussian fit seeded by BR8
    (under the noise model of a generator configuration) and the matched filter."""
    from workbench.detectors import gaussian_fit, matched_filter
    from workbench.detectors.classical import make_detector

    return {gaussian_fit.NAME: ("offline reference",
                                gaussian_fit.gaussian_fit_detector(make_detector("br8"), config).detect),
            matched_filter.NAME: ("offline reference", matched_filter.matched_filter_detector().detect)}


def generator_methods(config: object) -> dict[str, tuple[str, object]]:
    """`name -> (kind, profiles -> profiles)`: the signal generator drawing as many profiles of a generator
    configuration as the batch holds (its speed bounds how large a study's data can be)."""
    from workbench.data.signals import generate

    return {"signal generator": ("data generator", lambda batch: generate(config, len(batch), 0))}


def measure(methods: dict[str, tuple[str, object]], profiles: np.ndarray, batch_sizes: tuple[int, ...],
            repeats: int, single_profiles: int) -> list[Timing]:
    """Time every method at every batch size (batch 1 runs over the first `single_profiles` profiles)."""
    from tqdm import tqdm

    timings = []
    jobs = [(name, size) for size in batch_sizes for name in methods]
    for name, size in tqdm(jobs, desc="throughput", unit="method"):
        kind, run = methods[name]
        subset = profiles[:single_profiles] if size == 1 else profiles
        timings.append(time_batches(name, kind, run, subset, size, repeats))
    return timings


def write_csv(timings: list[Timing], path: Path) -> None:
    """Rows of `tables/throughput.csv` (written atomically)."""
    from workbench.evaluation import tables

    tables.write_csv([timing.row() for timing in timings], path, THROUGHPUT_COLUMNS)


def run(models_dir: Path, profiles: np.ndarray, calibration: np.ndarray, out: Path, *, repeats: int = 5,
        batch_sizes: tuple[int, ...] = (1, 1024), single_profiles: int = 64) -> list[Timing]:
    """Measure every method and write `out/tables/throughput.csv`."""
    methods = {**network_methods(models_dir, calibration), **classical_methods()}
    timings = measure(methods, profiles, batch_sizes, repeats, single_profiles)
    write_csv(timings, out / "tables" / "throughput.csv")
    return timings


def main(argv: list[str] | None = None) -> int:
    from workbench.data import datasets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "results" / "latest" / "models",
                        help="models folder of a run (float.keras and qnn-int/1 documents)")
    parser.add_argument("--data", type=Path, required=True, help="dataset .npz whose profiles are timed")
    parser.add_argument("--out", type=Path, default=Path("bench"), help="output folder (tables/throughput.csv)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per method (median reported)")
    parser.add_argument("--profiles", type=int, default=1024, help="profiles per timed pass at batch 1024")
    args = parser.parse_args(argv)
    data = datasets.load(args.data)
    profiles = data.profiles[:args.profiles]
    timings = run(args.models, profiles, data.profiles[-100:], args.out, repeats=args.repeats)
    for timing in timings:
        row = timing.row()
        print(f"{row['method']:<36} batch {row['batch_size']:>5}: {row['pixels_per_s'] / 1e6:10.3f} Mpixel/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
