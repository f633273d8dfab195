"""Model cards of published `qnn-int` networks (`models/<name>/`: `model.json`, `card.json`, `README.md`).

A published model is a network-only `qnn-int/1` document or a HYBRID `qnn-int/2` one (the network gates, a
refinement on the raw input locates; `workbench.qnn.contract_v2`). A card records what a user needs before running a network it did not train: its structure (recomputed
from the document by `network_facts`, so a test can check a card against its document), where it came
from (training data, seed, budget), its threshold, its test accuracy per condition against BR8 and its
hardware cost. `card_markdown` renders the card for people.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.evaluation.markdown import interval_cell, number_cell, ratio_cell
from workbench.qnn.contract import ConvLayer, Network, bit_width
from workbench.qnn.contract_v2 import NetworkDocument, load_document, refinement_section

CARD_FORMAT = "qpeak-model-card/1"
DOCUMENT_FILE = "model.json"
CARD_FILE = "card.json"
README_FILE = "README.md"
ACCURACY_FIELDS = ("condition", "snr", "n", "rmse_px", "rmse_ci_low", "rmse_ci_high", "miss_rate",
                   "gross_error_rate", "false_alarm_rate", "efficiency", "paired_n", "rmse_ratio",
                   "rmse_ratio_ci_low", "rmse_ratio_ci_high", "total_error_ratio")
"""The accuracy columns a card keeps per test condition (`workbench.evaluation.tables.ACCURACY_COLUMNS`)."""


def topology(network: Network) -> str:
    """The network's layers in the topology grammar of `workbench.nn.models.parse_topology`."""
    return ",".join(f"d{layer.out_channels}" if layer.kind == "qdense" else f"c{layer.out_channels}k{layer.kernel_size}"
                    for layer in network.conv_layers)


def _layer_facts(layer: Any) -> dict[str, Any]:
    if isinstance(layer, ConvLayer):
        acc_bits = max(bit_width(int(lo), int(hi)) for lo, hi in zip(layer.acc_min, layer.acc_max))
        return {"name": layer.name, "type": layer.kind, "kernel_size": layer.kernel_size,
                "in_channels": layer.in_channels, "out_channels": layer.out_channels,
                "weight_bits": layer.weight_bits, "acc_bits": acc_bits, "macs_per_pixel": layer.macs_per_pixel}
    prod_bits = max(bit_width(int(lo), int(hi)) for lo, hi in zip(layer.prod_min, layer.prod_max))
    return {"name": layer.name, "type": "requantizer", "out_bits": layer.bits, "signed": layer.signed,
            "shift": layer.shift, "prod_bits": prod_bits}


def network_facts(model: NetworkDocument) -> dict[str, Any]:
    """The structure a card states, computed from the validated document: format, topology, input bits,
    MACs per pixel, every layer's widths, the head, the score's range and a hybrid's refinement (kind, taps,
    edges, bank and register widths, as the contract writes them) or None."""
    network, head = model.network, model.network.head
    refinement = None if model.refinement is None else refinement_section(model.refinement, network.input_bits)
    return {"format": model.document["format"], "topology": topology(network), "input_bits": network.input_bits,
            "macs_per_pixel": network.macs_per_pixel, "layers": [_layer_facts(layer) for layer in network.layers],
            "head": {"refine": head.refine, "window": head.window, "threshold": head.threshold,
                     "frac_bits": head.frac_bits},
            "score_range": list(network.score_range), "refinement": refinement}


def build_card(name: str, model: NetworkDocument, bits: str, provenance: dict[str, Any], accuracy: list[dict[str, Any]],
               hardware: dict[str, Any]) -> dict[str, Any]:
    """A card: `network_facts` plus the given provenance, per-condition accuracy rows (`ACCURACY_FIELDS`
    kept) and hardware numbers."""
    rows = [{key: row.get(key) for key in ACCURACY_FIELDS} for row in accuracy]
    return {"format": CARD_FORMAT, "name": name, "bits": bits, "document": DOCUMENT_FILE,
            "network": network_facts(model), "provenance": provenance, "accuracy": rows, "hardware": hardware}


def read_card(folder: Path) -> tuple[dict[str, Any], NetworkDocument]:
    """A published model's card and its validated document; a ConfigError names a missing or foreign file."""
    folder = Path(folder)
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise ConfigError(f"{folder}: no {CARD_FILE}; a published model folder holds {DOCUMENT_FILE}, "
                          f"{CARD_FILE} and {README_FILE}")
    card = json.loads(card_path.read_text())
    if card.get("format") != CARD_FORMAT:
        raise ConfigError(f"{card_path}: format {card.get('format')!r}; expected {CARD_FORMAT!r}")
    return card, load_document(folder / card["document"])


