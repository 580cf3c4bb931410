#!/usr/bin/env bash
# The recipe of the bundled default model (audiogan_core/models/default), end to end, in the stages
# of training/recipes/bundled-phases.json (see README, "Bundled model"):
# Stage 1 builds the first Debian foley library (v1) and trains (or resumes) the fixed-length `foley` preset:
#   1. training/recipes/bundled-foley.json: the paper's discriminator (its SDT stages attend to the caption);
#   2. training/recipes/bundled-foley-blind.json: the same run continued with a text-blind discriminator
#      trunk and the matching-aware hinge;
#   3. training/recipes/bundled-foley-category.json: the same again plus the auxiliary category
#      classifier (category_weight 1.0).
# Stage 2 exports stage 1's raw generator to RUN/stage1-model, builds the wider library and trains the
# any-length `foley2` preset from it (--init-from) with the stage's recipe.
# Stage 3 exports stage 2's generator to RUN2/stage2-model, fits a level envelope onto it (audiogan fit-level,
# RUN2/stage2-level) and trains from that (RUN3) with the stage's recipe, the envelope trained with the rest.
# Stages 4 on export the stage before's generator (RUN3/stage3-model, RUN4/stage4-model, ...) and fine-tune it (RUN4,
# RUN5, ...) with the stage's recipe.
# Re-run it to continue after an interruption. Export the result with scripts/export_bundled.py (README).
#   DATA=data/debian-foley RUN=runs/bundled DATA2=data/debian-foley-wide RUN2=runs/bundled-foley2 \
#     RUN3=runs/bundled-foley2-level RUN4=runs/bundled-foley2-stage4 RUN5=runs/bundled-foley2-stage5 \
#     scripts/train_bundled.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/debian-foley}
RUN=${RUN:-runs/bundled}
CACHE=${CACHE:-$DATA.cache}
DATA2=${DATA2:-data/debian-foley-wide}
RUN2=${RUN2:-runs/bundled-foley2}
PHASES=training/recipes/bundled-phases.json
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
for p in json.load(open(sys.argv[1]))["phases"]: print(p["recipe"], p["until_step"] or 0)' "$PHASES")
for phase in "${phases[@]}"; do
  read -r recipe until <<<"$phase"
  (( until > 0 && step >= until )) && continue
  resume=(); (( step > 0 )) && resume=(--resume)
  limit=(); (( until > 0 )) && limit=(--steps "$until")
  "$AG" train "${COMMON[@]}" "${resume[@]}" --config "training/recipes/$recipe" "${limit[@]}" "$@"
  (( until > 0 )) || break
  step=$until
done

# Stage 2: the any-length model, from stage 1's raw generator at its last step.
read -r recipe2 until2 < <("$PY" -c 'import json, sys
s = json.load(open(sys.argv[1]))["stage2"]; print(s["recipe"], s["until_step"])' "$PHASES")
# export_generator CHECKPOINT FOLDER raw|ema [INIT_FOLDER]: a run checkpoint's generator as a model folder with
# its training record (and INIT_FOLDER's as the stage before), once
export_generator() {
  [[ -f "$2/generator.safetensors" ]] && return 0
  "$PY" -c 'import sys; sys.path.insert(0, "scripts"); from pathlib import Path
from export_bundled import export_checkpoint_generator
export_checkpoint_generator(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3],
                            init=Path(sys.argv[4]) if len(sys.argv) > 4 else None)' "$@"
}
export_generator "$RUN/checkpoint.pt" "$RUN/stage1-model" raw
[[ -f "$DATA2/captions.jsonl" ]] || "$AG" data debian-foley --out "$DATA2" --install
if [[ -f "$RUN2/checkpoint.pt" ]]; then start=(--resume); else start=(--init-from "$RUN/stage1-model"); fi
"$AG" train --data "$DATA2" --out "$RUN2" --cache-dir "${CACHE2:-$DATA2.cache}" --device auto --no-progress \
  "${start[@]}" --config "training/recipes/$recipe2" --steps "$until2" "$@"

# Stage 3: stage 2's generator at its last step with a level envelope fitted to the wider library's recordings,
# then a new run from it with the envelope trained with the rest.
RUN3=${RUN3:-runs/bundled-foley2-level}
read -r weights2 fit3 recipe3 until3 < <("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1])); s = d["stage3"]
print(d["stage2"]["weights"], s["level_fit"], s["recipe"], s["until_step"])' "$PHASES")
export_generator "$RUN2/checkpoint.pt" "$RUN2/stage2-model" "$weights2" "$RUN/stage1-model"
[[ -d "$RUN2/stage2-level" ]] || "$AG" fit-level --data "$DATA2" --out "$RUN2/stage2-level" --model "$RUN2/stage2-model" \
  --cache-dir "${CACHE2:-$DATA2.cache}" --config "training/recipes/$fit3" --device auto --no-progress
if [[ -f "$RUN3/checkpoint.pt" ]]; then start=(--resume); else start=(--init-from "$RUN2/stage2-level"); fi
"$AG" train --data "$DATA2" --out "$RUN3" --cache-dir "${CACHE2:-$DATA2.cache}" --device auto --no-progress \
  "${start[@]}" --config "training/recipes/$recipe3" --steps "$until3" "$@"

# Stages 4 on (as many as the schedule names): short fine-tunes, each from the stage before's generator at its last
# step, aimed at some kinds' faults. Run folders: RUN4, RUN5, ... (default runs/bundled-foley2-stageN).
# one line per stage: the weights of the stage before, then the recipe and last step
mapfile -t tunes < <("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1])); n = 4
while f"stage{n}" in d:
    print(d[f"stage{n - 1}"]["weights"], d[f"stage{n}"]["recipe"], d[f"stage{n}"]["until_step"]); n += 1' "$PHASES")
prev_run=$RUN3; prev_init=$RUN2/stage2-level; n=4
for tune in "${tunes[@]}"; do
  read -r weights recipe until <<<"$tune"
  run_var=RUN$n; run=${!run_var:-runs/bundled-foley2-stage$n}
  export_generator "$prev_run/checkpoint.pt" "$prev_run/stage$((n - 1))-model" "$weights" "$prev_init"
  if [[ -f "$run/checkpoint.pt" ]]; then start=(--resume); else start=(--init-from "$prev_run/stage$((n - 1))-model"); fi
  "$AG" train --data "$DATA2" --out "$run" --cache-dir "${CACHE2:-$DATA2.cache}" --device auto --no-progress \
    "${start[@]}" --config "training/recipes/$recipe" --steps "$until" "$@"
  prev_init=$prev_run/stage$((n - 1))-model; prev_run=$run; n=$((n + 1))
done
