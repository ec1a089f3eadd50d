"""Exact lattice-model sampling and Monte Carlo with tensor-network proposals against fair local Monte Carlo.

Exact samples are independent (tau = 1), so their effective rate is their rate. A Markov chain's
effective rate is effective samples / seconds of its recorded part (the burn-in is charged to no
method), with tau the integrated autocorrelation time (Sokal window) of the slowest listed
observable; a proposal chain counts only if it converged (split R-hat < 1.01 and >= 50 tau recorded).
Every local baseline is compiled whole-run code with one chain per core and a record per sweep of
about N flipped spins or attempted moves (benchmarks.wolff, benchmarks.fredkin_local). Sections:
  - Ising 64 x 12 cylinder at beta_c: exact automaton sampling vs Wolff (benchmarks.exact_speed);
  - Fredkin N = 256 at c = 1/2: exact sampling vs the local exchange Metropolis;
  - exact automaton sampling of Ising 2W x W cylinders for W = 8, 12, 16;
  - Monte Carlo with tensor-network proposals (Ising 16 x 8 cylinder at beta_c: Born truncations of
    the exact MPS and the boundary-MPS proposal; Fredkin N = 128 at c = 0.6: lumped truncation,
    disconnected and connected moves) against the same baselines.
"""
from __future__ import annotations

import time

import numpy as np

from tnddm.lattice import Fredkin, IsingCylinder, IsingGrid
from tnddm.mcmc import MetropolisHastings, as_proposal

from .common import best_time
from .fredkin_local import fair_fredkin
from .wolff import fair_wolff

BETA_C = float(np.log(1 + np.sqrt(2)) / 2)


def exact_rate(model, n: int) -> tuple[float, float]:
    """(samples per second, best of 3 draws of n; build + environment seconds) of exact sampling."""
    start = time.perf_counter()
    P = model.mps()
    P.sample(2, seed=0)
    setup = time.perf_counter() - start
    return n / best_time(lambda: P.sample(n, seed=1), repeat=3, min_time=0.0), setup


def row(system, method, rate, tau=1.0, note=""):
    return {"system": system, "method": method, "ESS/s": rate, "tau": tau, "note": note}


def ising_section(quick: bool) -> list[dict]:
    """Exact Ising 64 x 12 at beta_c against a fair Wolff on the same cores (benchmarks.exact_speed)."""
    from .exact_speed import ising_rows

    return ising_rows(quick)


def fredkin_section(quick: bool) -> list[dict]:
    """Exact Fredkin sampling against the local exchange Metropolis, one chain per core."""
    N = 128 if quick else 256
    model = Fredkin(n_sites=N, c=0.5)
    name = f"Fredkin N={N}, c=1/2"
    rate, setup = exact_rate(model, 5000 if quick else 50000)
    rows = [row(name, "tnddm exact (automaton MPS)", rate, 1.0, f"setup {setup:.2f} s")]
    rows.append(local_fredkin_row(name, N, 0.5, 100_000 if quick else 4_000_000))
    rows.append(row(name, "ratio exact / local", rows[0]["ESS/s"] / rows[1]["ESS/s"], float("nan")))
    return rows


