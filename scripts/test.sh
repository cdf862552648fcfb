#!/usr/bin/env bash
# Runs every test: installs what the tests need (idempotent, fast when present), then lints,
# unit + integration + end-to-end tests, real-editor tests, and the benchmark harnesses (quick).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
step() { printf '\n==> %s\n' "$*" >&2; }

step "Python environment (.venv: tensorflow-cpu, keras, ruff)"
scripts/ensure-python-env.sh
step "Editors (Neovim, VS Code/code-server, Helix, Emacs)"
scripts/ensure-editors.sh

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

step "cargo test"
cargo build --quiet
export KERAS_LSP_TEST_PYTHON="$root/.venv/bin/python"
cargo test --all-targets 2>&1 | tee /tmp/keras-lsp-cargo-test.log
cargo_status=${PIPESTATUS[0]}
[ "$cargo_status" -eq 0 ] || exit "$cargo_status"

step "Real editors"
KERAS_LSP_BIN="$root/target/debug/keras-lsp" tests/editors/run.sh

step "Benchmark harnesses (quick mode: they must keep working; figures come from full runs)"
python3 benches/check_throughput.py --keras-lsp target/debug/keras-lsp --quick
python3 benches/lsp_latency.py --keras-lsp target/debug/keras-lsp --quick
step "All tests passed"
