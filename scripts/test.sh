#!/usr/bin/env bash
# Runs every test on a fresh machine: builds the extension into a venv, then Rust unit tests,
# lints, Python tests and notebooks. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PILOTDID_VENV:-.venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
VENV="$(cd "$VENV" && pwd)"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "maturin>=1.5,<2"
echo "== build the extension (release) and install pilotdid[test] into $VENV"
VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" maturin develop --release -E test
# moderndid (the triple-differences oracle, tests only) declares Python >= 3.12 but runs on
# 3.11, where the test extra's marker leaves it out: install it anyway there
if ! "$VENV/bin/python" -c "import moderndid" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --ignore-requires-python "moderndid==0.4.1"
fi

echo "== cargo fmt / clippy / test"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace

echo "== ruff"
"$VENV/bin/ruff" check python tests benchmarks scripts
"$VENV/bin/ruff" format --check python tests benchmarks scripts

echo "== pytest (tests and notebooks)"
"$VENV/bin/python" -m pytest -q tests
if compgen -G "notebooks/*.ipynb" >/dev/null; then
  "$VENV/bin/python" -m pytest -q --nbmake notebooks -o addopts=""
fi
