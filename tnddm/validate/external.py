"""Score samples from any outside sampler against the exact model.

Given n configurations X from a sampler q and the exact model P:
- enumerable sizes (d^N <= max_states): the empirical law q_n, TV(q_n, P) and KL(q_n || P), with
  their noise floor (the same metrics for equally large exact samples: an exact sampler scores
  about the floor, not 0), and the Pearson chi-square test of X against P (rare states pooled);
- any size: the mean exact log-probability m = mean_k log P(x_k) against its exact value
  E_P[log P] = -H (z = (m + H) / se), where -H is exact when the model provides its entropy
  (Ising models), by enumeration, or else estimated from exact reference samples (its standard
  error enters z); two-sample chi-square tests of each model statistic against exact reference
  samples; and per-observable z-scores of the mean against the exact expectation (or the reference).
The samples are assumed independent (thin a Markov chain to its autocorrelation time first).
`passed(alpha)` holds when no sample has probability zero and every p-value exceeds alpha / m
(Bonferroni over the m tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.stats

from .._checks import as_configs
from ..goodness_of_fit import all_configs, chisquare_test, config_index
from ..mps.base import MPSBase
from ..rng import as_generator


@dataclass
class SampleReport:
    """Result of score_samples: every test against the exact model (see the module docstring)."""

    n_samples: int
    n_sites: int
    n_impossible: int
    mean_log_prob: float
    mean_log_prob_stderr: float
    neg_entropy: float
    neg_entropy_stderr: float
    neg_entropy_source: str
    log_prob_z: float
    log_prob_pvalue: float
    statistics: dict = field(default_factory=dict)
    enumerable: bool = False
    tv: float | None = None
    kl: float | None = None
    tv_floor: float | None = None
    tv_floor_std: float | None = None
    kl_floor: float | None = None
    kl_floor_std: float | None = None
    chi2: float | None = None
    chi2_pvalue: float | None = None

    def __repr__(self) -> str:
        law = "".join(f", {k}={v:.3g}" for k, v in (("tv", self.tv), ("kl", self.kl), ("tv_floor", self.tv_floor))
                      if v is not None)
        return (f"SampleReport(n_samples={self.n_samples}, n_sites={self.n_sites}, passed={self.passed()}, "
                f"n_impossible={self.n_impossible}, mean_log_prob={self.mean_log_prob:.4g} ± "
                f"{self.mean_log_prob_stderr:.2g}, neg_entropy={self.neg_entropy:.4g}, "
                f"tests={len(self.pvalues())}, min_pvalue={min(self.pvalues().values()):.3g}{law})")

    def pvalues(self) -> dict:
        """Every test's p-value by name (chi2, log_prob, `<stat>_two_sample`, `<stat>_mean`)."""
        out = {"log_prob": self.log_prob_pvalue}
        if self.chi2_pvalue is not None:
            out["chi2"] = self.chi2_pvalue
        for name, row in self.statistics.items():
            out[f"{name}_two_sample"] = row["two_sample_pvalue"]
            out[f"{name}_mean"] = row["pvalue"]
        return out

    def passed(self, alpha: float = 1e-3) -> bool:
        """No impossible sample and every p-value > alpha / (number of tests) (Bonferroni)."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
        p = self.pvalues()
        return self.n_impossible == 0 and all(v > alpha / len(p) for v in p.values())

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)

    def report(self, alpha: float = 1e-3) -> str:
        """A readable multi-line summary."""
        lines = [f"{self.n_samples} samples of {self.n_sites} sites: "
                 f"{'PASSED' if self.passed(alpha) else 'FAILED'} at alpha = {alpha:g} (Bonferroni over "
                 f"{len(self.pvalues())} tests)"]
        if self.n_impossible:
            lines.append(f"  {self.n_impossible} samples have exact probability zero")
        lines.append(f"  mean log P = {self.mean_log_prob:.6g} +- {self.mean_log_prob_stderr:.2g}; "
                     f"-H = {self.neg_entropy:.6g} +- {self.neg_entropy_stderr:.2g} ({self.neg_entropy_source}); "
                     f"z = {self.log_prob_z:.3g}, p = {self.log_prob_pvalue:.3g}")
        if self.enumerable:
            lines.append(f"  TV = {self.tv:.4g} (exact-sample floor {self.tv_floor:.4g} +- {self.tv_floor_std:.2g}); "
                         f"KL(q_n || P) = {self.kl:.4g} (floor {self.kl_floor:.4g} +- {self.kl_floor_std:.2g})")
            lines.append(f"  chi-square = {self.chi2:.6g}, p = {self.chi2_pvalue:.3g}")
        for name, row in self.statistics.items():
            lines.append(f"  {name}: mean {row['mean']:.6g} vs {row['reference']:.6g} ({row['reference_source']}), "
                         f"z = {row['z']:.3g}, p = {row['pvalue']:.3g}; two-sample p = {row['two_sample_pvalue']:.3g}")
        return "\n".join(lines)


def two_sample_chi2(a, b, min_expected: float = 5.0) -> tuple[float, float]:
    """Chi-square test that two samples of a discrete statistic share one law (adjacent values pooled
    until every bin expects >= min_expected counts in each sample); returns (statistic, p-value)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keys, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ca = np.bincount(inv[: a.size], minlength=keys.size).astype(float)
    cb = np.bincount(inv[a.size:], minlength=keys.size).astype(float)
    fa = a.size / (a.size + b.size)
    bins, cur_a, cur_b = [], 0.0, 0.0
    for x, y in zip(ca, cb):
        cur_a, cur_b = cur_a + x, cur_b + y
        tot = cur_a + cur_b
        if tot * fa >= min_expected and tot * (1 - fa) >= min_expected:
            bins.append((cur_a, cur_b))
            cur_a = cur_b = 0.0
    if cur_a + cur_b > 0:
        if bins:
            last = bins.pop()
            bins.append((last[0] + cur_a, last[1] + cur_b))
        else:
            bins.append((cur_a, cur_b))
    if len(bins) < 2:
        return 0.0, 1.0
    table = np.array(bins).T
    stat, p, _, _ = scipy.stats.chi2_contingency(table, correction=False)
    return float(stat), float(p)


