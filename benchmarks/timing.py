"""Small timing helpers shared by the benchmark workers (no heavy imports here)."""
from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from typing import Callable


def sync(device) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def measure(fn: Callable[[], object], *, repeats: int, warmup: int = 1, device="cpu") -> dict:
    """Run fn warmup times untimed, then `repeats` times; median and inter-quartile range (s)."""
    for _ in range(warmup):
        fn()
        sync(device)
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return summarise(times)


def summarise(times: list[float]) -> dict:
    times = sorted(times)
    if len(times) >= 2:
        q = statistics.quantiles(times, n=4, method="inclusive")
        q1, q3 = q[0], q[2]
    else:
        q1 = q3 = times[0]
    return {"median_s": statistics.median(times), "q1_s": q1, "q3_s": q3, "iqr_s": q3 - q1, "n": len(times),
            "times_s": times}


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError):
        return None


def params(module) -> int:
    if module is None:
        return 0
    try:
        return int(sum(p.numel() for p in module.parameters()))
    except AttributeError:
        return 0


def machine_info(device: str) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": str(device)}
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
