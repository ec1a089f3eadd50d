"""Exact lattice-model sampling against local Monte Carlo, in effective samples per second.

Exact samples are independent (tau = 1), so their effective rate is their rate. A Markov chain's
effective rate is walkers * steps / (tau * seconds), with tau the integrated autocorrelation time
(Sokal window) of the slowest of the listed observables. Sections:
  - Ising 64 x 12 cylinder at beta_c: exact automaton sampling vs a plain numba Wolff, one chain per
    core, one record per ~N flipped spins (benchmarks.exact_speed; issue 22 target: >= 20x);
  - Fredkin N = 256 at c = 1/2: exact sampling vs the local exchange dynamics (target >= 1000x);
  - exact automaton sampling of Ising 2W x W cylinders for W = 8, 12, 16;
  - Monte Carlo with diffusion proposals (Ising 8 x 16 at beta_c, Fredkin N = 128 at c = 0.6):
    connected moves (best T), disconnected moves, Metropolis and Wolff (target: connected beats the
    best local baseline on Fredkin by >= 100x).
"""
from __future__ import annotations

import time

import numpy as np

from tnddm.lattice import Fredkin, IsingCylinder
from tnddm.mcmc import MetropolisHastings, integrated_time
from tnddm.mcmc.local import IsingGeometry, fredkin_exchange, ising_metropolis, ising_wolff

BETA_C = float(np.log(1 + np.sqrt(2)) / 2)


def exact_rate(model, n: int) -> tuple[float, float]:
    """(samples per second, build + environment seconds) of exact sampling."""
    start = time.perf_counter()
    P = model.mps()
    P.sample(2, seed=0)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    P.sample(n, seed=1)
    return n / (time.perf_counter() - start), setup


def chain_rate(chain, names) -> tuple[float, float]:
    """(effective samples per second, tau) from the slowest observable of a Chain."""
    tau = max(integrated_time(chain.observables[k]) for k in names)
    return chain.n_walkers * chain.n_steps / (tau * chain.seconds), tau


def row(system, method, rate, tau=1.0, note=""):
    return {"system": system, "method": method, "ESS/s": rate, "tau": tau, "note": note}


def ising_section(quick: bool) -> list[dict]:
    """Exact Ising 64 x 12 at beta_c against a fair Wolff on the same cores (benchmarks.exact_speed)."""
    from .exact_speed import ising_rows

    return ising_rows(quick)


def fredkin_section(quick: bool) -> list[dict]:
    N = 128 if quick else 256
    model = Fredkin(n_sites=N, c=0.5)
    name = f"Fredkin N={N}, c=1/2"
    rate, setup = exact_rate(model, 5000 if quick else 50000)
    rows = [row(name, "tnddm exact (automaton MPS)", rate, 1.0, f"setup {setup:.2f} s")]
    steps = 300 if quick else 3000
    chain = fredkin_exchange(model, steps, n_walkers=16, burn_in=steps // 3, seed=4)
    r, tau = chain_rate(chain, ["area"])
    rows.append(row(name, "local exchange (Metropolis, 1 sweep / step)", r, tau))
    rows.append(row(name, "ratio exact / local", rows[0]["ESS/s"] / rows[1]["ESS/s"], float("nan")))
    return rows


def width_section(quick: bool) -> list[dict]:
    """Exact automaton sampling of Ising cylinders of width W = 8, 12, 16 (bond 2^W) at beta_c."""
    rows = []
    for W in ((8, 12) if quick else (8, 12, 16)):
        model = IsingCylinder(length=2 * W, width=W, beta=BETA_C)
        rate, setup = exact_rate(model, 2000 if quick else 20000)
        rows.append({"system": f"Ising {2 * W}x{W} cylinder, beta_c", "bond": 2**W, "exact samples/s": rate,
                     "site-samples/s": rate * 2 * W * W, "setup s": setup})
    return rows


def ddm_section(quick: bool) -> list[dict]:
    """Diffusion-proposal MC (1024 walkers, best T per proposal bond chi) against the local baselines."""
    rows = []
    systems = [
        (IsingCylinder(length=16, width=8, beta=BETA_C), "Ising 8x16 cylinder, beta_c", ["abs_magnetisation", "energy"]),
        (Fredkin(n_sites=128, c=0.6), "Fredkin N=128, c=0.6", ["area"]),
    ]
    steps, walkers = (30, 256) if quick else (150, 1024)
    for model, name, obs in systems:
        for chi in ((8,) if quick else (8, 16)):
            best = None
            for T in ([0.3, 1.0] if quick else [0.1, 0.3, 1.0, 3.0]):
                mh = MetropolisHastings(model, model.mps(), moves="connected", T=T, chi=chi)
                chain = mh.run(steps, n_walkers=walkers, seed=5)
                r, tau = chain_rate(chain, obs)
                if best is None or r > best[0]:
                    best = (r, tau, T, chain.acceptance())
            rows.append(row(name, f"connected, chi={chi}, best T={best[2]}", best[0], best[1], f"acceptance {best[3]:.2f}"))
            mh = MetropolisHastings(model, model.mps(), moves="disconnected", chi=chi)
            chain = mh.run(steps, n_walkers=walkers, seed=6)
            r, tau = chain_rate(chain, obs)
            rows.append(row(name, f"disconnected, chi={chi}", r, tau, f"acceptance {chain.acceptance():.2f}"))
        local = []
        if isinstance(model, IsingCylinder):
            geo = IsingGeometry.from_model(model)
            for method, fn in (("Wolff", ising_wolff), ("Metropolis", ising_metropolis)):
                chain = fn(geo, steps * 20, n_walkers=64, beta=BETA_C, burn_in=steps * 4, seed=7)
                local.append(row(name, method, *chain_rate(chain, obs)))
        else:
            chain = fredkin_exchange(model, steps * 20, n_walkers=64, burn_in=steps * 4, seed=8)
            local.append(row(name, "local exchange", *chain_rate(chain, obs)))
        rows += local
        best_local = max(r["ESS/s"] for r in local)
        best_connected = max(r["ESS/s"] for r in rows if r["system"] == name and r["method"].startswith("connected"))
        rows.append(row(name, "ratio best connected / best local", best_connected / best_local, float("nan")))
    return rows


def run(quick: bool = False) -> dict:
    return {
        "Exact 2D Ising vs local Monte Carlo": ising_section(quick),
        "Exact Fredkin vs local dynamics": fredkin_section(quick),
        "Exact Ising cylinders of width W = 8, 12, 16 (automaton MPS)": width_section(quick),
        "Monte Carlo with diffusion proposals": ddm_section(quick),
    }
