"""Weighted automata in log space -> exact probability MPS in the Markov (stochastic) gauge.

An exact lattice model is a deterministic weighted automaton: at site i, left state a and symbol
x lead to state `next[i][a, x]` with log-weight `logw[i][a, x]` (-inf: forbidden), and
pi(x) ∝ `prod_i exp(logw[i][a_i, x_i])`. A log-space right sweep

    log R_N = 0,   log R_i(a) = logsumexp_x (logw_i[a, x] + log R_{i+1}(next_i[a, x]))

gives log Z = log R_0(0) without overflow, and the cores
W_i[a, x] = exp(logw_i[a, x] + log R_{i+1}(next) - log R_i(a)) are the transition probabilities
P(x_i = x | state a): every weight lies in [0, 1] whatever beta, c or N, and the MPS is
normalised. Sums of local terms S = sum_i f_i(a_i, x_i) have exact moments by a forward pass.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ..mps import SparseMPS

# largest (bond x counter) table Automaton.symbol_sum_law may allocate, in float64 entries (128 MB)
MAX_COUNTER_ENTRIES = 16_000_000


class Automaton:
    """Exact automaton MPS of pi ∝ prod_i exp(logw_i[a_i, x_i]) (see module docstring).

    Attributes log_z (exact log Z), mps (the normalised SparseMPS), next_states, transition (the
    transition probabilities per site) and n_sites.

    Args:
        next_states: list of N integer arrays (chi_i, d): the state after site i from left state a and
            symbol x; the states after the last site must be 0.
        log_weights: list of N float arrays (chi_i, d): log-weights of the transitions (-inf: forbidden).
    """

    def __init__(self, next_states, log_weights):
        if len(next_states) != len(log_weights) or not next_states:
            raise ValueError("next_states and log_weights must be non-empty lists of equal length")
        N = len(log_weights)
        log_r = [None] * (N + 1)
        log_r[N] = np.zeros(1)
        for i in range(N - 1, -1, -1):
            nx, lw = np.asarray(next_states[i]), np.asarray(log_weights[i], dtype=float)
            if nx.shape != lw.shape or lw.ndim != 2:
                raise ValueError(f"next_states[{i}] and log_weights[{i}] must have equal shapes (chi, d)")
            if np.any(np.isnan(lw)) or np.any(lw == np.inf):
                raise ValueError(f"log_weights[{i}] must be finite or -inf")
            allowed = lw > -np.inf
            if np.any(allowed & ((nx < 0) | (nx >= log_r[i + 1].size))):
                raise ValueError(f"next_states[{i}] must lie in 0..{log_r[i + 1].size - 1} where allowed")
            log_r[i] = logsumexp(np.where(allowed, lw + log_r[i + 1][np.where(allowed, nx, 0)], -np.inf), axis=1)
        if log_r[0].shape != (1,):
            raise ValueError("the first site must have a single left state")
        self.log_z = float(log_r[0][0])
        if not np.isfinite(self.log_z):
            raise ValueError("the automaton has no allowed configuration (Z = 0)")
        nxts, probs = [], []
        for i in range(N):
            nx = np.asarray(next_states[i])
            lw = np.asarray(log_weights[i], dtype=float)
            allowed = (lw > -np.inf) & np.isfinite(log_r[i])[:, None]
            target = np.where(allowed, nx, 0)
            with np.errstate(invalid="ignore"):
                logp = lw + log_r[i + 1][target] - log_r[i][:, None]
            W = np.where(allowed & np.isfinite(logp), np.exp(np.where(allowed, logp, 0.0)), 0.0)
            nxts.append(target.astype(np.int64))
            probs.append(W)
        self.next_states, self.transition = nxts, probs
        self.mps = SparseMPS(nxts, probs)
        self.n_sites = N

    def __repr__(self) -> str:
        return f"Automaton(n_sites={self.n_sites}, max_states={max(self.mps.bond_dims)}, log_z={self.log_z:.6g})"

    def state_distributions(self) -> list[np.ndarray]:
        """p_i(a) = P(state a before site i), i = 0..N (forward pass with the transition probabilities)."""
        p = [np.ones(1)]
        for i, (nx, W) in enumerate(zip(self.next_states, self.transition)):
            nxt = np.zeros(self.mps.bond_dims[i + 1])
            np.add.at(nxt, nx.ravel(), (p[-1][:, None] * W).ravel())
            p.append(nxt)
        return p

    def symbol_marginals(self) -> list[np.ndarray]:
        """P(state a before site i, x_i = x) as arrays (chi_i, d)."""
        p = self.state_distributions()
        return [p[i][:, None] * W for i, W in enumerate(self.transition)]

    def local_moments(self, values) -> tuple[float, float]:
        """(E[S], E[S^2]) of S = sum_i `values[i][a_i, x_i]` exactly, by a forward pass of
        `(p, m1, m2)(a) = E[(1, S_<i, S_<i^2); state a]`.

        Args:
            values: list of N arrays broadcastable to (chi_i, d): the local terms f_i(a, x).
        """
        p, m1, m2 = np.ones(1), np.zeros(1), np.zeros(1)
        for i, (nx, W) in enumerate(zip(self.next_states, self.transition)):
            f = np.broadcast_to(np.asarray(values[i], dtype=float), W.shape)
            size = self.mps.bond_dims[i + 1]
            q, q1, q2 = np.zeros(size), np.zeros(size), np.zeros(size)
            np.add.at(q, nx.ravel(), (p[:, None] * W).ravel())
            np.add.at(q1, nx.ravel(), ((m1[:, None] + f * p[:, None]) * W).ravel())
            np.add.at(q2, nx.ravel(), ((m2[:, None] + 2 * f * m1[:, None] + f**2 * p[:, None]) * W).ravel())
            p, m1, m2 = q, q1, q2
        return float(m1.sum()), float(m2.sum())

    def symbol_sum_law(self, max_entries: int = MAX_COUNTER_ENTRIES) -> np.ndarray | None:
        """P(sum_i x_i = n), n = 0..(d - 1) N, by the forward pass
        `p_{i+1}(b, n + x) += p_i(a, n) W_i[a, x]` (b = next_i[a, x]); for two states the law of the number
        of x_i = 1 (up spins). None when the (bond x counter) table exceeds max_entries float64 entries.

        Args:
            max_entries: largest table allowed.
        """
        d = max(W.shape[1] for W in self.transition)
        if max(W.shape[0] for W in self.transition) * ((d - 1) * self.n_sites + 1) > max_entries:
            return None
        p = np.ones((1, 1))
        sizes = [W.shape[0] for W in self.transition[1:]] + [1]
        for nx, W, size in zip(self.next_states, self.transition, sizes):
            q = np.zeros((size, p.shape[1] + W.shape[1] - 1))
            for x in range(W.shape[1]):
                np.add.at(q[:, x: x + p.shape[1]], nx[:, x], p * W[:, x, None])
            p = q
        return p.sum(axis=0)

    def prob_states_at_most(self, k: int) -> float:
        """P(every state a_1, ..., a_N <= k): the mass of the forward pass that never leaves states 0..k
        (for an automaton whose states are heights, P(max height <= k)).

        Args:
            k: largest state allowed.
        """
        p = np.ones(1)
        sizes = [W.shape[0] for W in self.transition[1:]] + [1]
        for nx, W, size in zip(self.next_states, self.transition, sizes):
            ok = (nx <= k) & (W > 0)
            q = np.zeros(size)
            np.add.at(q, nx[ok], (p[:, None] * W)[ok])
            q[k + 1:] = 0.0
            p = q
        return float(p.sum())


def finite_range(n_sites: int, d: int, r: int, log_factor) -> tuple[Automaton, list[np.ndarray]]:
    """Exact automaton of pi(x) ∝ prod_i exp(log_factor(i, windows)) for terms of range <= r.

    The state before site i holds the last m = min(i, r) symbols (x_{i-m}, ..., x_{i-1}) as a
    base-d number (oldest most significant); log_factor(i, windows) receives the int array
    windows (d**m * d, m + 1) of (x_{i-m}, ..., x_i) and returns their log-weights (-inf: forbidden).
    Returns (automaton, windows per site) so that local observables can be evaluated on the windows.

    Args:
        n_sites: number of sites N.
        d: local states per site (>= 2).
        r: range of the terms: log_factor(i, .) sees x_{i-r}, ..., x_i.
        log_factor: function (i, windows) -> log-weights of shape (len(windows),).
    """
    if int(n_sites) < 1 or int(d) < 2 or int(r) < 0:
        raise ValueError(f"need n_sites >= 1, d >= 2 and r >= 0; got {n_sites}, {d}, {r}")
    from .._memory import check_allocation

    entries = sum(int(d) ** (min(i, int(r)) + 1) for i in range(int(n_sites)))
    check_allocation(entries * 80, f"a finite-range automaton of {n_sites} sites, {d} states and range {r}")
    nxts, logws, windows = [], [], []
    cache = {}
    for i in range(n_sites):
        m = min(i, r)
        m_next = 0 if i == n_sites - 1 else min(i + 1, r)
        key = (m, m_next)
        if key not in cache:
            states = np.arange(d**m)
            digits = (states[:, None] // d ** np.arange(m - 1, -1, -1)) % d if m else np.zeros((1, 0), np.int64)
            win = np.concatenate([np.repeat(digits, d, axis=0), np.tile(np.arange(d), d**m)[:, None]], axis=1)
            nxt = ((states[:, None] * d + np.arange(d)[None, :]) % d**m_next).astype(np.int64)
            cache[key] = (win, nxt)
        win, nxt = cache[key]
        lw = np.asarray(log_factor(i, win), dtype=float).reshape(d**m, d)
        nxts.append(nxt)
        logws.append(lw)
        windows.append(win)
    return Automaton(nxts, logws), windows
