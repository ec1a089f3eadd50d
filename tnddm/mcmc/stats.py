"""Error bars for Markov chains and importance sampling.

Chains are arrays of shape (steps, walkers) (a 1D array is one walker). Estimators:

    rho(k)    = C(k) / C(0), C averaged over walkers (FFT, per-walker means removed)
    tau       = 1 + 2 sum_{k=1}^{M} rho(k), window M = the smallest M >= c tau(M) (Sokal; emcee's c = 5)
    stderr    = sqrt(var * tau / (steps * walkers))
    ESS       = steps * walkers / tau
    binning   : stderr of the mean of non-overlapping bin means (bins of one walker never mix walkers)
    split R-hat (Gelman et al.): each walker split in halves, sqrt(((n-1)/n W + B/n) / W)
    tau error (Sokal): sigma_tau = tau sqrt(2 (2M + 1) / (steps * walkers)), M the window
    converged: R-hat < 1.01 and steps >= 50 tau (both needed before an estimate is trusted)
    importance sampling: w_i = exp(log pi_i - log q_i) / sum_j (...), Kish ESS = 1 / sum_i w_i^2
"""
from __future__ import annotations

import numpy as np


def _as_chain(x, name: str = "x") -> np.ndarray:
    """(steps,) or (steps, walkers) -> float array (steps, walkers)."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"{name} must have shape (steps,) or (steps, walkers) with steps >= 2; got {np.shape(x)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def autocorrelation(x) -> np.ndarray:
    """Normalised autocorrelation rho(k), k = 0..steps-1, averaged over walkers (FFT estimator).

    C(k) = (1 / (walkers * steps)) sum_w sum_t (x_t - m_w)(x_{t+k} - m_w); rho = C / C(0).
    A constant chain has rho = (1, 0, 0, ...).

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
    """
    a = _as_chain(x)
    n = a.shape[0]
    a = a - a.mean(axis=0)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(a, n=size, axis=0)
    acf = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:n].mean(axis=1)
    if acf[0] <= 0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    return acf / acf[0]


RHAT_MAX = 1.01        # a run is converged only if every observable has split R-hat below this
MIN_RECORDS_PER_TAU = 50  # ... and at least this many recorded steps per integrated autocorrelation time


def _sokal_window(x, c: float = 5.0) -> tuple[float, int]:
    """(tau, M): tau(M) = 1 + 2 sum_{k=1}^M rho(k) at the smallest window M >= c tau(M)."""
    if c <= 0:
        raise ValueError(f"c must be positive; got {c}")
    rho = autocorrelation(x)
    taus = 2.0 * np.cumsum(rho) - 1.0  # taus[M] = 1 + 2 sum_{k=1}^M rho(k)
    ok = np.arange(rho.size) >= c * taus
    M = int(np.argmax(ok)) if np.any(ok) else rho.size - 1
    return float(max(taus[M], 1e-12)), M


def integrated_time(x, c: float = 5.0) -> float:
    """Integrated autocorrelation time with Sokal's automatic window (tau = 1 for independent samples).

    tau(M) = 1 + 2 sum_{k=1}^M rho(k); M is the smallest window with M >= c tau(M). If no window
    qualifies (chain too short, fewer than about c tau steps) the estimate at the longest window
    is returned; check `steps > 50 tau` before trusting it.

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
        c: Sokal's window constant (emcee uses 5).
    """
    return _sokal_window(x, c)[0]


def integrated_time_error(x, c: float = 5.0) -> tuple[float, float]:
    """(tau, sigma_tau), sigma_tau = tau sqrt(2 (2M + 1) / (steps * walkers)) (Sokal's variance of tau).

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
        c: Sokal's window constant (emcee uses 5).
    """
    a = _as_chain(x)
    tau, M = _sokal_window(a, c)
    return tau, float(tau * np.sqrt(2.0 * (2 * M + 1) / a.size))


def standard_error(x, tau: float | None = None) -> float:
    """Standard error of the grand mean: sqrt(var * tau / (steps * walkers)).

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
        tau: integrated autocorrelation time (default: integrated_time(x)).
    """
    a = _as_chain(x)
    tau = integrated_time(a) if tau is None else float(tau)
    return float(np.sqrt(a.var() * tau / a.size))


def binning_error(x, n_bins: int = 32) -> float:
    """Standard error of the grand mean from non-overlapping bin means.

    Each walker's series is cut into n_bins bins; the bin means (n_bins * walkers of them) are
    treated as independent: stderr = std(bin means, ddof=1) / sqrt(number of bins). Valid when
    a bin is much longer than tau.

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
        n_bins: bins per walker (>= 2).
    """
    a = _as_chain(x)
    if int(n_bins) != n_bins or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2; got {n_bins!r}")
    steps = a.shape[0]
    size = steps // int(n_bins)
    if size < 1:
        raise ValueError(f"n_bins = {n_bins} exceeds the number of steps ({steps})")
    means = a[: size * int(n_bins)].reshape(int(n_bins), size, -1).mean(axis=1).ravel()
    return float(means.std(ddof=1) / np.sqrt(means.size))


def effective_sample_size(x, tau: float | None = None) -> float:
    """ESS = steps * walkers / tau.

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
        tau: integrated autocorrelation time (default: integrated_time(x)).
    """
    a = _as_chain(x)
    tau = integrated_time(a) if tau is None else float(tau)
    return float(a.size / tau)


def split_rhat(x) -> float:
    """Split R-hat over walkers (each walker cut in two halves); 1 for a converged chain.

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
    """
    a = _as_chain(x)
    half = a.shape[0] // 2
    if half < 2:
        raise ValueError(f"split_rhat needs at least 4 steps; got {a.shape[0]}")
    chains = np.concatenate([a[:half], a[half: 2 * half]], axis=1)  # (half, 2 * walkers)
    n = chains.shape[0]
    W = chains.var(axis=0, ddof=1).mean()
    B = n * chains.mean(axis=0).var(ddof=1)
    if W == 0:
        return 1.0 if B == 0 else float("inf")
    return float(np.sqrt(((n - 1) / n * W + B / n) / W))


def acceptance_rate(accepted) -> float:
    """Fraction of accepted moves.

    Args:
        accepted: any array of booleans, one per move.
    """
    a = np.asarray(accepted)
    if a.size == 0:
        raise ValueError("accepted must hold at least one move")
    return float(a.mean())


def is_converged(rhat: float, records_per_tau: float) -> bool:
    """R-hat < RHAT_MAX and records / tau >= MIN_RECORDS_PER_TAU (a nan R-hat is not converged).

    records_per_tau is records / max(tau, 1) (summarize), so a converged chain also has at least
    MIN_RECORDS_PER_TAU records: an anti-correlated or very short chain, whose window sum can make
    tau tiny, is never called converged on a handful of records.

    Args:
        rhat: split R-hat.
        records_per_tau: recorded steps per max(tau, 1).
    """
    return bool(np.isfinite(rhat) and rhat < RHAT_MAX and records_per_tau >= MIN_RECORDS_PER_TAU)


def summarize(x) -> dict:
    """Estimate and diagnostics of one observable's chain (steps, walkers).

    Returns mean, stderr (tau), stderr_binning, tau, tau_stderr, ess, rhat (split R-hat),
    records, records_per_tau = steps / max(tau, 1) and converged (is_converged).

    Args:
        x: one observable's chain, shape (steps, walkers) or (steps,) for one walker.
    """
    a = _as_chain(x)
    tau, tau_err = integrated_time_error(a)
    rhat = split_rhat(a) if a.shape[0] >= 4 else float("nan")
    out = {"mean": float(a.mean()), "stderr": standard_error(a, tau), "tau": tau, "tau_stderr": tau_err,
           "ess": effective_sample_size(a, tau), "rhat": rhat}
    out["stderr_binning"] = binning_error(a, min(32, a.shape[0])) if a.shape[0] >= 64 else float("nan")
    out["records"] = int(a.shape[0])
    out["records_per_tau"] = float(a.shape[0] / max(tau, 1.0))
    out["converged"] = is_converged(rhat, out["records_per_tau"])
    return out


# ---- importance sampling --------------------------------------------------------------------
def importance_weights(log_target, log_proposal) -> np.ndarray:
    """Self-normalised weights w_i ∝ pi(x_i) / q(x_i), summing to 1 (pi may be unnormalised).

    Samples with log_target = -inf get weight 0; log_proposal must be finite (x_i ~ q).

    Args:
        log_target: log pi(x_i), possibly unnormalised, one per sample.
        log_proposal: log q(x_i) of the proposal that drew the samples.
    """
    lt = np.asarray(log_target, dtype=float).ravel()
    lq = np.asarray(log_proposal, dtype=float).ravel()
    if lt.shape != lq.shape or lt.size == 0:
        raise ValueError(f"log_target and log_proposal must be non-empty and of equal length; got {lt.size}, {lq.size}")
    if not np.all(np.isfinite(lq)):
        raise ValueError("log_proposal must be finite (the samples were drawn from the proposal)")
    if np.any(np.isnan(lt)) or np.any(lt == np.inf):
        raise ValueError("log_target must be finite or -inf")
    lw = lt - lq
    if not np.any(np.isfinite(lw)):
        raise ValueError("every sample has zero target weight; the importance estimate is undefined")
    w = np.exp(lw - lw[np.isfinite(lw)].max())
    return w / w.sum()


def kish_ess(weights) -> float:
    """Kish effective sample size (sum w)^2 / sum w^2.

    Args:
        weights: non-negative importance weights (normalised or not).
    """
    w = np.asarray(weights, dtype=float)
    if w.size == 0 or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    return float(w.sum() ** 2 / (w**2).sum())


def importance_estimate(values, log_target, log_proposal) -> dict:
    """Self-normalised importance-sampling estimate of E_pi[f] from samples of q.

    mean = sum_i w_i f_i; stderr from the delta method, sqrt(sum_i w_i^2 (f_i - mean)^2);
    also returns the Kish ESS and the weights.

    Args:
        values: f(x_i), one per sample.
        log_target: log pi(x_i), possibly unnormalised.
        log_proposal: log q(x_i) of the proposal that drew the samples.

    Returns:
        {"mean", "stderr", "ess", "weights"}.
    """
    f = np.asarray(values, dtype=float).ravel()
    w = importance_weights(log_target, log_proposal)
    if f.shape != w.shape:
        raise ValueError(f"values must have one entry per sample ({w.size}); got {f.size}")
    mean = float(w @ f)
    return {"mean": mean, "stderr": float(np.sqrt(np.sum(w**2 * (f - mean) ** 2))), "ess": kish_ess(w), "weights": w}