def local_fredkin_row(name, N, c, records):
    f = fair_fredkin(N, c, n_records=records, burn_sweeps=records // 10)
    return row(name, f"local exchange Metropolis, {f['chains']} chains (one per core), record per sweep",
               f["ess_per_second"], f["tau"], f"area {f['area']:.1f} +- {f['area_stderr']:.1f}; {records / f['tau']:.0f} tau recorded")


def width_section(quick: bool) -> list[dict]:
    """Exact automaton sampling of Ising cylinders of width W = 8, 12, 16 (bond 2^W) at beta_c."""
    rows = []
    for W in ((8, 12) if quick else (8, 12, 16)):
        model = IsingCylinder(length=2 * W, width=W, beta=BETA_C)
        rate, setup = exact_rate(model, 2000 if quick else 20000)
        rows.append({"system": f"Ising {2 * W}x{W} cylinder, beta_c", "bond": 2**W, "exact samples/s": rate,
                     "site-samples/s": rate * 2 * W * W, "setup s": setup})
    return rows


def mh_row(name, label, target, proposal, observables, moves="disconnected", T=1.0, walkers=256, steps=400,
           max_seconds=60.0, setup=0.0):
    """One proposal chain (automatic burn-in from exact samples): its ESS/s if it converged, else NaN."""
    chain = MetropolisHastings(target, proposal, moves=moves, T=T).run(steps, n_walkers=walkers, seed=5,
                                                                        max_seconds=max_seconds)
    s = chain.summary()
    seconds = chain.seconds * chain.n_steps / (chain.n_steps + chain.burn_in)
    tau = max(s[o]["tau"] for o in observables)
    rate = min(s[o]["ess"] for o in observables) / seconds if chain.converged else float("nan")
    frozen = "".join(f", T frozen at {v:.3g}" for v in chain.info.get("T", {}).values())
    note = (f"acceptance {chain.acceptance():.3f}{frozen}; {walkers} walkers; setup {setup:.2f} s; "
            + ("converged" if chain.converged else "NOT CONVERGED: no rate"))
    return row(name, label, rate, tau, note)


def proposal_section(quick: bool) -> list[dict]:
    """Metropolis-Hastings with tensor-network proposals against the best local baseline, same 2 cores."""
    L, W = 16, 8
    ising = IsingCylinder(length=L, width=W, beta=BETA_C)
    grid = IsingGrid(L, W, BETA_C, periodic=True)  # the same cylinder, for the boundary-MPS proposal
    name = f"Ising {L}x{W} cylinder, beta_c"
    obs = ["energy", "abs_magnetisation"]
    rate, setup = exact_rate(ising, 200_000)
    exact = row(name, "tnddm exact (automaton MPS)", rate, 1.0, f"setup {setup:.2f} s")
    chains = []
    for chi in ((16,) if quick else (16, 32)):
        start = time.perf_counter()
        P = as_proposal(ising, chi=chi, method="born")
        chains.append(mh_row(name, f"disconnected, Born truncation chi={chi}", ising, P, obs,
                             setup=time.perf_counter() - start, steps=100 if quick else 400))
    for chi in ((4,) if quick else (2, 4, 8)):
        start = time.perf_counter()
        P = grid.proposal(chi)
        chains.append(mh_row(name, f"disconnected, boundary MPS chi_b={chi}", grid, P, obs,
                             setup=time.perf_counter() - start, steps=100 if quick else 400))
    w = fair_wolff(L, W, BETA_C, n_records=2000 if quick else 100_000)
    local = row(name, f"Wolff, {w['chains']} chains (one per core), record per ~N flips", w["ess_per_second"],
                w["tau"], f"mean cluster {w['mean_cluster']:.0f}")
    rows = [exact, *chains, local, ratio_row(name, chains, local)]

    N, c = (64, 0.6) if quick else (128, 0.6)
    fredkin = Fredkin(n_sites=N, c=c)
    name = f"Fredkin N={N}, c={c}"
    rate, setup = exact_rate(fredkin, 200_000)
    exact = row(name, "tnddm exact (automaton MPS)", rate, 1.0, f"setup {setup:.2f} s")
    chains = []
    for chi in ((8,) if quick else (4, 8)):
        start = time.perf_counter()
        P = as_proposal(fredkin, chi=chi, method="lump")
        setup = time.perf_counter() - start
        chains.append(mh_row(name, f"disconnected, lumped truncation chi={chi}", fredkin, P, ["area"], setup=setup))
        chains.append(mh_row(name, f"connected, lumped truncation chi={chi}, T auto", fredkin, P, ["area"],
                             moves="connected", T="auto", setup=setup))
    local = local_fredkin_row(name, N, c, 20_000 if quick else 200_000)
    return rows + [exact, *chains, local, ratio_row(name, chains, local)]


def ratio_row(name, chains, local) -> dict:
    """The best converged proposal chain (rows with a finite rate) against the local baseline's row."""
    rates = [r["ESS/s"] for r in chains if np.isfinite(r["ESS/s"])]
    return row(name, "ratio best proposal chain / best local", max(rates) / local["ESS/s"] if rates else float("nan"),
               float("nan"))


def run(quick: bool = False) -> dict:
    return {
        "Exact 2D Ising vs local Monte Carlo": ising_section(quick),
        "Exact Fredkin vs local dynamics": fredkin_section(quick),
        "Exact Ising cylinders of width W = 8, 12, 16 (automaton MPS)": width_section(quick),
        "Monte Carlo with tensor-network proposals": proposal_section(quick),
    }
