"""Exact error metrics of approximate samplers against the exact process.

Enumerable N (full state space, S = d_out^N states):
  output_law: the sampler's exact output law, propagated with its full transition matrices
              A_k[x, x'] = prod_i q_i(x'_i | x) from the start law; then KL and TV against P_0.
  path_kl_exact: KL between the path laws on the grid, in both directions,
              KL(q || p) = KL(q_T || p_T) + sum_k E_{x ~ q_k} KL(A_k[x] || B_k[x]),
              with B_k[x, x'] = P(x_{k+1} = x' | x_k = x) = P_s(x') K_{t|s}[x, x'] / P_t(x) exact.
  kl_split:   for product-form kernels, KL(p || q) per step = E_{x ~ P_t}[TC(B[x])] + sum_i E KL(B_i[x] || q_i[x]),
              TC the total correlation of the exact reverse kernel (what no product sampler can remove).
Any N:
  path_kl_mc: Monte Carlo path KL with a standard error (exact path log-probabilities from the engine).
  histogram_tv: TV between histograms of an exactly known statistic (energy, magnetisation, height).
"""
from __future__ import annotations

import functools

import numpy as np

from ..diffusion import Diffusion
from ..goodness_of_fit import all_configs
from ..rng import as_generator
from .oracle import ExactOracle
from .samplers import PRODUCT_SAMPLERS, kernel, log_kernel, prior, sample, trapezoidal_kernels, trapezoidal_grid


def _product_matrix(q) -> np.ndarray:
    """A[x, x'] = prod_i q[x, i, x'_i] for per-site kernels q (S, N, d) over all states x."""
    A = q[:, 0, :]
    for i in range(1, q.shape[1]):
        A = (A[:, :, None] * q[:, i, None, :]).reshape(q.shape[0], -1)
    return A


def kl(p, q) -> float:
    """KL(p || q) = sum p log(p / q) (inf if q = 0 where p > 0)."""
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
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


class ExactProcess:
    """Dense laws and reverse kernels of a Diffusion on its full state space (enumerable N)."""

    def __init__(self, diffusion: Diffusion, max_states: int = 2**14):
        S = diffusion.d_out**diffusion.n_sites
        if S > max_states:
            raise ValueError(f"the state space has {S} states; exact metrics need at most {max_states}")
        self.diffusion = diffusion
        self.states = all_configs(diffusion.n_sites, diffusion.d_out)

    def law(self, t) -> np.ndarray:
        return self.diffusion.marginal(t).to_dense()

    def reverse_kernel(self, t, s) -> np.ndarray:
        """B[x, x'] = P(x_s = x' | x_t = x) (rows with P_t(x) = 0 set to 0)."""
        K = functools.reduce(np.kron, [self.diffusion.noise.propagator(t, s)] * self.diffusion.n_sites)  # K[x_t, x_s]
        ps, pt = self.law(s), self.law(t)
        with np.errstate(invalid="ignore", divide="ignore"):
            B = K * ps[None, :] / pt[:, None]
        return np.where(pt[:, None] > 0, B, 0.0)

    def start_law(self, oracle, start: str, T: float) -> np.ndarray:
        if start == "exact":
            return self.law(T)
        p0 = prior(oracle)
        return functools.reduce(np.kron, [p0] * self.diffusion.n_sites)


def step_matrices(name, oracle, times, process: ExactProcess, theta=0.5):
    """The sampler's full transition matrices A_k, one per step of its (possibly augmented) grid."""
    X = process.states
    mats = []
    for t, s in zip(times[:-1], times[1:]):
        if name in PRODUCT_SAMPLERS:
            mats.append(_product_matrix(kernel(name, oracle, t, s, X)))
        elif name == "theta_trapezoidal":
            q1, _, R_t = trapezoidal_kernels(oracle, t, s, X, None, theta)
            A1 = _product_matrix(q1)
            S = len(X)
            A2 = np.zeros((S, S))
            for k in range(S):  # stage 2 depends on (x, x*): average over x* for each x
                rows = np.repeat(X[k : k + 1], S, axis=0)
                _, q2, _ = trapezoidal_kernels(oracle, t, s, rows, X, theta, R_t=np.repeat(R_t[k : k + 1], S, axis=0))
                A2[k] = A1[k] @ _product_matrix(q2)
            mats.append(A2)
        else:
            raise ValueError(f"exact output laws are defined for {PRODUCT_SAMPLERS + ('theta_trapezoidal',)}; got {name!r}")
    return mats


