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
from .._memory import check_allocation
from ..diffusion import Diffusion
from ..mps import MPSBase
from ..noise import Flip, Noise
from ..rng import as_generator
from .chain import Chain, _Tape, record_observables
from .proposals import as_proposal

MOVE_KINDS = ("connected", "disconnected")
INITIAL_STATES = ("exact", "proposal")
T_BOUNDS = (1e-4, 20.0)  # range of adapted diffusion times
T_AUTO_START = 0.3       # first T of an adaptive move
BURN_TAUS = 5.0          # an auto burn-in from a non-stationary start lasts at least this many tau
SUPPORT_CHECK_SAMPLES = 5000  # exact samples of the target that the proposal must cover


def check_positive(value, name: str) -> int:
    value = check_nonnegative_int(value, name)
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")
    return value


def log_alpha(log_pi_new, log_pi_old, log_hastings) -> np.ndarray:
    """log min(1, pi(x') / pi(x) * Hastings factor); -inf where pi(x') = 0 (always rejected)."""
    log_pi_new = np.asarray(log_pi_new, dtype=float)
    with np.errstate(invalid="ignore"):
        ratio = log_pi_new - np.asarray(log_pi_old) + np.asarray(log_hastings)
    return np.minimum(np.where(np.isneginf(log_pi_new), -np.inf, ratio), 0.0)


def log_acceptance(log_pi_new, log_p_new, log_pi_old, log_p_old) -> np.ndarray:
    """log min(1, pi(x') P(x) / (pi(x) P(x'))): log_alpha with Hastings factor P(x) / P(x')."""
    with np.errstate(invalid="ignore"):
        return log_alpha(log_pi_new, log_pi_old, np.asarray(log_p_old, dtype=float) - np.asarray(log_p_new))


