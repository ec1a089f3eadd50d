"""Exact samples of the Fredkin chain and the 2D Ising cylinder, with exact observables overlaid.

    python examples/sample_models.py OUT_DIR [--quick]

Writes fredkin.png (height distribution at mid-chain: sample histogram vs exact), ising.png
(energy histogram with the exact mean; magnetisation histogram) and summary.txt.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tnddm.lattice import BETA_C, Fredkin, IsingCylinder  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_cli.py, also under runpy / importlib
from _cli import example_parser, parse_example_args  # noqa: E402


def main(argv=None):
    ap = example_parser(__doc__, "small sizes (seconds)")
    args = parse_example_args(ap, argv)
    n = 2000 if args.quick else 100_000
    lines = []

    fk = Fredkin(32 if args.quick else 256, c=0.5)
    X, _ = fk.sample(n, seed=0)
    mid = fk.n_sites // 2
    heights = fk.statistics(X)["mid_height"]
    exact = fk.height_distribution(mid)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(heights, bins=np.arange(exact.size + 1) - 0.5, density=True, alpha=0.6, label=f"{n} exact samples")
    ax.plot(np.arange(exact.size), exact, "k.-", label="exact P(h)")
    ax.set_xlim(-0.5, min(exact.size, 4 * np.sqrt(fk.n_sites)))
    ax.set_xlabel(f"height at site {mid}")
    ax.legend()
    ax.set_title(f"Fredkin N={fk.n_sites}, c=0.5")
    fig.tight_layout()
    fig.savefig(args.out / "fredkin.png", dpi=110)
    plt.close(fig)
    obs = fk.observables()
    lines.append(f"Fredkin N={fk.n_sites} c=0.5: log Z = {obs['log_z']:.6f}, exact <A> = {obs['mean_area']:.4f}, "
                 f"sample <A> = {fk.statistics(X)['area'].mean():.4f}")

    L, W = (8, 4) if args.quick else (16, 8)
    ising = IsingCylinder(length=L, width=W, beta=BETA_C)
    X, _ = ising.sample(n, seed=1)
    stats = ising.statistics(X)
    obs = ising.observables()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].hist(stats["energy_per_site"], bins=40, density=True, alpha=0.6)
    axes[0].axvline(obs["energy_per_site"], color="k", label="exact <E>/N")
    axes[0].set_xlabel("energy per site")
    axes[0].legend()
    axes[1].hist(stats["magnetisation"], bins=41, density=True, alpha=0.6)
    axes[1].set_xlabel("magnetisation per site")
    fig.suptitle(f"Ising {L}x{W} cylinder at beta_c")
    fig.tight_layout()
    fig.savefig(args.out / "ising.png", dpi=110)
    plt.close(fig)
    se = stats["energy_per_site"].std() / np.sqrt(n)
    lines.append(f"Ising {L}x{W} cylinder at beta_c: log Z = {obs['log_z']:.6f}, exact E/N = {obs['energy_per_site']:.6f}, "
                 f"sample E/N = {stats['energy_per_site'].mean():.6f} +- {se:.6f}, exact <m^2> = {obs['m2']:.5f}, "
                 f"sample <m^2> = {np.mean(stats['magnetisation'] ** 2):.5f}, sample <|m|> = {stats['abs_magnetisation'].mean():.5f}")
    (args.out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
