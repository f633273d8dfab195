"""Network families of run_all's training stage: the paper-faithful default and others of another topology.

The default family (topology: the setting `topology`, the paper's when absent) keeps the plain names:
method `nn_qat`, documents `qat_4-4.json`, hybrid method `hybrid_adaptive`, so that every goal and table
reads the paper-faithful baseline. Each family of the setting `families` (name -> topology) appends
`_<name>` to them (`nn_qat_reach`, `qat_4-4_reach.json`, `hybrid_adaptive_reach`), and its documents
carry `metadata.family`.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from workbench.errors import ConfigError
from workbench.pipeline.sweep import NETWORK_DEFAULTS

DEFAULT_FAMILY = ""
_NAME = re.compile(r"[a-z][a-z0-9]*")


def family_topologies(settings: dict[str, Any]) -> dict[str, str]:
    """`family -> topology`: the default family first, then the `families` setting in its order."""
    families = settings.get("families") or {}
    for name in families:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(f"network family name {name!r} invalid; allowed a lowercase letter followed by "
                              "lowercase letters or digits")
    return {DEFAULT_FAMILY: settings.get("topology", NETWORK_DEFAULTS["topology"]), **families}


def in_family(name: str, family: str) -> str:
    """A method or file name of the default family as `family` names it: unchanged for the default."""
    return f"{name}_{family}" if family else name


def families_among(methods: Iterable[str], base: str) -> list[str]:
    """The other families whose `base` method (e.g. `nn_qat`) is among `methods`, in first-seen order."""
    prefix = base + "_"
    tails = (method[len(prefix):] for method in methods if method.startswith(prefix))
    return list(dict.fromkeys(tail for tail in tails if _NAME.fullmatch(tail)))
