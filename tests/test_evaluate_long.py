"""The loop seam check of scripts/evaluate_long.py on signals whose answer is known."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from evaluate_long import seam_check  # noqa: E402


def test_a_whole_number_of_periods_loops_and_a_cut_does_not():
    rate = 22050
    t = np.arange(rate * 2) / rate
    f = 441.0  # 2 s hold exactly 882 periods
    loop = (0.5 * np.sin(2 * np.pi * f * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    good = seam_check(loop)
    assert good["flux_ok"] and good["step_ok"], good
    cut = np.concatenate([loop[: rate + 1234], 0.9 * np.random.default_rng(0).standard_normal(rate // 2)])
    bad = seam_check(cut.astype(np.float32))
    assert not bad["flux_ok"] and bad["seam_flux"] > 2 * bad["inner_flux_p95"], bad


def test_a_step_at_the_seam_is_caught():
    t = np.arange(22050) / 22050
    ramp = np.sin(2 * np.pi * 3 * t) * 0.01 + np.linspace(-0.5, 0.5, t.size)  # ends far from where it starts
    result = seam_check(ramp.astype(np.float32))
    assert not result["step_ok"] and result["seam_step"] > 0.9