@dataclass
class Move:
    """One move type: kind 'connected' or 'disconnected', its probability, and its diffusion time T.

    T: a number, a list of numbers (one drawn uniformly per step), a callable rng -> T, an
    object with .rvs(random_state=rng) (a frozen scipy.stats distribution), or 'auto' (adapted
    towards a target acceptance during burn-in, then frozen; MetropolisHastings.run). Ignored
    for disconnected moves.
    """

    kind: str
    prob: float = 1.0
    T: object = 1.0

    @property
    def adaptive(self) -> bool:
        return self.kind == "connected" and isinstance(self.T, str) and self.T == "auto"

    T_start = T_AUTO_START

    def __post_init__(self):
        if isinstance(self.T, str) and self.T != "auto":
            raise ValueError(f"T must be a number, a list, a distribution, a callable or 'auto'; got {self.T!r}")
        if self.kind not in MOVE_KINDS:
            raise ValueError(f"move kind must be one of {MOVE_KINDS}; got {self.kind!r}")
        if not np.isfinite(self.prob) or self.prob < 0:
            raise ValueError(f"move probability must be >= 0; got {self.prob}")
        if self.kind == "connected" and isinstance(self.T, (int, float, list, tuple, np.ndarray)) and not isinstance(self.T, bool):
            vals = np.atleast_1d(np.asarray(self.T, dtype=float))
            if vals.size == 0 or np.any(~np.isfinite(vals)) or np.any(vals < 0):
                raise ValueError(f"T must be finite and >= 0 (a number or a non-empty list); got {self.T!r}")

    def draw_T(self, rng) -> float:
        if self.kind == "disconnected":
            return float("nan")
        if self.adaptive:
            raise ValueError("an adaptive move (T='auto') takes its T from MetropolisHastings.run")
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
    check_support: refuse, before the first run, a proposal that gives zero probability to exact
                 samples of the target (check_support(); needs the target's exact MPS).
    """

    def __init__(self, target, proposal, moves="connected", T=1.0, noise: Noise | None = None,
                 observables=None, chi: int | None = None, connected_prob: float = 0.5, check_support: bool = True):
        self.target = None
        if callable(getattr(target, "log_weight", None)):
            self.target = target
            self.log_target = target.log_weight
            if observables is None and callable(getattr(target, "statistics", None)):
                observables = target.statistics
        elif callable(target):
            self.log_target = target
        else:
            raise ValueError(f"target must be a function X -> log pi or a model with .log_weight; got {type(target).__name__}")
        self.proposal = as_proposal(proposal, chi=chi)
        self.n_sites, self.d = self.proposal.n_sites, self.proposal.d
        self.noise = Flip(rate=1.0, d=self.d) if noise is None else noise
        self.diffusion = Diffusion(self.proposal, self.noise) if isinstance(self.proposal, MPSBase) else None
        self.moves = make_moves(moves, T, connected_prob)
        self.observables = observables
        self._support_checked = not check_support

    def __repr__(self) -> str:
        moves = ", ".join(f"{m.kind}" + (f" p={m.prob:g}" if len(self.moves) > 1 else "")
                          + (f" T={m.T!r}" if m.kind == "connected" else "") for m in self.moves)
        target = repr(self.target) if self.target is not None else getattr(self.log_target, "__name__", "function")
        return f"MetropolisHastings(target={target}, proposal={self.proposal!r}, moves=[{moves}], noise={self.noise!r})"

    # ---- one step ----------------------------------------------------------------------------
    def _log_pi(self, X) -> np.ndarray:
        out = np.asarray(self.log_target(X), dtype=float)
        if out.shape != (X.shape[0],):
            raise ValueError(f"target must return one log weight per configuration, shape ({X.shape[0]},); got {out.shape}")
        if np.any(np.isnan(out)) or np.any(out == np.inf):
            raise ValueError("target returned nan or +inf log weights")
        return out

    def propose(self, X, kind: str, T: float, rng, log_p=None):
        """Candidates x', their log P(x') and the log Hastings factor of the move (module docstring).

        The proposal contract: a tnddm MPS, or any object with n_sites, d, bond_dims,
        sample(n, seed) -> (X, log q) and log_prob(X) -> log q; connected moves also need
        connected_move(X, T, noise, rng) -> (X', log q(X'), log Hastings factor) unless the
        proposal is an MPS (then: noise, exact denoising, Hastings factor log P(x) - log P(x')).
        """
        if log_p is None:
            log_p = self.proposal.log_prob(X)
        if kind == "disconnected":
            Xn, lpn = self.proposal.sample(X.shape[0], seed=rng)
        elif callable(getattr(self.proposal, "connected_move", None)):
            return self.proposal.connected_move(X, T, self.noise, rng)
        else:
            Y = self.diffusion.forward(X, T, seed=rng)
            Xn, _, lpn = self.diffusion.denoise(Y, T, 0.0, seed=rng, return_log_prob=True)
        with np.errstate(invalid="ignore"):
            return Xn, lpn, np.asarray(log_p) - lpn

    def step(self, X, log_pi, log_p, kind: str, T: float, rng):
        """One MH step for all walkers; returns (X, log_pi, log_p, accepted).

        log alpha = min(0, log pi(x') - log pi(x) + log Hastings), -inf where pi(x') = 0.
        """
        Xn, lpn, hastings = self.propose(X, kind, T, rng, log_p)
        lpi_n = self._log_pi(Xn)
        la = log_alpha(lpi_n, log_pi, hastings)
        acc = np.log(rng.random(X.shape[0])) < la
        X = np.where(acc[:, None], Xn, X)
        return X, np.where(acc, lpi_n, log_pi), np.where(acc, lpn, log_p), acc

    # ---- the run -----------------------------------------------------------------------------
    def exact_model(self):
        """The target's exact MPS if the target is a lattice model whose exact MPS exists, else None."""
        t = self.target
        if t is None or not callable(getattr(t, "mps", None)) or not getattr(t, "exact_available", True):
            return None
        return t.mps()

    def initial_state(self, n_walkers: int, initial=None, rng=None):
        """Starting walkers (X, log pi, log P) from initial (see run); states with pi = 0 are refused."""
        if initial is None:
            initial = "exact" if self.exact_model() is not None else "proposal"
        if isinstance(initial, str):
            if initial not in INITIAL_STATES:
                raise ValueError(f"initial must be one of {INITIAL_STATES} or an array of configurations; got {initial!r}")
            source = self.exact_model() if initial == "exact" else self.proposal
            if source is None:
                raise ValueError("initial='exact' needs a target lattice model whose exact MPS exists; "
                                 "use initial='proposal' or pass configurations")
            X, _ = source.sample(n_walkers, seed=rng)
            X = np.array(X)  # a writable copy in the sampler's dtype (int8 for MPS samples)
            log_pi = self._log_pi(X)
            for _ in range(200):  # proposal samples with pi(x) = 0 are redrawn
                redo = np.flatnonzero(np.isneginf(log_pi))
                if redo.size == 0:
                    break
                X[redo] = source.sample(redo.size, seed=rng)[0]
                log_pi[redo] = self._log_pi(X[redo])
            log_p = self.proposal.log_prob(X)
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

    def check_support(self, n_check: int = SUPPORT_CHECK_SAMPLES) -> None:
        """Refuse a proposal that gives zero probability to exact samples of the target (where the exact
        MPS exists): its chains could not reach those states, and would look converged while biased.
        Checked once per sampler (tnddm.mcmc.importance.support_check)."""
        if getattr(self, "_support_checked", False) or self.target is None:
            return
        from .importance import support_check

        if self.exact_model() is not None:
            try:
                support_check(self.target, self.proposal, n_check=n_check, seed=0)
            except ValueError as exc:
                raise ValueError(str(exc).replace("importance sampling would be biased",
                                                  "Metropolis-Hastings chains could not reach those states")) from None
        self._support_checked = True

    def _pick(self, rng) -> int:
        """Index of the next move, drawn with probabilities m.prob: one uniform against their cumulative sum
        (the draw of rng.choice(len(moves), p=...), without its per-call overhead)."""
        cdf = np.cumsum([m.prob for m in self.moves], dtype=float)
        return min(int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right")), len(self.moves) - 1)

    def draw_schedule(self, n_moves: int, seed=None) -> list[tuple[str, float]]:
        """The state-independent move sequence: n_moves pairs (kind, T), T = nan for disconnected moves.

        Moves with T = 'auto' adapt T to the run and cannot be scheduled in advance.
        """
        if any(m.adaptive for m in self.moves):
            raise ValueError("moves with T='auto' adapt during burn-in and cannot be scheduled in advance; give T")
        rng = as_generator(seed)
        schedule = []
        for _ in range(check_nonnegative_int(n_moves, "n_moves")):
            move = self.moves[self._pick(rng)]
            schedule.append((move.kind, move.draw_T(rng)))
        return schedule

    def run(self, n_steps: int = 200, n_walkers: int = 64, initial=None, seed=None, burn_in="auto",
            max_steps: int | None = None, max_seconds: float | None = None, adapt_steps: int | None = None,
            target_acceptance: float = 0.4, progress: bool = False, schedule=None) -> Chain:
        """Run the chain of n_walkers walkers and return its recorded part as a Chain.

        Arguments:
            n_steps (int): recorded steps (with burn_in='auto': the minimum; the run goes on until converged).
            n_walkers (int): walkers advanced together.
            initial (str | array | None): 'exact' (exact samples of the target's exact MPS; the default where it exists),
                'proposal' (proposal samples; the default otherwise) or configurations (1 or n_walkers rows).
            burn_in (str | int): 'auto' (default): step until every observable has split R-hat < 1.01 and at
                least 50 tau_int recorded steps (stats.is_converged) on the part after the burn-in,
                trying burn-in lengths of 0 to 50 % of the steps after adaptation (at least
                BURN_TAUS tau unless the walkers start from exact samples), or until
                max_steps / max_seconds run out (then flagged not converged). An integer: a fixed
                run of burn_in unrecorded + n_steps recorded steps, judged by the same diagnostics.
            max_steps (int | None): step budget of the 'auto' run (default 100 * n_steps + adapt_steps).
            max_seconds (float | None): time budget of the 'auto' run (default: none).
            adapt_steps (int | None): steps at the start in which moves with T = 'auto' adapt log T towards
                target_acceptance (Robbins-Monro, gain (k + 1)^-0.6); T is then frozen, and these
                steps are always discarded. Default: 100 with 'auto', else all of burn_in.
            schedule (list | None): fixed move sequence (burn_in + n_steps pairs (kind, T), see draw_schedule) for
                walker groups run as separate tasks (tnddm.distributed); it fixes the run length
                (burn_in 'auto' becomes len(schedule) - n_steps).
        The Chain records, besides the observables of the recorded steps, chain.burn_in (steps
        discarded), chain.info['T'] (the frozen T of adaptive moves) and chain.info['stop'].
        """
        n_steps, n_walkers = check_positive(n_steps, "n_steps"), check_positive(n_walkers, "n_walkers")
        if isinstance(burn_in, str) and burn_in != "auto":
            raise ValueError(f"burn_in must be 'auto' or an integer >= 0; got {burn_in!r}")
        if schedule is not None and isinstance(burn_in, str):  # a schedule fixes the run length
            burn_in = len(schedule) - n_steps
            if burn_in < 0:
                raise ValueError(f"schedule holds {len(schedule)} moves, fewer than n_steps = {n_steps}")
        auto = isinstance(burn_in, str)
        adaptive = [i for i, m in enumerate(self.moves) if m.adaptive]
        if auto:
            adapt_steps = (100 if adaptive else 0) if adapt_steps is None else check_nonnegative_int(adapt_steps, "adapt_steps")
            max_steps = adapt_steps + 100 * n_steps if max_steps is None else check_positive(max_steps, "max_steps")
        else:
            burn_in = check_nonnegative_int(burn_in, "burn_in")
            adapt_steps = burn_in if adapt_steps is None else min(check_nonnegative_int(adapt_steps, "adapt_steps"), burn_in)
            max_steps = burn_in + n_steps
        if adaptive and adapt_steps == 0:
            raise ValueError("moves with T='auto' need adaptation steps: use burn_in='auto' or burn_in >= 1")
        if not 0.0 < float(target_acceptance) < 1.0:
            raise ValueError(f"target_acceptance must lie in (0, 1); got {target_acceptance}")
        if max_seconds is not None and not float(max_seconds) > 0:
            raise ValueError(f"max_seconds must be > 0; got {max_seconds}")
        if schedule is not None and (len(schedule) != burn_in + n_steps or any(k not in MOVE_KINDS for k, _ in schedule)):
            raise ValueError(f"schedule must hold burn_in + n_steps = {burn_in + n_steps} pairs (kind, T) with kind "
                             f"in {MOVE_KINDS}; got {len(schedule)} moves")
        self.check_support()
        rng = as_generator(seed)
        start = time.perf_counter()
        X, log_pi, log_p = self.initial_state(n_walkers, initial, rng)
        observe = self.observables if self.observables is not None else (lambda Z: {"log_target": self._log_pi(Z)})
        n_obs, records = len(record_observables(observe, X)), (adapt_steps if auto else burn_in) + n_steps
        check_allocation(2 * records * ((n_obs + 1) * (8 * n_walkers + 112) + 100),  # the tape, then the Chain's arrays
                         f"the record of {records} steps of {n_walkers} walkers ({n_obs} observables)")
        stationary = (initial is None and self.exact_model() is not None) or (isinstance(initial, str) and initial == "exact")
        log_T = {i: np.log(self.moves[i].T_start) for i in adaptive}
        T_trace = {i: [] for i in adaptive}
        tape = _Tape(n_walkers)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=max_steps, desc="mcmc", unit="step")
        stop, discard, t = "steps", burn_in if not auto else adapt_steps, 0
        next_check = adapt_steps + n_steps
        while t < max_steps:
            if schedule is not None:
                i, (kind, T) = None, schedule[t]
            else:
                i = self._pick(rng)
                move = self.moves[i]
                kind = move.kind
                T = float(np.exp(log_T[i])) if i in log_T else move.draw_T(rng)
            X, log_pi, log_p, acc = self.step(X, log_pi, log_p, kind, T, rng)
            if i in log_T and t < adapt_steps:  # Robbins-Monro on log T, burn-in only
                log_T[i] = float(np.clip(log_T[i] + (acc.mean() - target_acceptance) / (len(T_trace[i]) + 1) ** 0.6,
                                         *np.log(T_BOUNDS)))
                T_trace[i].append(log_T[i])
            t += 1
            if adaptive and t == adapt_steps:  # freeze: the mean log T of the second half of adaptation
                for j in adaptive:
                    tail = T_trace[j][len(T_trace[j]) // 2:]
                    log_T[j] = float(np.mean(tail)) if tail else log_T[j]
            tape.append(acc, kind, T, record_observables(observe, X))
            if bar is not None:
                bar.update(1)
            if not auto:
                continue
            if max_seconds is not None and time.perf_counter() - start > float(max_seconds):
                stop = "max_seconds"
                break
            if t >= next_check:
                found = tape.first_converged_discard(adapt_steps, n_steps, burn_taus=0.0 if stationary else BURN_TAUS)
                if found is not None:
                    discard, stop = found, "converged"
                    break
                next_check = t + max(n_steps // 2, (t - adapt_steps) // 4, 1)
        if bar is not None:
            bar.close()
        if auto and stop != "converged":  # the budget ran out: a last check, else discard the usual half
            found = tape.first_converged_discard(adapt_steps, n_steps, burn_taus=0.0 if stationary else BURN_TAUS)
            if found is not None:
                discard, stop = found, "converged"
            else:
                stop = "max_seconds" if stop == "max_seconds" else "max_steps"
                discard = min(adapt_steps + (t - adapt_steps) // 2, max(t - 4, 0))
        chain = tape.chain(discard, X, time.perf_counter() - start)
        chain.info.update({"moves": [(m.kind, m.prob, m.T if m.kind == "connected" else None) for m in self.moves],
                           "proposal_bond": max(self.proposal.bond_dims),
                           "burn_in": int(discard), "total_steps": int(t), "stop": stop,
                           "T": {f"{self.moves[j].kind}[{j}]": float(np.exp(log_T[j])) for j in adaptive},
                           "target_acceptance": float(target_acceptance) if adaptive else None})
        return chain


def scan_T(target, proposal, T_values, scheme: str = "connected", n_steps: int = 200, n_walkers: int = 64,
           noise: Noise | None = None, observable: str | None = None, seed=None, burn_in="auto",
           max_steps: int | None = None, max_seconds: float | None = None, progress: bool = False) -> list[dict]:
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
        chain = mh.run(n_steps, n_walkers, seed=child, burn_in=burn_in, max_steps=max_steps, max_seconds=max_seconds,
                       progress=progress)
        if not chain.observables:
            raise ValueError("scan_T needs observables: pass a lattice model or a target with .statistics")
        name = observable or next(iter(chain.observables))
        if name not in chain.observables:
            raise ValueError(f"observable {name!r} not recorded; have {sorted(chain.observables)}")
        s = chain.summary()[name]
        rows.append({"scheme": scheme, "T": T, "acceptance": chain.acceptance(), "tau": s["tau"],
                     "tau_stderr": s["tau_stderr"], "converged": s["converged"], "ess": s["ess"],
                     "ess_per_second": s["ess"] / max(chain.seconds, 1e-12), "observable": name, "mean": s["mean"],
                     "stderr": s["stderr"], "seconds": chain.seconds, "chain": chain})
    return rows


def plot_scan(rows, path, title: str = "") -> None:
    """PNG of acceptance and tau against T: connected rows as lines, disconnected as dashed levels.

    Rows sharing r['group'] (e.g. 'chi=8') share a colour.
    """
    from .._plotting import save_png, subplots

    fig, axes = subplots(1, 2, figsize=(9, 3.6))
    groups: dict = {}
    for r in rows:
        groups.setdefault(str(r.get("group", "")), []).append(r)
    for k, (group, rs) in enumerate(groups.items()):
        colour = f"C{k % 10}"
        conn = sorted((r for r in rs if not np.isnan(r["T"])), key=lambda r: r["T"])
        disc = [r for r in rs if np.isnan(r["T"])]
        for ax, key in zip(axes, ("acceptance", "tau")):
            err = (lambda r: r.get("tau_stderr", 0.0)) if key == "tau" else (lambda r: 0.0)
            if conn:
                ax.errorbar([r["T"] for r in conn], [r[key] for r in conn], yerr=[err(r) for r in conn], fmt="o-",
                            color=colour, capsize=3, label=f"{group} connected".strip())
            for r in disc:
                ax.axhline(r[key], ls="--", color=colour, label=f"{group} disconnected".strip())
                if err(r) > 0:
                    ax.axhspan(r[key] - err(r), r[key] + err(r), color=colour, alpha=0.15)
    for ax, key in zip(axes, ("acceptance", "integrated autocorrelation time (steps)")):
        ax.set_xscale("log")
        ax.set_xlabel("diffusion time T (units of 1 / noise rate)")
        ax.set_ylabel(key)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    save_png(fig, path)
