"""Chi-square goodness of fit of a sampler against an exact distribution on enumerable N.

NetKet style: several independent draws (seeds from SeedSequence.spawn), one Pearson chi-square
test each, p-values combined with Fisher's method. States whose expected count is below
`min_expected` are pooled into one bin; any sample on a zero-probability state gives p = 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from .rng import spawn_seeds


def config_index(X, d: int) -> np.ndarray:
    """Index of each configuration in the enumeration order (site 0 most significant)."""
    X = np.asarray(X, dtype=np.int64)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, N); got {X.shape}")
    if X.size and (X.min() < 0 or X.max() >= d):
        raise ValueError(f"X holds states outside 0..{d - 1}")
    powers = d ** np.arange(X.shape[1] - 1, -1, -1, dtype=np.int64)
    return X @ powers


def all_configs(n_sites: int, d: int) -> np.ndarray:
    """All d**N configurations, shape (d**N, N), in enumeration order."""
    idx = np.arange(d**n_sites, dtype=np.int64)
    return (idx[:, None] // d ** np.arange(n_sites - 1, -1, -1, dtype=np.int64)) % d


def chisquare_test(X, probs, d: int, min_expected: float = 5.0) -> tuple[float, float]:
    """Pearson chi-square statistic and p-value of samples X against probabilities `probs`.

    probs: length d**N vector (enumeration order) summing to 1.
    """
    probs = np.asarray(probs, dtype=float)
    if np.any(probs < 0) or abs(probs.sum() - 1) > 1e-8:
        raise ValueError("probs must be a probability vector (non-negative, summing to 1)")
    idx = config_index(X, d)
    if idx.size and idx.max() >= probs.size:
        raise ValueError(f"X has more sites than probs describes (d**N = {probs.size})")
    n = idx.size
    if n == 0:
        raise ValueError("X must hold at least one sample")
    counts = np.bincount(idx, minlength=probs.size).astype(float)
    if np.any(counts[probs == 0] > 0):
        return np.inf, 0.0
    expected = n * probs
    big = expected >= min_expected
    obs = counts[big]
    exp = expected[big]
    rest_e = expected[~big & (probs > 0)].sum()
    if rest_e > 0:
        obs = np.append(obs, counts[~big].sum())
        exp = np.append(exp, rest_e)
    if obs.size < 2:
        raise ValueError("too few bins for a chi-square test: draw more samples")
    stat = float(((obs - exp) ** 2 / exp).sum())
    return stat, float(scipy.stats.chi2.sf(stat, obs.size - 1))


@dataclass
class GoodnessOfFit:
    """Result of goodness_of_fit: per-draw p-values and their Fisher combination."""

    statistics: np.ndarray
    pvalues: np.ndarray
    combined_pvalue: float

    def passed(self, alpha: float = 1e-3) -> bool:
        return self.combined_pvalue > alpha


def goodness_of_fit(sampler, probs, d: int, n_samples: int = 20000, n_draws: int = 5, seed=0,
                    min_expected: float = 5.0) -> GoodnessOfFit:
    """Test sampler(n, seed) -> X (or (X, ...)) against the exact probabilities `probs`.

    Each of n_draws draws gets an independent child seed; returns a GoodnessOfFit.
    """
    if n_draws < 1 or n_samples < 1:
        raise ValueError(f"n_draws and n_samples must be >= 1; got {n_draws}, {n_samples}")
    stats, pvals = [], []
    for child in spawn_seeds(seed, n_draws):
        out = sampler(n_samples, np.random.default_rng(child))
        X = out[0] if isinstance(out, tuple) else out
        s, p = chisquare_test(X, probs, d, min_expected)
        stats.append(s)
        pvals.append(p)
    pvals = np.asarray(pvals)
    if np.any(pvals == 0):
        combined = 0.0
    else:
        combined = float(scipy.stats.combine_pvalues(pvals, method="fisher").pvalue)
    return GoodnessOfFit(np.asarray(stats), pvals, combined)
