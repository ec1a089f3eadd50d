"""A plain compiled local Monte Carlo of the Fredkin chain: the fair baseline for exact Fredkin sampling.

Independent of tnddm's own Monte Carlo code. The target is pi(x) ∝ r^(A(x)/2) on Dyck paths of N
steps (r = c / (1 - c), A = sum_i h_i). A move picks a bond (i, i+1) uniformly and, where the two
steps differ, exchanges them: down-up -> up-down raises h_i by 2 (A by 2), accepted with probability
min(1, r); up-down -> down-up lowers it by 2, allowed when the new h_i >= 0 and accepted with
probability min(1, 1/r). Only h_i changes, so the Dyck check and the area are O(1) per move; this is
the least constrained adjacent-exchange Metropolis (no Fredkin-gate constraint), the natural local
sampler for Dyck paths. One chain per core (numba prange over chains, SplitMix64 streams), a record
(the area) after every sweep of N attempts, the burn-in not charged. Effective rate =
chains * records / (tau_int * wall seconds).

    python -m benchmarks.fredkin_local [--sites 256] [--c 0.5] [--records 2000000]
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from numba import njit, prange

from tnddm.mcmc import integrated_time

from .wolff import _uniform


@njit(cache=True)
def _chain(N, r, n_records, burn_sweeps, seed, A):
    """One chain from the flat path up-down-up-down...; A[k] = area after sweep k of the recorded part."""
    p_up, p_down = min(1.0, r), min(1.0, 1.0 / r)
    state = np.uint64(seed)
    x = np.empty(N, dtype=np.int8)
    h = np.empty(N, dtype=np.int64)
    area = 0
    for i in range(N):
        x[i] = 1 - (i % 2)
        h[i] = (h[i - 1] if i > 0 else 0) + 2 * x[i] - 1
        area += h[i]
    for sweep in range(burn_sweeps + n_records):
        for _ in range(N):
            state, u = _uniform(state)
            i = min(N - 2, int(u * (N - 1)))
            if x[i] == x[i + 1]:
                continue
            state, u = _uniform(state)
            if x[i] == 0:  # down-up -> up-down
                if u < p_up:
                    x[i], x[i + 1] = 1, 0
                    h[i] += 2
                    area += 2
            elif h[i] >= 2 and u < p_down:  # up-down -> down-up, new h_i = h_i - 2 >= 0
                x[i], x[i + 1] = 0, 1
                h[i] -= 2
                area -= 2
        if sweep >= burn_sweeps:
            A[sweep - burn_sweeps] = area


@njit(parallel=True, cache=True)
def _chains(N, r, n_records, burn_sweeps, seeds, A):
    for c in prange(seeds.shape[0]):
        _chain(N, r, n_records, burn_sweeps, seeds[c], A[c])


def fair_fredkin(n_sites: int = 256, c: float = 0.5, n_records: int = 20000, chains: int | None = None,
                 burn_sweeps: int = 2000, seed: int = 0) -> dict:
    """Effective samples per second of `chains` independent local chains run in parallel (default: one
    per numba thread), one record (the area) per sweep of N attempted exchanges.

    Args:
        n_sites: N, even.
        c: the Fredkin parameter in (0, 1).
        n_records: recorded sweeps per chain.
        chains: independent chains (default: numba's thread count, one per core).
        burn_sweeps: unrecorded sweeps at the start of each chain (not charged to the rate).
        seed: seed of the chains' streams.

    Returns:
        {'ess_per_second', 'tau' (in sweeps), 'chains', 'seconds', 'area' (mean), 'area_stderr'}.
    """
    chains = chains or numba.get_num_threads()
    r = c / (1.0 - c)
    seeds = np.random.SeedSequence(seed).generate_state(chains, dtype=np.uint64)
    A = np.empty((chains, n_records))
    _chains(n_sites, r, 10, 1, seeds, A[:, :10].copy())  # compile
    start = time.perf_counter()
    _chains(n_sites, r, n_records, burn_sweeps, seeds, A)
    seconds = (time.perf_counter() - start) * n_records / (n_records + burn_sweeps)
    taus = [integrated_time(A[k]) for k in range(chains)]
    tau = max(taus)
    stderr = float(np.sqrt(np.mean(taus) * A.var() / A.size))
    return {"ess_per_second": chains * n_records / (tau * seconds), "tau": float(tau), "chains": chains,
            "seconds": seconds, "area": float(A.mean()), "area_stderr": stderr}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=256)
    ap.add_argument("--c", type=float, default=0.5)
    ap.add_argument("--records", type=int, default=2_000_000, help="recorded sweeps per chain (at least 50 tau)")
    args = ap.parse_args(argv)
    r = fair_fredkin(args.sites, args.c, n_records=args.records, burn_sweeps=args.records // 10)
    print(f"local exchange Fredkin N = {args.sites}, c = {args.c}, {r['chains']} chains: {r['ess_per_second']:.4g} ESS/s "
          f"(tau {r['tau']:.1f} sweeps, {args.records / r['tau']:.0f} tau recorded, area {r['area']:.2f} +- {r['area_stderr']:.2f})")
    if args.records < 50 * r["tau"]:
        print("warning: fewer than 50 tau recorded: tau, the error bar and ESS/s are not trustworthy yet (raise --records)")


if __name__ == "__main__":
    main()
