"""The one home of the distances between laws: KL and TV, exact (dense laws, enumerations) and estimated (samples).

Exact, on dense laws:    kl(p, q), row_kl(P, Q), tv(p, q)
Exact, on enumerations:  kl_enumerated(log pi, Q, X) = KL(pi || Q) with Q any model with log_prob
From samples:            kl_from_exact_samples(pi, model, n) (E_pi[log pi - log model] with its standard error),
                         histogram_tv(values, reference), empirical_tv(samples, probs, d)
(Effective sample sizes live with the other chain statistics, in tnddm.mcmc.stats: effective_sample_size, kish_ess.)
The names under which these were first published (tnddm.validate.kl / tv / histogram_tv,
tnddm.mcmc.proposals.kl_divergence, tnddm.learn.kl_from_exact_samples,
tnddm.validate.gaussian_samplers.rounded_tv) re-export them.
"""
from __future__ import annotations

import numpy as np

from .goodness_of_fit import config_index


def kl(p, q) -> float:
    """KL(p || q) = sum p log(p / q) (inf if q = 0 where p > 0).

    Args:
        p: a law (array of probabilities).
        q: a law on the same states.
    """
    p, q = np.asarray(p), np.asarray(q)
    live = p > 0
    if np.any(q[live] <= 0):
        return float("inf")
    return float(np.sum(p[live] * (np.log(p[live]) - np.log(q[live]))))


def row_kl(P, Q) -> np.ndarray:
    """KL(P[x] || Q[x]) for every row x of two transition matrices (inf where Q = 0 < P)."""
    live = P > 0
    if np.any(live & (Q <= 0)):
        bad = np.any(live & (Q <= 0), axis=1)
    else:
        bad = np.zeros(P.shape[0], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(live, P * (np.log(np.where(live, P, 1.0)) - np.log(np.where(live & (Q > 0), Q, 1.0))), 0.0)
    return np.where(bad, np.inf, terms.sum(axis=1))


def tv(p, q) -> float:
    """Total variation distance (1/2) sum |p - q| between two laws on the same states."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def kl_enumerated(log_target_normalised, proposal, X) -> float:
    """KL(pi || Q) = sum_x pi(x) (log pi(x) - log Q(x)) over an enumeration X (small N only).

    Args:
        log_target_normalised: log pi(x) for every row of X (normalised).
        proposal: a model with log_prob(X) (an MPS).
        X: every configuration, shape (S, N).
    """
    lp = np.asarray(log_target_normalised, dtype=float)
    lq = proposal.log_prob(X)
    p = np.exp(lp)
    on = p > 0
    if np.any(~np.isfinite(lq[on])):
        return float("inf")
    return float(np.sum(p[on] * (lp[on] - lq[on])))


def mean_and_stderr(values) -> tuple[float, float]:
    """(mean, standard error) of independent values."""
    values = np.asarray(values)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def kl_from_exact_samples(pi, model, n: int, seed=None) -> tuple[float, float]:
    """KL(pi || model) = E_pi[log pi - log model] and its standard error from n exact samples of pi.

    Args:
        pi: anything whose .sample(n, seed) returns exact samples with their log pi (a lattice model, an MPS).
        model: a model with log_prob(X).
        n: number of samples.
        seed: int, SeedSequence or Generator.
    """
    X, log_pi = pi.sample(n, seed=seed)
    return mean_and_stderr(log_pi - model.log_prob(X))


def histogram_tv(values, reference) -> float:
    """TV distance between the empirical laws of a discrete statistic (e.g. energy, magnetisation)."""
    values, reference = np.asarray(values), np.asarray(reference)
    keys, inv = np.unique(np.concatenate([values, reference]), return_inverse=True)
    a = np.bincount(inv[: len(values)], minlength=len(keys)) / len(values)
    b = np.bincount(inv[len(values):], minlength=len(keys)) / len(reference)
    return tv(a, b)


def empirical_tv(samples, probs, d: int = 2) -> float:
    """TV between the empirical law of samples (n, N) and an exact law `probs` over all d^N configurations
    (site 0 most significant; enumerable N)."""
    probs = np.asarray(probs)
    emp = np.bincount(config_index(samples, d), minlength=probs.size) / len(samples)
    return tv(emp, probs)
