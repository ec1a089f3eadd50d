"""Timing helpers, the machine's measured matrix-multiply rate, and markdown tables."""
from __future__ import annotations

import time

import numpy as np


def best_time(fn, repeat: int = 3, min_time: float = 0.2) -> float:
    """Best wall time of fn() over `repeat` runs (each run repeated until it lasts min_time)."""
    fn()
    best = np.inf
    for _ in range(repeat):
        k, start = 0, time.perf_counter()
        while True:
            fn()
            k += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / k)
    return best


def matmul_rate(n: int = 2048, dtype=np.float64) -> float:
    """Measured GEMM rate in flop/s for an n x n x n product (2 n^3 flops), all BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n)).astype(dtype)
    b = rng.random((n, n)).astype(dtype)
    return 2 * n**3 / best_time(lambda: a @ b, repeat=3, min_time=0.5)


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