def output_law(name, oracle, diffusion: Diffusion, times, start="prior", theta=0.5) -> dict:
    """The sampler's exact output law and its KL / TV against the exact law at the grid's end."""
    proc = ExactProcess(diffusion)
    times = np.asarray(times, dtype=float)
    q = proc.start_law(oracle, start, times[0])
    for A in step_matrices(name, oracle, times, proc, theta):
        q = A.T @ q
    p = proc.law(times[-1])
    return {"law": q, "exact": p, "kl_exact_sampler": kl(p, q), "kl_sampler_exact": kl(q, p), "tv": tv(p, q)}


def path_kl_exact(name, oracle, diffusion: Diffusion, times, start="prior", theta=0.5) -> dict:
    """Exact path KL in both directions for product-form (and theta-trapezoidal) samplers."""
    proc = ExactProcess(diffusion)
    times = np.asarray(times, dtype=float)
    grid = trapezoidal_grid(times, theta) if name == "theta_trapezoidal" else times
    q = proc.start_law(oracle, start, grid[0])
    p = proc.law(grid[0])
    kl_qp, kl_pq = kl(q, p), kl(p, q)
    if name == "theta_trapezoidal":  # stage kernels on the augmented grid
        mats = []
        for t, s in zip(times[:-1], times[1:]):
            q1, _, R_t = trapezoidal_kernels(oracle, t, s, proc.states, None, theta)
            mats.append(("stage1", _product_matrix(q1), R_t, t, s))
        return _trapezoid_path_kl(oracle, proc, mats, q, p, kl_qp, kl_pq, theta)
    for A, (t, s) in zip(step_matrices(name, oracle, grid, proc, theta), zip(grid[:-1], grid[1:])):
        B = proc.reverse_kernel(t, s)
        kl_qp += _weighted(q, row_kl(A, B))
        kl_pq += _weighted(p, row_kl(B, A))
        q, p = A.T @ q, B.T @ p
    return {"kl_sampler_exact": float(kl_qp), "kl_exact_sampler": float(kl_pq)}


def _weighted(w, values) -> float:
    """sum_x w[x] values[x] over w > 0 (inf if an infinite value has positive weight)."""
    live = w > 0
    return float(np.sum(w[live] * values[live]))


def _trapezoid_path_kl(oracle, proc, stages, q, p, kl_qp, kl_pq, theta):
    """Path KL on the augmented grid (x_t, x*, x_s): the stage-2 kernel depends on (x, x*)."""
    X = proc.states
    S = len(X)
    for _, A1, R_t, t, s in stages:
        mid = t - theta * (t - s)
        B1, B2 = proc.reverse_kernel(t, mid), proc.reverse_kernel(mid, s)
        q_next, p_next = np.zeros(S), np.zeros(S)
        for x in range(S):
            if q[x] == 0 and p[x] == 0:
                continue
            rows = np.repeat(X[x : x + 1], S, axis=0)
            _, q2, _ = trapezoidal_kernels(oracle, t, s, rows, X, theta, R_t=np.repeat(R_t[x : x + 1], S, axis=0))
            A2 = _product_matrix(q2)  # A2[x*, x'] given this x
            if q[x] > 0:
                kl_qp += q[x] * (kl(A1[x], B1[x]) + sum(A1[x, k] * kl(A2[k], B2[k]) for k in np.flatnonzero(A1[x] > 0)))
                q_next += q[x] * (A1[x] @ A2)
            if p[x] > 0:
                kl_pq += p[x] * (kl(B1[x], A1[x]) + sum(B1[x, k] * kl(B2[k], A2[k]) for k in np.flatnonzero(B1[x] > 0)))
                p_next += p[x] * (B1[x] @ B2)
        q, p = q_next, p_next
    return {"kl_sampler_exact": float(kl_qp), "kl_exact_sampler": float(kl_pq)}