def _refinement_lines(section: dict[str, Any] | None) -> list[str]:
    if section is None:
        return ["- **Network-only**: the network's own head locates the line."]
    if section["kind"] == "fixed":
        what = f"the fixed FIR `{section['name']}` (taps {section['taps']})"
    else:
        members = ", ".join(f"`{m['name']}`" for m in section["bank"])
        what = (f"the width-adaptive refinement (bank {members}; width probe over edges {section['edges']} /64, "
                f"member per bin {section['choice']})")
    return ["- **HYBRID**: the network's score, threshold and first arg-max detect; " + what
            + " on the RAW profile around that arg-max locates (zero crossing, rounding division; `docs/heads.md`)."]


def _hardware_lines(hw: dict[str, Any]) -> list[str]:
    if not hw:
        return ["Not synthesised by the publisher: the hybrid's hardware and its Yosys counts are in docs/hdl.md "
                "(\"The hybrid beside its network\", `experiments/synth_hybrid.py`); its network is the network-only "
                "card's."]
    runs = {key: value for key, value in hw.items() if isinstance(value, dict)}
    lines = [f"- {key.replace('_', ' ')}: {value}" for key, value in hw.items() if key not in runs]
    if runs:
        columns = list(next(iter(runs.values())))
        lines += ["", "| lanes | " + " | ".join(c.replace("_", " ") for c in columns) + " |",
                  "|---" * (len(columns) + 1) + "|"]
        lines += [f"| {key.split('_')[-1]} | " + " | ".join(str(run.get(c, "-")) for c in columns) + " |"
                  for key, run in runs.items()]
    return lines


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a README for people."""
    facts, prov, hw = card["network"], card["provenance"], card["hardware"]
    lines = [f"# Model card: `{card['name']}` ({card['bits']} bits, {facts['format']})", "",
             f"- **Topology** `{facts['topology']}`, {facts['input_bits']}-bit input, "
             f"**{facts['macs_per_pixel']} MACs per pixel**; head `{facts['head']['refine']}` "
             f"(threshold {facts['head']['threshold']}, {facts['head']['frac_bits']} fraction bits).",
             *_refinement_lines(facts["refinement"]),
             *(f"- **{key.replace('_', ' ').capitalize()}**: {value}" for key, value in prov.items()),
             "", "## Layers", "", "| layer | type | kernel | in -> out | weight bits | accumulator / product bits | "
             "output bits |", "|---|---|---|---|---|---|---|"]
    for layer in facts["layers"]:
        if layer["type"] == "requantizer":
            lines.append(f"| {layer['name']} | requantizer (shift {layer['shift']}) | | | | {layer['prod_bits']} | "
                         f"{layer['out_bits']} {'signed' if layer['signed'] else 'unsigned'} |")
        else:
            lines.append(f"| {layer['name']} | {layer['type']} | {layer['kernel_size']} | {layer['in_channels']} -> "
                         f"{layer['out_channels']} | {layer['weight_bits']} | {layer['acc_bits']} | |")
    lines += ["", "## Test accuracy (this network, one training seed)", "",
              "RMSE in px with its 95% interval; efficiency is RMSE over the Cramér–Rao bound; the ratio is this "
              "network's RMSE over BR8's on the lines both find (paired bootstrap, 95% interval).", "",
              "| condition | SNR | RMSE px | efficiency | ratio to BR8 | missed | gross errors | false alarms |",
              "|---|---|---|---|---|---|---|---|"]
    for row in card["accuracy"]:
        lines.append(f"| {row['condition']} | {row['snr'] if row['snr'] not in (None, '') else '-'} | "
                     f"{interval_cell(row['rmse_px'], row['rmse_ci_low'], row['rmse_ci_high'], fixed=True)} | "
                     f"{number_cell(row['efficiency'], 2, fixed=True)} | {ratio_cell(row)} | "
                     f"{number_cell(row['miss_rate'], fixed=True)} | {number_cell(row['gross_error_rate'], fixed=True)} | "
                     f"{number_cell(row['false_alarm_rate'], fixed=True)} |")
    lines += ["", "## Hardware (Yosys `synth_xilinx`, pre-route estimates)", ""] + _hardware_lines(hw)
    doc = f"models/{card['name']}/{DOCUMENT_FILE}"
    lines += ["", "## Use it", "", "```",
              f"workbench detect my_frames/ --detector {doc}            # your profiles or camera frames",
              "workbench generate --preset snr_16 --seed 7 --out test.npz",
              f"workbench evaluate test.npz --models {doc} hybrid:{doc}   # beside BR8 and the others",
              f"workbench simulate --model {doc} --preset mixed --lanes 4   # cycle by cycle in MyHDL",
              f"workbench hdl --model {doc} --lanes 4 --out hdl_{card['name']} --verify   # VHDL/Verilog",
              f"workbench synth --model {doc} --lanes 1,4", "```", ""]
    return "\n".join(lines)
