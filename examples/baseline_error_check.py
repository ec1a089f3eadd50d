"""Are single-spin Metropolis' error bars honest on the Edwards-Anderson glass? Independent chains against their own s.e.

    python examples/baseline_error_check.py OUT [--quick] [--chains K] [--sweeps S]

The boundary study (examples/boundary_study.py) rates single-spin Metropolis by its ESS per second,
ESS from its own tau_int estimate. This script checks that estimate the direct way: K independent
compiled Metropolis chains on the +-J Edwards-Anderson 32 x 32 instance at beta = 1 (disorder seed 1),
each S sweeps after a burn-in of S / 10, each with the standard error of its mean energy per site from
its tau_int (tnddm.mcmc.stats.summarize). If the error bars are honest, the chains' means scatter by
their s.e. (ratio about 1) and chi^2 = sum_k ((mean_k - ref) / se_k)^2 against a reference has K
degrees of freedom. The reference is a boundary-MPS Metropolis-Hastings chain (chi_b = 4, 256 walkers,
automatic burn-in, 1,500 recorded steps: tau of about 1 step). Writes OUT/table.md and OUT/chains.png.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _cli import example_parser, parse_example_args
from boundary_study import make_model
from scipy import stats as sps

from tnddm.mcmc import MetropolisHastings, stats
from tnddm.mcmc.local import ising_series


def metropolis_chain(args):
    """One single-threaded Metropolis chain (own process): (mean E/N, its s.e., tau in sweeps)."""
    L, sweeps, seed = args
    import numba

    numba.set_num_threads(1)
    model = make_model("ea", L, 1.0)
    r = ising_series(model, "metropolis", sweeps, 1, sweeps // 10, seed)
    s = stats.summarize(r["energy"][:, None] / model.n_sites)
    return float(s["mean"]), float(s["stderr"]), float(s["tau"])


def reference(L: int, steps: int, seed: int):
    """E/N and its s.e. from a boundary-MPS chain (chi_b = 4, 256 walkers, at least `steps` recorded steps after
    the automatic burn-in)."""
    model = make_model("ea", L, 1.0)
    mh = MetropolisHastings(model, model.proposal(4), moves="disconnected",
                            observables=lambda X: {"e": model.energy(X) / model.n_sites})
    chain = mh.run(steps, 256, seed=seed)
    s = chain.summary()["e"]
    return float(s["mean"]), float(s["stderr"]), bool(chain.converged)


def main(argv=None):
    ap = example_parser(__doc__, "a 6 x 6 glass, 4 short chains", seed=True, summary=True,
                        out="output folder for table.md and chains.png")
    ap.add_argument("--chains", type=int, default=8, help="independent Metropolis chains (default 8)")
    ap.add_argument("--sweeps", type=int, default=200_000, help="recorded sweeps per chain (default 200,000)")
    args = parse_example_args(ap, argv)
    L, chains, sweeps, steps = (6, 4, 4000, 100) if args.quick else (32, args.chains, args.sweeps, 1500)
    ref, ref_se, ref_ok = reference(L, steps, args.seed)
    with ProcessPoolExecutor(2) as pool:  # two chains at a time, one per core
        rows = list(pool.map(metropolis_chain, [(L, sweeps, 100 + args.seed + k) for k in range(chains)]))
    means, ses, taus = map(np.array, zip(*rows))
    z = (means - ref) / np.hypot(ses, ref_se)
    chi2 = float((z**2).sum())
    spread = float(means.std(ddof=1))
    lines = [f"Regenerate: `python examples/baseline_error_check.py OUT --chains {chains} --sweeps {sweeps}"
             + (" --quick" if args.quick else "") + "`", "",
             f"EA {L} x {L}, beta = 1: reference (boundary MPS, chi_b = 4) E/N = {ref:.5f} +- {ref_se:.5f}"
             + ("" if ref_ok else " (NOT converged)"), "",
             "| chain | E/N | s.e. | tau (sweeps) | z against the reference |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {m:.5f} | {s:.5f} | {t:.1f} | {zk:+.2f} |" for k, (m, s, t, zk) in enumerate(zip(means, ses, taus, z))]
    lines += ["", f"spread of the chains' means {spread:.5f} against their mean s.e. {ses.mean():.5f}: ratio "
              f"{spread / ses.mean():.2f}; chi^2 = {chi2:.1f} on {chains} degrees of freedom, "
              f"p = {sps.chi2.sf(chi2, chains):.3f}"]
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    from tnddm._plotting import save_png, subplots

    fig, ax = subplots(1, 1, figsize=(5.5, 3.5))
    ax.errorbar(np.arange(chains), means, yerr=ses, fmt="o", capsize=3, label="Metropolis chains (own s.e.)")
    ax.axhline(ref, color="k", lw=1, label="boundary MPS, $\\chi_b = 4$")
    ax.axhspan(ref - ref_se, ref + ref_se, color="k", alpha=0.15)
    ax.set_xlabel("independent chain")
    ax.set_ylabel("energy per site E/N (units of J)")
    ax.set_title(f"EA {L} x {L}, beta = 1: {sweeps:,} sweeps per chain", fontsize=9)
    ax.legend(fontsize=8)
    save_png(fig, args.out / "chains.png")


if __name__ == "__main__":
    main()