def kl_split(name, oracle, diffusion: Diffusion, times) -> dict:
    """KL(exact || sampler) per step = total correlation of the exact kernel + sum of per-site KLs."""
    if name not in PRODUCT_SAMPLERS:
        raise ValueError(f"kl_split needs a product-form sampler {PRODUCT_SAMPLERS}; got {name!r}")
    proc = ExactProcess(diffusion)
    X, N, d = proc.states, diffusion.n_sites, diffusion.d_out
    tc_total, site_total = 0.0, 0.0
    for t, s in zip(times[:-1], times[1:]):
        pt = proc.law(t)
        B = proc.reverse_kernel(t, s)
        qk = kernel(name, oracle, t, s, X)
        for x in np.flatnonzero(pt > 0):
            marg = np.stack([np.bincount(X[:, i], weights=B[x], minlength=d) for i in range(N)])  # (N, d)
            tc_total += pt[x] * kl(B[x], _product_matrix(marg[None])[0])
            site_total += pt[x] * sum(kl(marg[i], qk[x, i]) for i in range(N))
    return {"total_correlation": float(tc_total), "per_site_kl": float(site_total), "sum": float(tc_total + site_total)}


ESTIMATORS = ("autoregressive", "per_site", "plain")
COUPLINGS = ("path", "independent_steps")


def path_kl_mc(name, oracle, diffusion: Diffusion, times, n: int, seed=None, direction="sampler_exact",
               start="prior", theta=0.5, return_values: bool = False, estimator: str = "autoregressive",
               coupling: str = "path") -> dict:
    """Monte Carlo path KL with its standard error, for any N.

    sampler_exact: E_q[log q(path) - log p(path)] over the sampler's own paths.
    exact_sampler: E_p[log p(path) - log q(path)] over exact reverse paths (product-form samplers),
    by path_kl_exact_paths with the given estimator and coupling.
    return_values: also return the per-path values under "values" (to pool several runs).
    """
    times = np.asarray(times, dtype=float)
    if direction == "sampler_exact":
        res = sample(name, oracle, n, times, seed=seed, keep_path=True, start=start, theta=theta)
        if res.log_q is None:
            raise ValueError(f"sampler {name!r} has no step log-probabilities: path KL is undefined")
        return _mc_summary(res.log_q - diffusion.log_path_prob(res.path, res.times), return_values)
    if direction == "exact_sampler":
        return path_kl_exact_paths((name,), oracle, diffusion, times, n, seed=seed, start=start, estimator=estimator,
                                   coupling=coupling, return_values=return_values)[name]
    raise ValueError(f"direction must be 'sampler_exact' or 'exact_sampler'; got {direction!r}")


