#!/usr/bin/env bash
# The recipe of the bundled default model (audiogan_core/models/default), end to end.
# Builds the Debian foley library, then trains (or resumes) the `foley` preset. Re-run it to
# continue after an interruption. Export the result with scripts/export_bundled.py.
#   DATA=/work/data/debian-foley RUN=/work/runs/bundled CACHE=/work/data/cache/debian-foley scripts/train_bundled.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/debian-foley}
RUN=${RUN:-runs/bundled}
CACHE=${CACHE:-$DATA.cache}
AG=${AG:-.venv/bin/audiogan}
[[ -f "$DATA/captions.jsonl" ]] || "$AG" data debian-foley --out "$DATA" --install
if [[ -f "$RUN/checkpoint.pt" ]]; then
  exec "$AG" train --data "$DATA" --out "$RUN" --cache-dir "$CACHE" --resume --device auto --no-progress "$@"
fi
exec "$AG" train --data "$DATA" --out "$RUN" --cache-dir "$CACHE" --config training/recipes/bundled-foley.json \
  --device auto --no-progress "$@"
