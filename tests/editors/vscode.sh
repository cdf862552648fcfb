#!/usr/bin/env bash
# VS Code test: packages editors/vscode as a .vsix (server bundled), installs it into code-server,
# and drives it in Chromium with playwright-core (tests/editors/vscode/test.js).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

code_server="$tests_dir/node_modules/.bin/code-server"
[ -x "$code_server" ] || { echo "need code-server in tests/editors/node_modules (scripts/ensure-editors.sh)" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "need /usr/bin/chromium (scripts/ensure-editors.sh)" >&2; exit 1; }

# 0. The extension's unit tests (server discovery, settings mapping).
(cd "$repo_root/editors/vscode" && npm test --silent >"$work/unit.log" 2>&1) \
  || { cat "$work/unit.log" >&2; echo "editors/vscode unit tests failed" >&2; exit 1; }
grep -E '^# (pass|fail)' "$work/unit.log" >&2

# 1. Package the extension with a (stripped) copy of the server bundled, as a release would.
strip -o "$work/keras-lsp" "$KERAS_LSP_BIN" 2>/dev/null || cp "$KERAS_LSP_BIN" "$work/keras-lsp"
(cd "$repo_root/editors/vscode" && KERAS_LSP_BIN="$work/keras-lsp" npm run --silent package >"$work/package.log" 2>&1) \
  || { cat "$work/package.log" >&2; echo "npm run package failed" >&2; exit 1; }
vsix="$repo_root/editors/vscode/dist/keras-lsp.vsix"
cp "$vsix" "$artifacts/keras-lsp.vsix"

notebook_rel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["notebook"]["fixture"])' "$tests_dir/expectations.json")
cp "$tests_dir/$notebook_rel" "$project/notebook.ipynb"

# 2. Install it into a fresh code-server profile. No keras-lsp on PATH: the bundled one must be used.
export PATH="${PATH#"$work/bin:"}"
ext_dir="$work/extensions" user_dir="$work/user-data"
"$code_server" --install-extension "$vsix" --extensions-dir "$ext_dir" --user-data-dir "$user_dir" >&2
python_setting=""
[ -x "$repo_root/.venv/bin/python" ] && python_setting="\"keras-lsp.python\": \"$repo_root/.venv/bin/python\","
mkdir -p "$user_dir/User"
cat >"$user_dir/User/settings.json" <<JSON
{
  $python_setting
  "keras-lsp.test.enable": true,
  "keras-lsp.test.diagnosticsFile": "$work/dump.json",
  "keras-lsp.trace.server": "verbose",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "files.hotExit": "off",
  "[jsonc]": { "editor.autoIndent": "none" },
  "window.restoreWindows": "none"
}
JSON

# 3. code-server on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid "$code_server" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override --ignore-last-opened \
  --user-data-dir "$user_dir" --extensions-dir "$ext_dir" "$project" >"$work/code-server.log" 2>&1 &
server_pid=$!
# code-server runs in its own process group (setsid): stop it with its extension host and server.
stop_server() {
  kill -- "-$server_pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 -- "-$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  cleanup_work
}
trap stop_server EXIT
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/code-server.log" >&2; echo "code-server exited" >&2; exit 1; }
  sleep 0.2
done

status=0
node "$tests_dir/vscode/test.js" "http://127.0.0.1:$port/?folder=$project" "$KLSP_FILE" "$work/dump.json" "$artifacts" \
  "$user_dir/User/settings.json" || status=$?
# The extension's output channel (client log, LSP trace, server stderr) for whoever reads a failure.
find "$user_dir/logs" -name '*keras-lsp*' -exec cp {} "$artifacts/vscode-output.log" \; 2>/dev/null || true
cp "$work/code-server.log" "$artifacts/vscode-code-server.log" 2>/dev/null || true
exit $status
