"""`workbench train`: train a float or quantization-aware peak detector on generator data.

    workbench train --bits 4/4 --out models/            # QAT: models/qat_4-4.keras, .log.json, .json
    workbench train --float --out models/               # the float twin: models/float.keras
    workbench train --bits 6-4-4-6/4-3-3 --epochs 30 --train 50000
    workbench train --topology c16k9,c8k5,d8,c1k3 --bits 4/4 --out models/

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
    parser.add_argument("--topology", default=None,
                        help="layers, e.g. 'c8k7,c8k5,d8,c1k3' (the default): c<channels>k<odd kernel> a "
                             "convolution, d<channels> a dense layer, the last with 1 channel")
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

    from workbench.data.datasets import DEFAULT_DATA_DIR, preset_splits
    from workbench.nn.detector_training import prepare_sets, train_detector
    from workbench.nn.models import DEFAULT_TOPOLOGY, default_spec, parse_topology
    from workbench.nn.training import TrainConfig, log_path

    topology = DEFAULT_TOPOLOGY if args.topology is None else parse_topology(args.topology)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, finetune_epochs=args.finetune_epochs,
                         target=args.target, target_height=args.target_height, seed=args.seed,
                         **{key: value for key, value in (("position_weight", args.position_weight),
                                                          ("position_min_snr", args.position_min_snr))
                            if value is not None})
    splits = preset_splits("mixed", args.seed, {"train": args.train, "val": args.val}, args.length,
                           args.data_dir or DEFAULT_DATA_DIR)
    sets = prepare_sets(splits["train"], splits["val"], config)
    spec = dataclasses.replace(default_spec("8/8" if args.float_model else args.bits, topology,
                                            input_bits=sets.input_bits), scale_mode=args.scale_mode)
    name = args.name or ("float" if args.float_model else spec.qat_name)
    result = train_detector(spec, sets, config, args.out, quantized=not args.float_model, name=name,
                            detector_name=name)
    if result.document_path is not None:
        print(f"wrote {result.document_path}")
    trained = result.trained
    print(f"wrote {trained.path} and {log_path(trained.path)} ({trained.log['seconds']:.1f} s)")
    return 0
