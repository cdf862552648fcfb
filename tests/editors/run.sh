#!/usr/bin/env bash
# Runs the real-editor tests (neovim, helix, emacs, vscode), each under a timeout: `run.sh [name...]`.
# Needs KERAS_LSP_BIN (the server binary) and the tools from scripts/ensure-editors.sh.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${KERAS_LSP_BIN:?set KERAS_LSP_BIN to the keras-lsp binary (e.g. target/debug/keras-lsp)}"
mkdir -p "$here/artifacts"

declare -A limit=([neovim]=120 [helix]=120 [emacs]=90 [vscode]=420)
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(neovim helix emacs vscode)

passed=0 failed=0 summary=()
for name in "${tests[@]}"; do
  [ -n "${limit[$name]:-}" ] || { echo "unknown editor test: $name (known: ${!limit[*]})" >&2; exit 2; }
  log="$here/artifacts/$name.log"
  start=$SECONDS
  timeout --kill-after=10 "${limit[$name]}" bash "$here/$name.sh" >"$log" 2>&1 </dev/null
  rc=$?
  took=$((SECONDS - start))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    summary+=("PASS $name (${took} s)")
  else
    failed=$((failed + 1))
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
      reason="timed out after ${limit[$name]} s"
    else
      # The driver's own FAIL line first: health output legitimately says "not found" for other servers.
      reason=$({ grep -m1 'FAIL' "$log" || grep -m1 -E 'need |not found|error' "$log"; } | sed 's/^\[[^]]*\] //' | cut -c1-200)
      reason=${reason:-exit code $rc}
    fi
    summary+=("FAIL $name: $reason")
    echo "--- $name (exit $rc, ${took} s), last lines of $log:" >&2
    tail -n 25 "$log" >&2
  fi
done
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
