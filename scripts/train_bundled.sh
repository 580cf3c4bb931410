#!/usr/bin/env bash
# The recipe of the bundled default model (audiogan_core/models/default), end to end.
# Builds the Debian foley library, then trains (or resumes) the `foley` preset through the phases
# in training/recipes/bundled-phases.json (see README, "Bundled model"):
#   1. training/recipes/bundled-foley.json: the paper's discriminator (its SDT stages attend to the caption);
#   2. training/recipes/bundled-foley-blind.json: the same run continued with a text-blind discriminator
#      trunk and the matching-aware hinge;
#   3. training/recipes/bundled-foley-category.json: the same again plus the auxiliary category
#      classifier (category_weight 1.0).
# Re-run it to continue after an interruption. Export the result with scripts/export_bundled.py.
#   DATA=/work/data/debian-foley RUN=/work/runs/bundled CACHE=/work/data/cache/debian-foley scripts/train_bundled.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/debian-foley}
RUN=${RUN:-runs/bundled}
CACHE=${CACHE:-$DATA.cache}
AG=${AG:-.venv/bin/audiogan}
PY=${PY:-.venv/bin/python}
COMMON=(--data "$DATA" --out "$RUN" --cache-dir "$CACHE" --device auto --no-progress)
# the bundled model was trained on the first library ("v1"), not the wider default set
[[ -f "$DATA/captions.jsonl" ]] || "$AG" data debian-foley --out "$DATA" --packages v1 --install

step=0
if [[ -f "$RUN/checkpoint.pt" ]]; then
  step=$("$PY" -c 'import sys; from audiogan_training.trainer import read_checkpoint; print(read_checkpoint(sys.argv[1])[0]["step"])' \
    "$RUN/checkpoint.pt")
fi
# one line per phase: "recipe until_step", 0 for a phase with no end
mapfile -t phases < <("$PY" -c 'import json, sys
for p in json.load(open(sys.argv[1]))["phases"]: print(p["recipe"], p["until_step"] or 0)' training/recipes/bundled-phases.json)
for phase in "${phases[@]}"; do
  read -r recipe until <<<"$phase"
  (( until > 0 && step >= until )) && continue
  resume=(); (( step > 0 )) && resume=(--resume)
  limit=(); (( until > 0 )) && limit=(--steps "$until")
  "$AG" train "${COMMON[@]}" "${resume[@]}" --config "training/recipes/$recipe" "${limit[@]}" "$@"
  (( until > 0 )) || break
  step=$until
done
