"""A plain compiled Wolff cluster sampler of the 2D Ising model: the fair baseline for exact sampling.

Independent of tnddm's own Monte Carlo code. One chain per core (numba prange over chains, each
with its own SplitMix64 stream); a record is taken once per sweep, every k = round(N / mean
cluster size) clusters (k fixed after the burn-in, so that about N spins flip between records);
the energy and |m| of each record are computed in numba (one pass over bonds and sites). The effective
rate is chains * records / (tau_int * wall seconds), tau_int (Sokal window) of the slower of E, |m|.

    python -m benchmarks.wolff [--length 64] [--width 12] [--records 20000]
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from numba import njit, prange

from tnddm.lattice.ising import BETA_C, lattice_bonds
from tnddm.mcmc import integrated_time

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
def _uniform(state):
    """(new state, uniform in [0, 1)) from one SplitMix64 step."""
    state = state + GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _cluster(S, nbr, deg, p_add, stack, state):
    """Grow and flip one Wolff cluster from a uniform seed site; returns (new rng state, cluster size)."""
    N = S.shape[0]
    state, u = _uniform(state)
    seed_site = min(N - 1, int(u * N))
    old = S[seed_site]
    S[seed_site] = -old
    stack[0] = seed_site
    top = 1
    size = 1
    while top > 0:
        top -= 1
        i = stack[top]
        for k in range(deg[i]):
            j = nbr[i, k]
            if S[j] == old:
                state, u = _uniform(state)
                if u < p_add:
                    S[j] = -old
                    stack[top] = j
                    top += 1
                    size += 1
    return state, size


@njit(cache=True)
def _chain(nbr, deg, bonds, beta, J, n_records, burn_sweeps, seed, E, M):
    """One Wolff chain. Burn-in: clusters until burn_sweeps * N spins have flipped; the mean cluster size
    of its second half fixes k = round(N / mean), and a record (E, |m|) is then taken every k clusters
    (a fixed schedule: recording after a data-dependent number of clusters would bias the records
    towards the states that follow large clusters). Returns the mean cluster size."""
    N = nbr.shape[0]
    p_add = 1.0 - np.exp(-2.0 * beta * J)
    state = np.uint64(seed)
    S = np.empty(N, dtype=np.int8)
    for i in range(N):
        state, u = _uniform(state)
        S[i] = 1 if u < 0.5 else -1
    stack = np.empty(N, dtype=np.int64)
    flipped, late_flipped, late_clusters = 0, 0, 0
    while flipped < burn_sweeps * N:
        state, size = _cluster(S, nbr, deg, p_add, stack, state)
        flipped += size
        if 2 * flipped > burn_sweeps * N:
            late_flipped += size
            late_clusters += 1
    mean = late_flipped / max(1, late_clusters)
    k = max(1, int(round(N / mean)))
    for rec in range(n_records):
        for _ in range(k):
            state, size = _cluster(S, nbr, deg, p_add, stack, state)
        e = 0.0
        mag = 0
        for b in range(bonds.shape[0]):
            e -= J * S[bonds[b, 0]] * S[bonds[b, 1]]
        for i in range(N):
            mag += S[i]
        E[rec] = e
        M[rec] = abs(mag) / N
    return mean


@njit(parallel=True, cache=True)
def _chains(nbr, deg, bonds, beta, J, n_records, burn_sweeps, seeds, E, M, mean_cluster):
    for c in prange(seeds.shape[0]):
        mean_cluster[c] = _chain(nbr, deg, bonds, beta, J, n_records, burn_sweeps, seeds[c], E[c], M[c])


def geometry(length: int, width: int):
    """(neighbours (N, 4) padded with -1, degrees, bonds) of the L x W cylinder, tnddm's site order."""
    bonds = lattice_bonds(length, width, periodic=True)
    N = length * width
    deg = np.bincount(bonds.ravel(), minlength=N)
    nbr = np.full((N, deg.max()), -1, dtype=np.int64)
    fill = np.zeros(N, dtype=np.int64)
    for i, j in bonds:
        nbr[i, fill[i]], nbr[j, fill[j]] = j, i
        fill[i] += 1
        fill[j] += 1
    return nbr, deg.astype(np.int64), bonds.astype(np.int64)


def fair_wolff(length: int = 64, width: int = 12, beta: float = BETA_C, n_records: int = 20000, chains: int | None = None,
               burn_sweeps: int = 500, seed: int = 0) -> dict:
    """Effective samples per second of `chains` independent Wolff chains run in parallel (default: one per
    numba thread), one record per sweep of >= N flipped spins. Returns the rate, tau, mean cluster size,
    E/N with its standard error and <|m|>."""
    chains = chains or numba.get_num_threads()
    nbr, deg, bonds = geometry(length, width)
    seeds = np.random.SeedSequence(seed).generate_state(chains, dtype=np.uint64)
    E, M, mc = np.empty((chains, n_records)), np.empty((chains, n_records)), np.empty(chains)
    _chains(nbr, deg, bonds, beta, 1.0, 10, 1, seeds, E[:, :10].copy(), M[:, :10].copy(), mc)  # compile
    start = time.perf_counter()
    _chains(nbr, deg, bonds, beta, 1.0, n_records, burn_sweeps, seeds, E, M, mc)
    seconds = time.perf_counter() - start
    seconds *= n_records / (n_records + burn_sweeps)  # the burn-in is not charged to the records
    tau_E = [integrated_time(E[c]) for c in range(chains)]
    tau = max(max(tau_E), max(integrated_time(M[c]) for c in range(chains)))
    N = length * width
    return {"ess_per_second": chains * n_records / (tau * seconds), "tau": float(tau), "chains": chains,
            "seconds": seconds, "mean_cluster": float(mc.mean()), "energy_per_site": float(E.mean() / N),
            "energy_per_site_stderr": float(np.sqrt(np.mean(tau_E) * E.var() / E.size) / N), "abs_m": float(M.mean())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=64)
    ap.add_argument("--width", type=int, default=12)
    ap.add_argument("--records", type=int, default=20000)
    args = ap.parse_args(argv)
    r = fair_wolff(args.length, args.width, n_records=args.records)
    print(f"Wolff {args.length}x{args.width} cylinder at beta_c, {r['chains']} chains: {r['ess_per_second']:.4g} ESS/s "
          f"(tau {r['tau']:.2f} records, mean cluster {r['mean_cluster']:.0f}, E/N {r['energy_per_site']:.4f})")


if __name__ == "__main__":
    main()
