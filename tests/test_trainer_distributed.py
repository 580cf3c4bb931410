"""DDP on the CPU: two gloo processes under torchrun (`python -m torch.distributed.run`, i.e. the
venv's own interpreter) running `-m audiogan_training`. Rank 0's checkpoint must load, only
rank 0 may write files, and both processes must leave the process group before exiting.

Which files each rank opens for writing is recorded with an audit hook (sys.addaudithook)
installed through a `sitecustomize` module on PYTHONPATH, so the trainer runs unmodified."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from audiogan_core.config import preset
from audiogan_training.config import TrainConfig
from test_trainer import CHECKPOINT_NAME, LOSS_KEYS, PHASE3_SWITCHES, make_real_library

REPO = Path(__file__).resolve().parents[1]

SITECUSTOMIZE = r'''
import atexit, os, sys
_rank = os.environ.get("RANK")
_folder = os.environ.get("AUDIOGAN_TEST_AUDIT_DIR")
if _rank is not None and _folder:
    _fd = os.open(os.path.join(_folder, f"rank{_rank}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _hook(event, args):
        try:
            path = None
            if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
                mode, flags = args[1], args[2]
                if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITE):
                    path = args[0]
            elif event in ("os.rename", "os.link"):  # (src, dst, ...): os.replace raises os.rename
                path = args[1]
            elif event == "os.mkdir" and not os.path.isdir(args[0]):  # mkdir(exist_ok=True) of a folder that exists: no write
                path = args[0]
            elif event == "os.remove":
                path = args[0]
            if path is not None:
                os.write(_fd, (repr(os.fsdecode(path)) + "\n").encode())
        except Exception:
            pass

    sys.addaudithook(_hook)

    @atexit.register
    def _report_process_group():
        dist = sys.modules.get("torch.distributed")
        alive = bool(dist is not None and dist.is_available() and dist.is_initialized())
        os.write(_fd, f"PROCESS_GROUP_ALIVE_AT_EXIT={alive}\n".encode())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="this torch build has no gloo backend")
@pytest.mark.parametrize("phase3", [False, True], ids=["default", "category-head"])
def test_ddp_two_gloo_processes(tmp_path, phase3):
    """phase3=True: the switches of the bundled phase-3 recipe (blind D, mismatch hinge, and the
    category head: a third DDP-wrapped module with its own optimiser) on the tiny preset."""
    library = tmp_path / "library"
    make_real_library(library)
    hooks, audit, run, cache = tmp_path / "hooks", tmp_path / "audit", tmp_path / "run", tmp_path / "cache"
    hooks.mkdir()
    audit.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "AUDIOGAN_TEST_AUDIT_DIR": str(audit),
           "PYTHONPATH": os.pathsep.join([str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "audiogan_training", "--data", str(library), "--out", str(run), "--preset", "tiny",
           "--steps", "4", "--batch-size", "4", "--device", "cpu", "--preview-every", "2", "--no-progress",
           "--cache-dir", str(cache)]
    if phase3:
        config = TrainConfig(model=preset("tiny"), **PHASE3_SWITCHES)
        (tmp_path / "recipe.json").write_text(config.to_json(), encoding="utf-8")
        cmd += ["--config", str(tmp_path / "recipe.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert output.count("audiogan train: step 4") == 1, output  # only rank 0 reports

    # rank 0's checkpoint loads, and records the 2-process data order
    state = torch.load(run / CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert state["step"] == 4
    assert state["sampler"]["world_size"] == 2 and state["sampler"]["rank"] == 0
    assert ("C" in state) == phase3 and ("opt_c" in state) == phase3
    from audiogan_core.api import AudioGAN

    model = AudioGAN.load(run / "model")
    assert model.config.name == "tiny"

    # one log record per event: nothing from rank 1
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    losses = [r for r in records if "g_total" in r]
    assert [r["step"] for r in losses] == [4] and LOSS_KEYS <= set(losses[0])
    if phase3:  # averaged over both ranks like every other term
        assert losses[0]["d_category"] > 0 and losses[0]["g_category"] > 0 and losses[0]["d_mismatch"] >= 0
    assert [r["step"] for r in records if "mel_fd" in r] == [2, 4]
    assert sorted(p.name for p in (run / "previews").iterdir()) == ["step_0000002", "step_0000004"]

    # who wrote what: rank 1 wrote nothing under the run folder; the shared mel cache (outside
    # it here) was split between the ranks, one file per clip
    writes = {}
    for rank in (0, 1):
        lines = (audit / f"rank{rank}.jsonl").read_text().splitlines()
        assert lines[-1] == "PROCESS_GROUP_ALIVE_AT_EXIT=False", f"rank {rank}: {lines[-1]}"
        writes[rank] = [eval(line) for line in lines[:-1]]  # noqa: S307 (repr of a str, written above)
    under_run = {rank: [p for p in paths if Path(p).resolve().is_relative_to(run.resolve())]
                 for rank, paths in writes.items()}
    assert any(p.endswith(".tmp") or p.endswith("log.jsonl") for p in under_run[0])
    assert under_run[1] == [], under_run[1][:10]
    mels = sorted(cache.rglob("*.npy"))
    assert len(mels) == len(list(library.glob("*.wav")))
