#!/usr/bin/env bash
# Idempotent set-up: Debian HDL tools (when missing), a virtual environment with the pinned
# packages, and MyHDL's Icarus VPI module. Fast when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
case "$VENV" in /*) VPY="$VENV/bin/python" ;; *) VPY="$(pwd)/$VENV/bin/python" ;; esac
APT_PACKAGES="ghdl iverilog yosys verilator"

missing=""
for tool in ghdl iverilog yosys verilator; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "setup: installing Debian packages for the hardware flow (missing:$missing)"
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: cannot install them here (needs root and apt-get). Run:" >&2
        echo "    apt-get update && apt-get install -y $APT_PACKAGES" >&2
        exit 1
    fi
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_PACKAGES >/dev/null; }; then
        echo "setup: apt-get failed. Install the packages by hand, then rerun:" >&2
        echo "    apt-get update && apt-get install -y $APT_PACKAGES" >&2
        exit 1
    fi
fi

# GHDL's LLVM back end compiles the design to machine code (several times faster than the mcode
# back end of the `ghdl` package); install it beside mcode when apt has it, else keep mcode.
if ! command -v ghdl-llvm >/dev/null 2>&1 && ! command -v ghdl-gcc >/dev/null 2>&1 \
        && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 \
        && apt-cache policy ghdl-llvm 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo "setup: installing ghdl-llvm (GHDL's faster back end)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ghdl-llvm >/dev/null \
        || echo "setup: ghdl-llvm did not install; GHDL keeps the mcode back end" >&2
fi

stamp="$VENV/.setup-stamp"
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! (cd / && "$VPY" -c "import workbench" 2>/dev/null); then
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -U pip==26.3
    "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"
fi

vpi="$VENV/lib/myhdl.vpi"
if [ ! -f "$vpi" ]; then
    src="$VENV/share/myhdl/cosimulation/icarus"
    tmp=$(mktemp -d)
    (cd "$tmp" && iverilog-vpi "$OLDPWD/$src/myhdl.c" "$OLDPWD/$src/myhdl_table.c" >/dev/null)
    mv "$tmp/myhdl.vpi" "$vpi"
    rm -rf "$tmp"
fi
echo "setup: ready ($VENV)"
