# Shared shell setup for tests/editors/*.sh: temp HOME/XDG dirs, a workspace with the fixture, PATH.
# Sourced by each test; expects KERAS_LSP_BIN to name the server binary.

tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$tests_dir/../.." && pwd)
tools="$repo_root/.tools"
artifacts="$tests_dir/artifacts"
mkdir -p "$artifacts"

: "${KERAS_LSP_BIN:?set KERAS_LSP_BIN to the keras-lsp binary}"
[ -x "$KERAS_LSP_BIN" ] || { echo "KERAS_LSP_BIN=$KERAS_LSP_BIN is not executable" >&2; exit 2; }
KERAS_LSP_BIN=$(cd "$(dirname "$KERAS_LSP_BIN")" && pwd)/$(basename "$KERAS_LSP_BIN")
export KERAS_LSP_BIN

# A private home for the editor: nothing is read from or written to the real one.
work=$(mktemp -d "${TMPDIR:-/tmp}/keras-lsp-editor.XXXXXX")
# Editors may still be writing as they exit: retry once, and never fail the test over cleanup.
cleanup_work() { rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work" 2>/dev/null; } || true; }
trap cleanup_work EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
  XDG_STATE_HOME="$work/state" XDG_CACHE_HOME="$work/cache" XDG_RUNTIME_DIR="$work/run"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_STATE_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

# `keras-lsp` on PATH, as the shipped configs expect.
mkdir -p "$work/bin"
ln -s "$KERAS_LSP_BIN" "$work/bin/keras-lsp"
export PATH="$work/bin:$PATH"

# The project the editor opens: the fixture plus a root marker.
project="$work/project"
mkdir -p "$project"
fixture_rel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fixture"])' "$tests_dir/expectations.json")
cp "$tests_dir/$fixture_rel" "$project/train.py"
printf '[project]\nname = "editor-fixture"\nversion = "0"\n' >"$project/pyproject.toml"
export KLSP_TESTS_DIR="$tests_dir" KLSP_FILE="$project/train.py"
