#!/usr/bin/env bash
# The main window on BPT1_BOVIN, as a PNG for the README: runs the real window under a virtual X
# server (Debian's xvfb-run), waits for the grid and the first head, grabs the window and quits.
#   gui/screenshot.sh MODEL.pt OUT.png [more performer-view options, e.g. --log-scale]
# PERFORMER_VIEW: the executable (default: build/performer-view next to this folder).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,5p' "$0" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
view=${PERFORMER_VIEW:-$root/build/performer-view}
model=$1 out=$2
shift 2
command -v xvfb-run >/dev/null || { echo "error: xvfb-run not found (apt-get install xvfb xauth)" >&2; exit 1; }
[[ -x $view ]] || { echo "error: $view not built (cmake --build build --target performer-view)" >&2; exit 1; }
cd "$root"  # datasets/bpt1_bovin.fasta, the default sequence
exec xvfb-run -a -s "-screen 0 1600x1000x24" "$view" "$model" --fasta datasets/bpt1_bovin.fasta \
  --screenshot "$out" --timing "$@"
