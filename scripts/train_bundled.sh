#!/usr/bin/env bash
# The recipe of the bundled default model (audiogan_core/models/default), end to end.
# Builds the Debian foley library, then trains (or resumes) the `foley` preset in three phases:
#   1. steps 0..2452: training/recipes/bundled-foley.json, the paper's discriminator (its SDT
#      stages attend to the caption);
#   2. from step 2452: training/recipes/bundled-foley-blind.json, the same run continued with a
#      text-blind discriminator trunk and the matching-aware hinge (see README, "Bundled model");
#   3. from step 8217: training/recipes/bundled-foley-category.json, the same again plus the
#      auxiliary category classifier (category_weight 1.0; category accuracy had plateaued at ~42%).
# Re-run it to continue after an interruption. Export the result with scripts/export_bundled.py.
#   DATA=/work/data/debian-foley RUN=/work/runs/bundled CACHE=/work/data/cache/debian-foley scripts/train_bundled.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/debian-foley}
RUN=${RUN:-runs/bundled}
CACHE=${CACHE:-$DATA.cache}
AG=${AG:-.venv/bin/audiogan}
PY=${PY:-.venv/bin/python}
PHASE1_STEPS=2452
PHASE2_STEPS=8217
COMMON=(--data "$DATA" --out "$RUN" --cache-dir "$CACHE" --device auto --no-progress)
[[ -f "$DATA/captions.jsonl" ]] || "$AG" data debian-foley --out "$DATA" --install

step=0
if [[ -f "$RUN/checkpoint.pt" ]]; then
  step=$("$PY" -c 'import sys; from audiogan_training.trainer import read_checkpoint; print(read_checkpoint(sys.argv[1])[0]["step"])' \
    "$RUN/checkpoint.pt")
fi
if (( step < PHASE1_STEPS )); then
  resume=(); (( step > 0 )) && resume=(--resume)
  "$AG" train "${COMMON[@]}" "${resume[@]}" --config training/recipes/bundled-foley.json --steps "$PHASE1_STEPS" "$@"
fi
if (( step < PHASE2_STEPS )); then
  "$AG" train "${COMMON[@]}" --resume --config training/recipes/bundled-foley-blind.json --steps "$PHASE2_STEPS" "$@"
fi
exec "$AG" train "${COMMON[@]}" --resume --config training/recipes/bundled-foley-category.json "$@"
