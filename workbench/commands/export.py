"""`workbench export`: a trained quantization-aware `.keras` model to a qnn-int/1 JSON document.

    workbench export models/qat_4-4.keras                    # -> models/qat_4-4.json
    workbench export m.keras --out m.json --threshold 40 --frac-bits 6

The head's threshold comes from the model's training log (`<name>.log.json`, written by
`workbench train`) unless `--threshold` is given. A model that qnn-int/1 cannot represent (even
kernel, multiplier beyond 16 bits, a layer other than QConv1D/QDense/Requantizer, ...) is refused
with an error naming the layer.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` sub-command."""
    parser = subparsers.add_parser("export", help="export a trained QAT .keras model to qnn-int/1 JSON",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the .keras file")
    parser.add_argument("--out", type=Path, default=None, help="output JSON (default: next to the model)")
    parser.add_argument("--threshold", type=int, default=None, help="head threshold (default: from the training log)")
    parser.add_argument("--refine", default=None, choices=("parabolic", "centroid", "none"),
                        help="head refinement (default: from the log, else parabolic)")
    parser.add_argument("--frac-bits", type=int, default=None, help="fractional bits of pos (default: log, else 8)")
    parser.add_argument("--window", type=int, default=None, help="centroid half-window (default: log, else 1)")
    parser.add_argument("--input-bits", type=int, default=None, help="input depth (default: log, else 8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, export, validate and write the document; print the layer widths."""
    import keras

    import workbench.nn.qlayers  # noqa: F401  (registers the layers for loading)
    from workbench.errors import ConfigError
    from workbench.nn.export import HeadConfig, export_document, save_document
    from workbench.nn.training import read_log

    if not args.model.is_file():
        raise ConfigError(f"model file {args.model} does not exist")
    record = read_log(args.model)
    head = record.get("head", {})
    threshold = args.threshold if args.threshold is not None else head.get("threshold")
    if threshold is None:
        raise ConfigError(f"no threshold: {args.model} has no training log with a head; pass --threshold")
    config = HeadConfig(threshold=int(threshold), refine=args.refine or head.get("refine", "parabolic"),
                        frac_bits=args.frac_bits if args.frac_bits is not None else head.get("frac_bits", 8),
                        window=args.window if args.window is not None else head.get("window", 1))
    input_bits = args.input_bits or record.get("spec", {}).get("input_bits", 8)
    model = keras.models.load_model(args.model, compile=False)
    doc = export_document(model, config, input_bits, metadata={"source": args.model.name, "bits": record.get("bits")})
    path = save_document(doc, args.out or args.model.with_suffix(".json"))
    widths = ", ".join(f"{entry['name']}:{entry.get('acc_bits', entry.get('prod_bits'))}b" for entry in doc["layers"])
    print(f"wrote {path} ({widths})")
    return 0