def path_kl_exact_paths(names, oracle, diffusion: Diffusion, times, n: int, seed=None, start="prior",
                        estimator: str = "autoregressive", coupling: str = "path", return_values: bool = False,
                        progress: bool = False) -> dict:
    """KL(exact || sampler) on paths for several product-form samplers, all on the same n exact draws.

    With p_k = p(. | x_k) the exact reverse kernel of step k (t_k -> t_{k+1}), p_{k,i} its per-site
    marginals, c_{k,i} = p_k(x_i = . | x_{<i} = x_{k+1,<i}) its autoregressive conditionals along the
    drawn x_{k+1}, and q_k = prod_i q_{k,i} the sampler's step, each row's value is
        log P_T(x_0) - log q_start(x_0) + sum_k v_k, with
        plain:          v_k = log p_k(x_{k+1}) - log q_k(x_{k+1})
        per_site:       v_k = log p_k(x_{k+1}) - sum_i log p_{k,i}(x_{k+1,i}) + sum_i KL(p_{k,i} || q_{k,i})
        autoregressive: v_k = sum_i KL(c_{k,i} || p_{k,i}) + sum_i KL(p_{k,i} || q_{k,i})     (default)
    All have mean KL(p || q) on paths, since E[log p_k - log q_k | x_k] = TC(p_k) + sum_i KL(p_{k,i} || q_{k,i})
    and, by the chain rule, TC(p_k) = E[sum_i KL(c_{k,i} || p_{k,i}) | x_k]: the per-site KLs are exact,
    and the autoregressive form also replaces each drawn symbol's log-ratio in the total correlation
    by its conditional mean (Rao-Blackwellisation; 5-25x less variance on Ising cylinders).
    p_{k,i} are the Tweedie marginals of the exact score, evaluated once per step and shared with the
    samplers when the oracle is the ExactOracle of `diffusion`.
    coupling: "path", one exact reverse path per row; "independent_steps", each step's pair
    (x_k, x_{k+1}) drawn exactly and independently of the other steps (x_{k+1} ~ P_{t_{k+1}}, x_k by
    noising it), which removes the positive correlation between steps from the variance.
    Returns {name: {"kl", "stderr", "n"[, "values"]}}; the non-plain estimators also give the
    split kl = "start_kl" + "total_correlation" + "per_site_kl" (means over rows; start_kl estimates
    KL(P_T || q_start) and is 0 for start="exact").
    """
    names = tuple(names)
    for name in names:
        if name not in PRODUCT_SAMPLERS:
            raise ValueError(f"exact_sampler path KL needs a product-form sampler {PRODUCT_SAMPLERS}; got {name!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}")
    if coupling not in COUPLINGS:
        raise ValueError(f"coupling must be one of {COUPLINGS}; got {coupling!r}")
    times = np.asarray(times, dtype=float)
    rng = as_generator(seed)
    if coupling == "path":
        paths, log_path = diffusion.reverse_path(n, times, seed=rng)
        x_start = paths[:, 0]
    else:
        x_start = diffusion.forward(diffusion.model.sample(n, seed=rng)[0], times[0], seed=rng)
    log_start = diffusion.marginal(times[0]).log_prob(x_start)
    if start == "exact":
        log_q_start = log_start
    else:
        with np.errstate(divide="ignore"):
            log_q_start = np.log(prior(oracle)[x_start]).sum(axis=1)
    shared = isinstance(oracle, ExactOracle) and oracle.diffusion is diffusion
    exact = oracle if shared else ExactOracle(diffusion)
    site_kl = {name: np.zeros(n) for name in names}
    tc = np.zeros(n)  # total-correlation part (per_site, autoregressive) or log p of the steps (plain)
    if coupling == "path" and estimator != "autoregressive":
        tc = log_path - log_start
    steps = range(len(times) - 1)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="path KL", unit="step")
    for k in steps:
        t, s = times[k], times[k + 1]
        if coupling == "path":
            X, Xnext = paths[:, k], paths[:, k + 1]
        else:
            Xnext = diffusion.forward(diffusion.model.sample(n, seed=rng)[0], s, seed=rng)
            X = diffusion.forward(Xnext, t, s, seed=rng)
            if estimator != "autoregressive":
                tc = tc + diffusion.log_transition(Xnext, X, t, s)
        score = oracle.score(t, X)
        if estimator == "plain":
            for name in names:
                site_kl[name] -= log_kernel(kernel(name, oracle, t, s, X, score=score), Xnext)
            continue
        p = exact.denoiser_marginals(t, s, X, score=score if shared else exact.score(t, X))
        if estimator == "per_site":
            tc = tc - log_kernel(p, Xnext)
        else:
            c = diffusion.reverse_conditionals(Xnext, X, t, s)
            tc = tc + _site_kl_sum(c, p)
        for name in names:
            site_kl[name] += _site_kl_sum(p, kernel(name, oracle, t, s, X, score=score))
    start_term = log_start - log_q_start
    out = {}
    for name in names:
        out[name] = _mc_summary(start_term + tc + site_kl[name], return_values)
        if estimator != "plain":
            out[name].update(start_kl=float(start_term.mean()), total_correlation=float(tc.mean()),
                             per_site_kl=float(site_kl[name].mean()))
    return out


def _site_kl_sum(p, q) -> np.ndarray:
    """sum_i KL(p[r, i] || q[r, i]) for per-site distributions of shape (n, N, d) -> (n,)."""
    return row_kl(p.reshape(-1, p.shape[2]), q.reshape(-1, q.shape[2])).reshape(p.shape[:2]).sum(axis=1)


def _mc_summary(values, return_values: bool) -> dict:
    """Mean and standard error of per-path values (inf when any value is not finite)."""
    n = values.size
    extra = {"values": values} if return_values else {}
    if not np.all(np.isfinite(values)):
        return {"kl": float("inf"), "stderr": float("nan"), "n": n, **extra}
    return {"kl": float(values.mean()), "stderr": float(values.std(ddof=1) / np.sqrt(n)), "n": n, **extra}


def histogram_tv(values, reference) -> float:
    """TV distance between the empirical laws of a discrete statistic (e.g. energy, magnetisation)."""
    values, reference = np.asarray(values), np.asarray(reference)
    keys, inv = np.unique(np.concatenate([values, reference]), return_inverse=True)
    a = np.bincount(inv[: len(values)], minlength=len(keys)) / len(values)
    b = np.bincount(inv[len(values):], minlength=len(keys)) / len(reference)
    return tv(a, b)
