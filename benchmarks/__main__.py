"""Run every benchmark side by side in one process; print and write a markdown table.

    python -m benchmarks [--quick] [--out benchmarks/results]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np

import tnddm

from . import compression, distributed, engine, models, scaling
from .common import markdown_table, matmul_rate


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--out", default="benchmarks/results", help="folder for results.md and results.json")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    gemm = matmul_rate(1024 if args.quick else 2048)
    header = (f"tnddm {tnddm.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores; measured float64 GEMM rate {gemm / 1e9:.1f} GFlop/s")
    print(header)
    sections = {"Exact sampling (engine)": engine.run(gemm, quick=args.quick)}
    rows, extra = scaling.run(quick=args.quick)
    sections["Scaling in N and chi (dense, d = 2)"] = rows
    scaling.plot(extra["curves"], out / "scaling.png")
    sections.update(models.run(quick=args.quick))
    sections["Dask: local cluster of 1 and 2 single-threaded workers"] = distributed.run(quick=args.quick)
    sections["Compression of sqrt(pi) to bond chi (tnddm.mps.compress vs quimb)"] = compression.run(quick=args.quick)
    print(f"tnddm cost vs N: log-log slope {extra['cost_slope_N']:.3f} (N = 64 .. {max(extra['curves']['N'])})")
    text = [f"# tnddm benchmarks\n\n{header}\n\ntnddm sampling cost against N: log-log slope "
            f"{extra['cost_slope_N']:.3f}; plot: scaling.png\n"]
    for title, rows in sections.items():
        table = markdown_table(rows)
        print(f"\n## {title}\n{table}")
        text.append(f"## {title}\n\n{table}\n")
    (out / "results.md").write_text("\n".join(text))
    (out / "results.json").write_text(json.dumps({"header": header, "sections": sections}, indent=1, default=float))
    print(f"\nwrote {out / 'results.md'}")


if __name__ == "__main__":
    main()
