#!/usr/bin/env bash
# Idempotently create the repo-local .venv with pinned tensorflow-cpu and keras for the benchmark tests.
set -euo pipefail

TF_VERSION="2.21.0"
KERAS_VERSION="3.15.1"
# Also needed by the tests: tensorboard (the TensorBoard callback variants of the `callbacks`
# scenario) and ruff (the baseline server of benches/lsp_latency.py).
EXTRA_PACKAGES=("tensorboard==2.21.0" "ruff==0.17.6")
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KERAS_LSP_VENV:-$ROOT/.venv}"
BASE_PYTHON="${PYTHON:-python3}"
PY="$VENV/bin/python"

say() { printf 'ensure-python-env: %s\n' "$*" >&2; }

check() {
    "$PY" - "$TF_VERSION" "$KERAS_VERSION" <<'PYCHECK' >/dev/null 2>&1
import importlib.metadata as md
import sys

want_tf, want_keras = sys.argv[1], sys.argv[2]


def dist_version(*names):
    for name in names:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            continue
    return None


# Cheap metadata check first, then the real imports.
if dist_version("keras") != want_keras or dist_version("tensorflow-cpu", "tensorflow") != want_tf:
    sys.exit(1)
if dist_version("tensorboard") is None or dist_version("ruff") is None:
    sys.exit(1)
import keras  # noqa: E402
import tensorflow  # noqa: E402

sys.exit(0 if (tensorflow.__version__, keras.__version__) == (want_tf, want_keras) else 1)
PYCHECK
}

if [ -x "$PY" ] && check; then
    say "$VENV already has tensorflow-cpu==$TF_VERSION, keras==$KERAS_VERSION, ${EXTRA_PACKAGES[*]}"
    exit 0
fi

if [ ! -x "$PY" ]; then
    command -v "$BASE_PYTHON" >/dev/null 2>&1 || { say "error: $BASE_PYTHON not found; install Python 3.9-3.13"; exit 1; }
    say "creating $VENV with $("$BASE_PYTHON" --version 2>&1)"
    if ! "$BASE_PYTHON" -m venv "$VENV"; then
        say "error: '$BASE_PYTHON -m venv' failed; on Debian/Ubuntu install python3-venv (apt-get install python3-venv)"
        exit 1
    fi
fi

say "installing tensorflow-cpu==$TF_VERSION keras==$KERAS_VERSION into $VENV (a few minutes, ~600 MB)"
"$PY" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2
"$PY" -m pip install --disable-pip-version-check --quiet \
    "tensorflow-cpu==$TF_VERSION" "keras==$KERAS_VERSION" "${EXTRA_PACKAGES[@]}" >&2

if check; then
    say "ready: $PY"
else
    say "error: tensorflow/keras still not importable from $PY after install"
    exit 1
fi
