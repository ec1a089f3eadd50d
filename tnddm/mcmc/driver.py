"""Metropolis-Hastings with diffusion-model proposals, many walkers advanced together.

Target pi (unnormalised, log pi given by a batched function), proposal P (a probability MPS with
exact log P). Moves:

  disconnected:  x' ~ P
  connected:     y ~ Noise_T(. | x), x' ~ P(. | y) = P(x') Noise_T(y | x') / P_T(y)   (exact denoising)

The connected kernel K_T(x'|x) = sum_y Noise_T(y|x) P(x'|y) satisfies P(x) K_T(x'|x) = P(x') K_T(x|x'),
so both moves accept with
  log alpha = min(0, [log pi(x') - log P(x')] - [log pi(x) - log P(x)]),
and configurations with log pi(x') = -inf are always rejected. A step picks one move kind (with
the given probabilities) and one T (from the move's T distribution), independently of the state,
and applies it to every walker: a mixture of kernels that each leave pi invariant.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .._checks import as_configs, check_nonnegative_int
from ..diffusion import Diffusion
from ..mps import MPSBase
from ..noise import Flip, Noise
from ..rng import as_generator
from .chain import Chain, record_observables
from .proposals import as_proposal

MOVE_KINDS = ("connected", "disconnected")


def log_acceptance(log_pi_new, log_p_new, log_pi_old, log_p_old) -> np.ndarray:
    """log min(1, pi(x') P(x) / (pi(x) P(x'))); -inf where pi(x') = 0 (always rejected)."""
    log_pi_new = np.asarray(log_pi_new, dtype=float)
    with np.errstate(invalid="ignore"):
        ratio = (log_pi_new - np.asarray(log_p_new)) - (np.asarray(log_pi_old) - np.asarray(log_p_old))
    ratio = np.where(np.isneginf(log_pi_new), -np.inf, ratio)
    return np.minimum(ratio, 0.0)


@dataclass
class Move:
    """One move type: kind 'connected' or 'disconnected', its probability, and its diffusion time T.

    T: a number, a list of numbers (one drawn uniformly per step), a callable rng -> T, or an
    object with .rvs(random_state=rng) (a frozen scipy.stats distribution). Ignored for
    disconnected moves.
    """

    kind: str
    prob: float = 1.0
    T: object = 1.0

    def __post_init__(self):
        if self.kind not in MOVE_KINDS:
            raise ValueError(f"move kind must be one of {MOVE_KINDS}; got {self.kind!r}")
        if not np.isfinite(self.prob) or self.prob < 0:
            raise ValueError(f"move probability must be >= 0; got {self.prob}")
        if self.kind == "connected" and isinstance(self.T, (int, float, list, tuple, np.ndarray)):
            vals = np.atleast_1d(np.asarray(self.T, dtype=float))
            if vals.size == 0 or np.any(~np.isfinite(vals)) or np.any(vals < 0):
                raise ValueError(f"T must be finite and >= 0 (a number or a non-empty list); got {self.T!r}")

    def draw_T(self, rng) -> float:
        if self.kind == "disconnected":
            return float("nan")
        T = self.T
        if callable(getattr(T, "rvs", None)):
            T = T.rvs(random_state=rng)
        elif callable(T):
            T = T(rng)
        elif isinstance(T, (list, tuple, np.ndarray)):
            T = np.asarray(T, dtype=float)[rng.integers(len(T))]
        T = float(T)
        if not np.isfinite(T) or T < 0:
            raise ValueError(f"the T distribution gave T = {T}; T must be finite and >= 0")
        return T


def make_moves(scheme="connected", T=1.0, connected_prob: float = 0.5) -> list[Move]:
    """Moves for a scheme name: 'connected', 'disconnected' or 'mixed' (connected with connected_prob).

    A list of Move objects, or of (kind, prob[, T]) tuples, is passed through.
    """
    if isinstance(scheme, Move):
        return [scheme]
    if isinstance(scheme, (list, tuple)):
        moves = [m if isinstance(m, Move) else Move(*m) for m in scheme]
    elif scheme == "connected":
        moves = [Move("connected", 1.0, T)]
    elif scheme == "disconnected":
        moves = [Move("disconnected", 1.0)]
    elif scheme == "mixed":
        if not 0 <= connected_prob <= 1:
            raise ValueError(f"connected_prob must lie in [0, 1]; got {connected_prob}")
        moves = [Move("connected", connected_prob, T), Move("disconnected", 1 - connected_prob)]
    else:
        raise ValueError(f"scheme must be 'connected', 'disconnected', 'mixed' or a list of moves; got {scheme!r}")
    if not moves or sum(m.prob for m in moves) <= 0:
        raise ValueError("moves must hold at least one move of positive probability")
    return moves


class MetropolisHastings:
    """Metropolis-Hastings sampler of pi with DDM proposals (module docstring).

    target:      a batched function X (n, N) -> log pi (n,), or a lattice model (its .log_weight;
                 its .statistics is the default observable function).
    proposal:    a ProbMPS / SparseMPS, or a lattice model (its exact MPS); chi truncates it.
    moves:       'connected', 'disconnected', 'mixed', or a list of Move / (kind, prob, T).
    T:           diffusion time for the scheme names (number, list, callable or distribution).
    noise:       a tnddm.noise.Noise for connected moves (default Flip(rate=1, d)).
    observables: X -> {name: (n,) array}, recorded for every walker after each step.
    """

    def __init__(self, target, proposal, moves="connected", T=1.0, noise: Noise | None = None,
                 observables=None, chi: int | None = None, connected_prob: float = 0.5):
        if callable(getattr(target, "log_weight", None)):
            self.log_target = target.log_weight
            if observables is None and callable(getattr(target, "statistics", None)):
                observables = target.statistics
        elif callable(target):
            self.log_target = target
        else:
            raise ValueError(f"target must be a function X -> log pi or a model with .log_weight; got {type(target).__name__}")
        self.proposal: MPSBase = as_proposal(proposal, chi=chi)
        self.n_sites, self.d = self.proposal.n_sites, self.proposal.d
        self.noise = Flip(rate=1.0, d=self.d) if noise is None else noise
        self.diffusion = Diffusion(self.proposal, self.noise)
        self.moves = make_moves(moves, T, connected_prob)
        self.observables = observables

    # ---- one step ----------------------------------------------------------------------------
    def _log_pi(self, X) -> np.ndarray:
        out = np.asarray(self.log_target(X), dtype=float)
        if out.shape != (X.shape[0],):
            raise ValueError(f"target must return one log weight per configuration, shape ({X.shape[0]},); got {out.shape}")
        if np.any(np.isnan(out)) or np.any(out == np.inf):
            raise ValueError("target returned nan or +inf log weights")
        return out

    def propose(self, X, kind: str, T: float, rng):
        """Candidates x' and their exact log P(x') for one move."""
        if kind == "disconnected":
            return self.proposal.sample(X.shape[0], seed=rng)
        Y = self.diffusion.forward(X, T, seed=rng)
        Xn, _, log_p = self.diffusion.denoise(Y, T, 0.0, seed=rng, return_log_prior=True)
        return Xn, log_p

    def step(self, X, log_pi, log_p, kind: str, T: float, rng):
        """One MH step for all walkers; returns (X, log_pi, log_p, accepted)."""
        Xn, lpn = self.propose(X, kind, T, rng)
        lpi_n = self._log_pi(Xn)
        la = log_acceptance(lpi_n, lpn, log_pi, log_p)
        acc = np.log(rng.random(X.shape[0])) < la
        X = np.where(acc[:, None], Xn, X)
        return X, np.where(acc, lpi_n, log_pi), np.where(acc, lpn, log_p), acc

    # ---- the run -----------------------------------------------------------------------------
    def initial_state(self, n_walkers: int, initial=None, rng=None):
        if initial is None:  # proposal samples, redrawn (up to 200 rounds) where pi(x) = 0
            X, log_p = self.proposal.sample(n_walkers, seed=rng)
            log_pi = self._log_pi(X)
            for _ in range(200):
                redo = np.flatnonzero(np.isneginf(log_pi))
                if redo.size == 0:
                    break
                X[redo], log_p[redo] = self.proposal.sample(redo.size, seed=rng)
                log_pi[redo] = self._log_pi(X[redo])
        else:
            X = as_configs(initial, self.n_sites, self.d, name="initial")
            if X.shape[0] == 1 and n_walkers > 1:
                X = np.repeat(X, n_walkers, axis=0)
            if X.shape[0] != n_walkers:
                raise ValueError(f"initial must have 1 or n_walkers = {n_walkers} rows; got {X.shape[0]}")
            log_p = self.proposal.log_prob(X)
            log_pi = self._log_pi(X)
        bad = ~np.isfinite(log_pi) | ~np.isfinite(log_p)
        if np.any(bad):
            raise ValueError(f"initial configurations {np.flatnonzero(bad)[:10].tolist()} have zero target or "
                             "proposal probability; start where both are positive")
        return X, log_pi, log_p

    def draw_schedule(self, n_moves: int, seed=None) -> list[tuple[str, float]]:
        """The state-independent move sequence: n_moves pairs (kind, T), T = nan for disconnected moves."""
        rng = as_generator(seed)
        probs = np.array([m.prob for m in self.moves], dtype=float)
        probs /= probs.sum()
        schedule = []
        for _ in range(check_nonnegative_int(n_moves, "n_moves")):
            move = self.moves[rng.choice(len(self.moves), p=probs)]
            schedule.append((move.kind, move.draw_T(rng)))
        return schedule

    def run(self, n_steps: int, n_walkers: int = 64, initial=None, seed=None, burn_in: int = 0,
            progress: bool = False, schedule=None) -> Chain:
        """Run n_steps MH steps (after burn_in unrecorded ones) of n_walkers walkers; returns a Chain.

        schedule: optional fixed move sequence (burn_in + n_steps pairs (kind, T), see draw_schedule),
        so that walker groups run as separate tasks (tnddm.distributed) make the same moves.
        """
        n_steps = check_nonnegative_int(n_steps, "n_steps")
        n_walkers = check_nonnegative_int(n_walkers, "n_walkers")
        burn_in = check_nonnegative_int(burn_in, "burn_in")
        if n_steps < 1 or n_walkers < 1:
            raise ValueError(f"n_steps and n_walkers must be >= 1; got {n_steps}, {n_walkers}")
        rng = as_generator(seed)
        start = time.perf_counter()
        X, log_pi, log_p = self.initial_state(n_walkers, initial, rng)
        if schedule is None:
            schedule = self.draw_schedule(burn_in + n_steps, rng)
        elif len(schedule) != burn_in + n_steps or any(kind not in MOVE_KINDS for kind, _ in schedule):
            raise ValueError(f"schedule must hold burn_in + n_steps = {burn_in + n_steps} pairs (kind, T) with kind "
                             f"in {MOVE_KINDS}; got {len(schedule)} moves")
        accepted = np.zeros((n_steps, n_walkers), dtype=bool)
        kinds = np.empty(n_steps, dtype=object)
        Ts = np.full(n_steps, np.nan)
        obs: dict[str, np.ndarray] = {}
        steps = range(burn_in + n_steps)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="mcmc", unit="step")
        for t in steps:
            kind, T = schedule[t]
            X, log_pi, log_p, acc = self.step(X, log_pi, log_p, kind, T, rng)
            k = t - burn_in
            if k < 0:
                continue
            accepted[k], kinds[k], Ts[k] = acc, kind, T
            if self.observables is not None:
                for name, v in record_observables(self.observables, X).items():
                    if name not in obs:
                        obs[name] = np.empty((n_steps, n_walkers))
                    obs[name][k] = v
        return Chain(observables=obs, accepted=accepted, move_kinds=kinds.astype(str), move_T=Ts, state=X,
                     seconds=time.perf_counter() - start,
                     info={"moves": [(m.kind, m.prob, m.T if m.kind == "connected" else None) for m in self.moves],
                           "proposal_bond": max(self.proposal.bond_dims), "burn_in": burn_in})


