#!/usr/bin/env bash
# Usage: check_unchanged.sh DIR -- COMMAND...
# Runs COMMAND and fails if it changed any file under DIR (content, new or removed files).
# Works on a dirty working tree too: it compares snapshots, not git state.
set -euo pipefail
dir=$1; shift; [ "$1" = "--" ] && shift
snap() { find "$dir" -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 md5sum; }
before=$(snap)
"$@" >/dev/null
after=$(snap)
if [ "$before" != "$after" ]; then
  echo "FAIL: '$*' changed files under $dir/:" >&2
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u >&2
  echo "Edit the notebooks in nbs/, run the command, and commit the result." >&2
  exit 1
fi
echo "ok: '$*' leaves $dir/ unchanged"
