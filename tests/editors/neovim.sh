#!/usr/bin/env bash
# Neovim test: 0.11 with the shipped lsp/keras_lsp.lua; 0.7 and 0.11 with the README's legacy snippet.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nvim011="$tools/nvim-venv/bin/nvim"
nvim07=/usr/bin/nvim
"$nvim011" --version | head -1 | grep -q 'v0\.11\.' || { echo "need Neovim 0.11 at $nvim011 (scripts/ensure-editors.sh)" >&2; exit 1; }
"$nvim07" --version | head -1 | grep -q 'v0\.7\.' || { echo "need Neovim 0.7 at $nvim07 (scripts/ensure-editors.sh)" >&2; exit 1; }

# The legacy snippet exactly as the README shows it.
snippet="$work/legacy-init.lua"
awk '/<!-- begin: nvim-legacy-snippet -->/{on=1; next} /<!-- end: nvim-legacy-snippet -->/{on=0} on && !/^```/' \
  "$repo_root/editors/neovim/README.md" >"$snippet"
grep -q 'start_client' "$snippet" || { echo "legacy snippet not found in editors/neovim/README.md" >&2; exit 1; }

status=0
run() { # name, command...
  local name=$1; shift
  cp "$tests_dir/$fixture_rel" "$KLSP_FILE"
  if "$@" </dev/null; then echo "ok $name"; else echo "not ok $name"; status=1; fi
}
cd "$project"
run "0.11 lsp/keras_lsp.lua" "$nvim011" --headless -u NONE -i NONE --cmd "set rtp^=$repo_root/editors/neovim" \
  -l "$tests_dir/neovim/nvim011.lua"
KLSP_TEST_NAME=neovim-0.7-snippet run "0.7 README snippet" "$nvim07" --headless -u "$snippet" -i NONE \
  -c "luafile $tests_dir/neovim/legacy.lua"
KLSP_TEST_NAME=neovim-0.11-snippet run "0.11 README snippet" "$nvim011" --headless -u "$snippet" -i NONE \
  -c "luafile $tests_dir/neovim/legacy.lua"
exit $status
