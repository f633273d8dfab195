"""`workbench train`: train a float or quantization-aware peak detector on generator data.

    workbench train --bits 4/4 --out models/            # QAT: models/qat_4-4.keras, .log.json, .json
    workbench train --float --out models/               # the float twin: models/float.keras
    workbench train --bits 6-4-4-6/4-3-3 --epochs 30 --train 50000

The training and validation sets are the `mixed` preset from disjoint seeds derived from `--seed`
(cached under `--data-dir`). The detection threshold is set for 1% false alarms on the empty
validation profiles; a QAT model is also exported to qnn-int/1 with that threshold in its head.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` sub-command."""
    parser = subparsers.add_parser("train", help="train a float or quantization-aware peak-detector network",
                                   description=__doc__.splitlines()[0])
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--bits", default="4/4", help="W/A bits, uniform ('4/4') or per layer ('6-4-4-6/4-3-3')")
    kind.add_argument("--float", dest="float_model", action="store_true", help="train the float twin instead")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--name", default=None, help="model name (default qat_<bits> or float)")
    parser.add_argument("--scale-mode", default="learned", choices=("learned", "pow2", "pact"),
                        help="how requantizer scales are trained (default learned)")
    parser.add_argument("--train", type=int, default=20_000, help="training profiles (default 20000)")
    parser.add_argument("--val", type=int, default=5_000, help="validation profiles (default 5000)")
    parser.add_argument("--length", type=int, default=256, help="profile length (default 256)")
    parser.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping on validation)")
    parser.add_argument("--finetune-epochs", type=int, default=3, help="fine-tune epochs with snapped scales")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--target", default="parabola", choices=("parabola", "gaussian", "triangle"))
    parser.add_argument("--target-height", default="unit", choices=("unit", "amplitude"),
                        help="peak height of the target: 1, or sqrt of the line amplitude / full scale")
    parser.add_argument("--position-weight", type=float, default=None,
                        help="weight of the head-vertex term of the loss (default: TrainConfig's; 0 = MSE only)")
    parser.add_argument("--position-min-snr", type=float, default=None,
                        help="lines below this SNR are left out of the vertex term (default: TrainConfig's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of training")
    parser.add_argument("--data-dir", type=Path, default=None, help="dataset cache (default data/datasets)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, calibrate the threshold, save the model, its log and (QAT) its qnn-int/1 document."""
    import dataclasses
    import logging

    from workbench.data import datasets, signals

    from workbench.nn import training
    from workbench.nn.export import save_document
    from workbench.nn.models import default_spec
    from workbench.nn.detectors import calibrated_export, calibrated_float

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    config = training.TrainConfig(epochs=args.epochs, batch_size=args.batch_size, finetune_epochs=args.finetune_epochs,
                                  target=args.target, target_height=args.target_height, seed=args.seed,
                                  **{key: value for key, value in (("position_weight", args.position_weight),
                                                                   ("position_min_snr", args.position_min_snr))
                                     if value is not None})
    generator = signals.preset("mixed", length=args.length)
    data_dir = args.data_dir or datasets.DEFAULT_DATA_DIR
    sets = {split: datasets.load_or_generate(generator, datasets.split_seed(args.seed, split, "mixed"), n, data_dir,
                                             condition="mixed")
            for split, n in (("train", args.train), ("val", args.val))}
    train = training.training_data(sets["train"].profiles, sets["train"].truth, config, generator.full_scale)
    val = training.training_data(sets["val"].profiles, sets["val"].truth, config, generator.full_scale)
    empty_val = sets["val"].profiles[sets["val"].truth["empty"]]
    spec = dataclasses.replace(default_spec("8/8" if args.float_model else args.bits), scale_mode=args.scale_mode)
    if args.float_model:
        trained = training.train_float(spec, train, val, config, args.out, name=args.name or "float")
        trained.log["threshold"] = calibrated_float("float", trained.model, empty_val).threshold
    else:
        name = args.name or spec.qat_name
        trained = training.train_qat(spec, train, val, config, args.out, name=name)
        doc, _ = calibrated_export(name, trained.model, empty_val, spec.bits_label, spec.input_bits,
                                   metadata={"name": name, "bits": spec.bits_label})
        trained.log["head"] = doc["head"]
        print(f"wrote {save_document(doc, trained.path.with_suffix('.json'))}")
    training.write_log(trained.path, trained.log)
    print(f"wrote {trained.path} and {training.log_path(trained.path)} ({trained.log['seconds']:.1f} s)")
    return 0