def scan_T(target, proposal, T_values, scheme: str = "connected", n_steps: int = 200, n_walkers: int = 64,
           noise: Noise | None = None, observable: str | None = None, seed=None, burn_in: int = 0,
           progress: bool = False) -> list[dict]:
    """One chain per diffusion time T; per chain: acceptance, tau, ESS and ESS per second of `observable`.

    For scheme 'disconnected' T is irrelevant and a single chain is run (T = nan). Returns a list
    of rows {'scheme', 'T', 'acceptance', 'tau', 'ess', 'ess_per_second', 'mean', 'stderr',
    'seconds', 'chain'}; observable defaults to the first recorded one (e.g. 'energy').
    """
    Ts = [float("nan")] if scheme == "disconnected" else [float(t) for t in np.atleast_1d(T_values)]
    seeds = np.random.SeedSequence(seed).spawn(len(Ts)) if not isinstance(seed, np.random.SeedSequence) \
        else seed.spawn(len(Ts))
    rows = []
    for T, child in zip(Ts, seeds):
        mh = MetropolisHastings(target, proposal, moves=scheme, T=0.0 if np.isnan(T) else T, noise=noise)
        chain = mh.run(n_steps, n_walkers, seed=child, burn_in=burn_in, progress=progress)
        if not chain.observables:
            raise ValueError("scan_T needs observables: pass a lattice model or a target with .statistics")
        name = observable or next(iter(chain.observables))
        if name not in chain.observables:
            raise ValueError(f"observable {name!r} not recorded; have {sorted(chain.observables)}")
        s = chain.summary()[name]
        rows.append({"scheme": scheme, "T": T, "acceptance": chain.acceptance(), "tau": s["tau"], "ess": s["ess"],
                     "ess_per_second": s["ess"] / max(chain.seconds, 1e-12), "observable": name, "mean": s["mean"],
                     "stderr": s["stderr"], "seconds": chain.seconds, "chain": chain})
    return rows


def plot_scan(rows, path, title: str = "") -> None:
    """PNG of acceptance and tau against T: connected rows as lines, disconnected as dashed levels.

    Rows sharing r['group'] (e.g. 'chi=8') share a colour.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    groups: dict = {}
    for r in rows:
        groups.setdefault(str(r.get("group", "")), []).append(r)
    for k, (group, rs) in enumerate(groups.items()):
        colour = f"C{k % 10}"
        conn = sorted((r for r in rs if not np.isnan(r["T"])), key=lambda r: r["T"])
        disc = [r for r in rs if np.isnan(r["T"])]
        for ax, key in zip(axes, ("acceptance", "tau")):
            if conn:
                ax.plot([r["T"] for r in conn], [r[key] for r in conn], "o-", color=colour,
                        label=f"{group} connected".strip())
            for r in disc:
                ax.axhline(r[key], ls="--", color=colour, label=f"{group} disconnected".strip())
    for ax, key in zip(axes, ("acceptance", "integrated autocorrelation time")):
        ax.set_xscale("log")
        ax.set_xlabel("diffusion time T")
        ax.set_ylabel(key)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
