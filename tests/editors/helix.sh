#!/usr/bin/env bash
# Helix test: the shipped editors/helix/languages.toml, `hx --health python`, then hx itself in tmux.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

hx="$tools/helix/bin/hx"
"$hx" --version | grep -q '^helix 25\.01' || { echo "need Helix 25.01 at $hx (scripts/ensure-editors.sh)" >&2; exit 1; }
mkdir -p "$XDG_CONFIG_HOME/helix"
cp "$repo_root/editors/helix/languages.toml" "$XDG_CONFIG_HOME/helix/languages.toml"
# Test-only editor config: show the selection length and position, to read ranges off the screen.
cat >"$XDG_CONFIG_HOME/helix/config.toml" <<'TOML'
[editor.statusline]
right = ["diagnostics", "primary-selection-length", "position"]
TOML

# 1. hx --health python: keras-lsp found, config parsed, Helix's other Python servers kept.
health=$("$hx" --health python 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
echo "$health" >"$artifacts/helix-health.txt"
echo "$health" >&2
grep -qi 'error' <<<"$health" && { echo "hx --health python reports an error" >&2; exit 1; }
grep -qE "✓ keras-lsp: $work/bin/keras-lsp" <<<"$health" || { echo "hx --health python: keras-lsp not found" >&2; exit 1; }
for other in ruff jedi-language-server pylsp; do  # jedi shows as its command
  grep -qE "^ *. $other[: ]" <<<"$health" || { echo "hx --health python: $other dropped from the list" >&2; exit 1; }
done

# 2. The editor in tmux.
sock="$work/tmux.sock"
cd "$project"
tmux -S "$sock" -f /dev/null new-session -d -x 160 -y 45 \
  "env HOME='$HOME' XDG_CONFIG_HOME='$XDG_CONFIG_HOME' XDG_CACHE_HOME='$XDG_CACHE_HOME' XDG_DATA_HOME='$XDG_DATA_HOME' PATH='$PATH' '$hx' -v --log '$work/hx.log' train.py"
status=0
python3 "$tests_dir/helix/driver.py" "$hx" "$sock" "$work/hx.log" "$artifacts" || status=$?
cp "$work/hx.log" "$artifacts/helix-lsp.log" 2>/dev/null || true
tmux -S "$sock" kill-server 2>/dev/null || true
exit $status