def _exact_mean_lookup(observables: dict, name: str):
    for key in (name, f"mean_{name}"):
        v = observables.get(key)
        if isinstance(v, (float, int, np.floating)) and np.isfinite(v):
            return float(v)
    return None


def score_samples(model, samples, *, statistics=None, n_reference: int | None = None, seed=0,
                  max_states: int = 2**16, n_floor: int = 5) -> SampleReport:
    """Test samples from any sampler against the exact model (see the module docstring for the formulas).

    Args:
        model (LatticeModel | MPSBase): a tnddm lattice model (exact MPS, statistics and exact observables) or a probability MPS.
        samples (array): configurations (n, N), integer states 0..d-1, n >= 2 (assumed independent).
        statistics (callable): X -> {name: values (n,)}; default the model's statistics (for an MPS: the
            mean state per configuration).
        n_reference (int): number of exact reference samples (default max(n, 10000)).
        seed (int | Generator): seed of the reference and floor samples.
        max_states (int): largest d^N for which the empirical-law metrics and the chi-square test are computed.
        n_floor (int): number of exact samples of size n that set the TV / KL noise floor.
    Returns:
        SampleReport with passed(alpha) and report().
    """
    P = model if isinstance(model, MPSBase) else getattr(model, "mps", lambda: None)()
    if not isinstance(P, MPSBase):
        raise ValueError(f"model must be a tnddm lattice model or a probability MPS; got {type(model).__name__}")
    N, d = P.n_sites, P.d
    X = as_configs(samples, N, d, name="samples")
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"samples must hold at least 2 configurations; got {n}")
    if statistics is None:
        if hasattr(model, "statistics") and not isinstance(model, MPSBase):
            statistics = model.statistics
        else:
            statistics = lambda Z: {"mean_state": np.asarray(Z, dtype=float).mean(axis=1)}  # noqa: E731
    if not callable(statistics):
        raise ValueError("statistics must be a callable X -> {name: values}")
    if n_reference is None:
        n_reference = max(n, 10000)
    if isinstance(n_reference, bool) or int(n_reference) != n_reference or n_reference < 2:
        raise ValueError(f"n_reference must be an integer >= 2; got {n_reference!r}")
    if isinstance(n_floor, bool) or int(n_floor) != n_floor or n_floor < 2:
        raise ValueError(f"n_floor must be an integer >= 2; got {n_floor!r}")
    rng = as_generator(seed)
    enumerable = d**N <= max_states
    observables = {}
    if not isinstance(model, MPSBase) and hasattr(model, "observables"):
        observables = model.observables()

    logp = P.log_prob(X)
    impossible = ~np.isfinite(logp)
    n_imp = int(impossible.sum())
    ref, ref_logp = P.sample(int(n_reference), seed=rng)
    if enumerable:
        probs = P.to_dense(max_states=max_states)
        probs = probs / probs.sum()
        live = probs > 0
        neg_h, neg_h_se, source = float(np.sum(probs[live] * np.log(probs[live]))), 0.0, "enumeration"
    elif _exact_mean_lookup(observables, "entropy") is not None:
        neg_h, neg_h_se, source = -_exact_mean_lookup(observables, "entropy"), 0.0, "exact entropy"
    else:
        neg_h = float(ref_logp.mean())
        neg_h_se, source = float(ref_logp.std(ddof=1) / np.sqrt(ref_logp.size)), f"{ref_logp.size} exact samples"
    if n_imp:
        mean_lp, se_lp, z, p_lp = -np.inf, np.nan, -np.inf, 0.0
    else:
        mean_lp, se_lp = float(logp.mean()), float(logp.std(ddof=1) / np.sqrt(n))
        scale = np.hypot(se_lp, neg_h_se)
        z = (mean_lp - neg_h) / scale if scale > 0 else (0.0 if mean_lp == neg_h else np.inf)
        p_lp = float(2 * scipy.stats.norm.sf(abs(z)))

    stats_x, stats_ref = statistics(X), statistics(ref)
    exact_means = {}
    if enumerable:
        stats_all = statistics(all_configs(N, d))
        exact_means = {k: float(np.dot(probs, np.asarray(v, dtype=float))) for k, v in stats_all.items()}
    rows = {}
    for name, vals in stats_x.items():
        vals = np.asarray(vals, dtype=float)
        rvals = np.asarray(stats_ref[name], dtype=float)
        se = vals.std(ddof=1) / np.sqrt(n)
        exact = exact_means.get(name, _exact_mean_lookup(observables, name))
        if exact is not None:
            ref_mean, ref_se, ref_source = exact, 0.0, "exact"
        else:
            ref_mean, ref_se, ref_source = float(rvals.mean()), float(rvals.std(ddof=1) / np.sqrt(rvals.size)), "reference"
        scale = np.hypot(se, ref_se)
        zz = (vals.mean() - ref_mean) / scale if scale > 0 else (0.0 if vals.mean() == ref_mean else np.inf)
        _, p2 = two_sample_chi2(vals, rvals)
        rows[name] = {"mean": float(vals.mean()), "stderr": float(se), "reference": ref_mean, "reference_stderr": ref_se,
                      "reference_source": ref_source, "z": float(zz), "pvalue": float(2 * scipy.stats.norm.sf(abs(zz))),
                      "two_sample_pvalue": p2}

    out = SampleReport(n, N, n_imp, mean_lp, se_lp, neg_h, neg_h_se, source, float(z), p_lp, rows, enumerable)
    if enumerable:
        out.tv, out.kl = _empirical_metrics(X, probs, d)
        floors = [_empirical_metrics(P.sample(n, seed=rng)[0], probs, d) for _ in range(int(n_floor))]
        tvs, kls = np.array(floors).T
        out.tv_floor, out.tv_floor_std = float(tvs.mean()), float(tvs.std(ddof=1))
        out.kl_floor, out.kl_floor_std = float(kls.mean()), float(kls.std(ddof=1))
        out.chi2, out.chi2_pvalue = chisquare_test(X, probs, d)
    return out


def _empirical_metrics(X, probs, d) -> tuple[float, float]:
    """TV(q_n, P) and KL(q_n || P) of the empirical law q_n of X (inf if a sample has P = 0)."""
    counts = np.bincount(config_index(X, d), minlength=probs.size) / X.shape[0]
    tv = 0.5 * float(np.abs(counts - probs).sum())
    live = counts > 0
    if np.any(probs[live] <= 0):
        return tv, float("inf")
    return tv, float(np.sum(counts[live] * np.log(counts[live] / probs[live])))
