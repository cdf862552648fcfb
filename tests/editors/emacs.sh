#!/usr/bin/env bash
# Emacs test: Emacs 28 + eglot in batch mode, with the shipped editors/emacs/keras-lsp.el.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

emacs --version | head -1 | grep -q 'Emacs 28' || { echo "need Emacs 28 (scripts/ensure-editors.sh)" >&2; exit 1; }
[ -d /usr/share/emacs/site-lisp/elpa/eglot-1.9 ] || ls -d /usr/share/emacs/site-lisp/elpa/eglot-* >/dev/null 2>&1 \
  || { echo "need elpa-eglot (scripts/ensure-editors.sh)" >&2; exit 1; }
cd "$project"
KLSP_REPO="$repo_root" emacs -Q --batch -l "$tests_dir/emacs/test.el" </dev/null
