"""The Monte Carlo training loop (Causer, Rotskoff & Garrahan, arXiv:2407.11133).

Repeat for every round k:
  1. walkers take mh_steps Metropolis-Hastings steps targeting pi_k, with connected and
     disconnected moves proposed by the current model P_theta (tnddm.mcmc.MetropolisHastings);
     optionally local_sweeps sweeps of local moves (single-spin Metropolis for Ising, exchange
     moves for Fredkin) keep the walkers moving while P_theta is still poor; a walker to which
     P_theta gives probability zero (possible for a Born MPS) skips the MH stage of that round
     (reported as walkers_outside_model);
  2. the walkers' configurations join a replay buffer (the last buffer_rounds rounds);
  3. the model takes epochs_per_round NLL epochs (tnddm.learn.Trainer) on the buffer;
  4. the round reports acceptance (overall and per move kind), the NLL on the buffer and, when the
     model is exact, KL(pi_k || P_theta) = E_pi[log pi - log P_theta] estimated with kl_samples
     exact samples of pi_k (a fixed, separately seeded set per parameter value).
Annealing: pi_k is the target with one parameter (beta for Ising, c for Fredkin) moved linearly
from `start` to the target's value over the first anneal_rounds rounds, then held.
"""
from __future__ import annotations

import time

import numpy as np

from .._checks import as_configs, check_nonnegative_int
from ..divergences import kl_from_exact_samples, mean_and_stderr  # noqa: F401  (kl_from_exact_samples re-exported)
from ..rng import as_generator, generator_from_state
from .born import BornTrainer
from .train import EpochTrainer, Trainer

TRAINERS = {"1-norm": Trainer, "born": BornTrainer}  # trainer class by the model form recorded in its state


def __getattr__(name):
    if name == "ANNEAL_PARAMETER":  # deprecated: the models carry it (LatticeModel.anneal_parameter)
        from .._deprecation import warn_deprecated
        from ..lattice import MODELS

        warn_deprecated("tnddm.learn.loop.ANNEAL_PARAMETER", "model.anneal_parameter")
        return {kind: cls.anneal_parameter for kind, cls in MODELS.items() if cls.anneal_parameter is not None}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_initial(model, n_walkers: int, rng) -> np.ndarray:
    """Start walkers where pi > 0: the model's typical_state (uniform random spins; for Fredkin its most probable
    Dyck path, see Fredkin.typical_state), or uniform random states for a model without one."""
    if callable(getattr(model, "typical_state", None)):
        return model.typical_state(n_walkers, rng)
    return rng.integers(0, model.d, size=(n_walkers, model.n_sites))


def model_at(target, parameter: str, value: float):
    """The target model with one parameter changed (through its spec)."""
    from ..lattice import from_spec

    spec = target.to_spec()
    if parameter not in spec:
        raise ValueError(f"anneal parameter {parameter!r} is not a parameter of {spec.get('kind')}; have {sorted(spec)}")
    spec[parameter] = float(value)
    return from_spec(spec)


def local_moves(model, X, sweeps: int, rng) -> np.ndarray:
    """sweeps sweeps of the model's local Metropolis moves on every walker (Ising spins or Fredkin exchanges)."""
    from ..mcmc.local import local_update_of

    try:
        update = local_update_of(model)
    except ValueError:
        raise ValueError(f"local_sweeps > 0 needs an Ising or Fredkin model; got {getattr(model, 'kind', '')!r}") from None
    chain = update(model, 1, X.shape[0], sweeps_per_step=sweeps, initial=X, seed=rng, observables=lambda Z: {})
    return np.asarray(chain.state, dtype=np.int64)


class TrainingLoop:
    """Monte Carlo training loop (module docstring).

    target:        lattice model (tnddm.lattice) defining pi; exact=True computes KL with its exact MPS.
    trainer:       a tnddm.learn.Trainer (non-negative 1-norm MPS) or BornTrainer (Born MPS) holding P_theta.
    walkers, mh_steps, moves, T, connected_prob: the MH stage (tnddm.mcmc.MetropolisHastings).
    local_sweeps:  local-move sweeps per round after the MH stage (0 = none).
    epochs_per_round, buffer_rounds: the NLL stage.
    anneal:        None, or {'start': value, 'rounds': R, 'parameter': name (default beta / c)}.
    kl_samples:    exact samples for the KL estimate (0 = no KL). seed: MH and initial walkers.
    """

    def __init__(self, target, trainer: Trainer, walkers: int = 256, mh_steps: int = 10, moves="mixed",
                 T: float = 0.5, connected_prob: float = 0.5, local_sweeps: int = 0, epochs_per_round: int = 1,
                 buffer_rounds: int = 4, anneal: dict | None = None, exact: bool = True, kl_samples: int = 2000,
                 initial=None, seed=None):
        if not hasattr(target, "log_weight") or not hasattr(target, "to_spec"):
            raise ValueError(f"target must be a tnddm.lattice model; got {type(target).__name__}")
        if not isinstance(trainer, EpochTrainer):
            raise ValueError(f"trainer must be a tnddm.learn.Trainer or BornTrainer; got {type(trainer).__name__}")
        if (trainer.n_sites, trainer.d) != (target.n_sites, target.d):
            raise ValueError(f"trainer model has (N, d) = {(trainer.n_sites, trainer.d)}; the target has "
                             f"{(target.n_sites, target.d)}")
        self.target, self.trainer = target, trainer
        self.config = {"walkers": check_nonnegative_int(walkers, "walkers"), "mh_steps": check_nonnegative_int(mh_steps, "mh_steps"),
                       "moves": moves, "T": float(T), "connected_prob": float(connected_prob),
                       "local_sweeps": check_nonnegative_int(local_sweeps, "local_sweeps"),
                       "epochs_per_round": check_nonnegative_int(epochs_per_round, "epochs_per_round"),
                       "buffer_rounds": max(1, check_nonnegative_int(buffer_rounds, "buffer_rounds")),
                       "exact": bool(exact), "kl_samples": check_nonnegative_int(kl_samples, "kl_samples")}
        if self.config["walkers"] < 1:
            raise ValueError("walkers must be >= 1")
        if anneal is not None:
            if not isinstance(anneal, dict) or "start" not in anneal:
                raise ValueError("anneal must be None or a dict with 'start' (and optional 'rounds', 'parameter')")
            anneal = {"parameter": anneal.get("parameter", getattr(target, "anneal_parameter", None)),
                      "start": float(anneal["start"]), "rounds": int(anneal.get("rounds", 10))}
            if anneal["parameter"] is None:
                raise ValueError(f"anneal needs 'parameter' for a {target.kind} model")
            anneal["end"] = float(target.to_spec()[anneal["parameter"]])
            if anneal["rounds"] < 1:
                raise ValueError(f"anneal.rounds must be >= 1; got {anneal['rounds']}")
        self.config["anneal"] = anneal
        self.rng = as_generator(seed)
        n = self.config["walkers"]
        self.walkers = default_initial(target, n, self.rng) if initial is None else \
            as_configs(initial, target.n_sites, target.d, name="initial")
        if self.walkers.shape[0] == 1 and n > 1:
            self.walkers = np.repeat(self.walkers, n, axis=0)
        if self.walkers.shape[0] != n:
            raise ValueError(f"initial must have 1 or walkers = {n} rows; got {self.walkers.shape[0]}")
        self.buffer: list[np.ndarray] = []
        self.round = 0
        self.history: dict[str, list] = {k: [] for k in ("round", "parameter", "acceptance", "acceptance_connected",
                                                         "acceptance_disconnected", "walkers_outside_model", "nll",
                                                         "kl", "kl_stderr", "max_bond", "seconds")}
        self._kl_cache: dict = {}

    def __repr__(self) -> str:
        t, cfg, h = self.trainer, self.config, self.history
        last = ""
        if h["round"]:
            acc, kl, err = h["acceptance"][-1], h["kl"][-1], h["kl_stderr"][-1]
            last = f", acceptance={acc:.3f}" + (f", kl={kl:.4g} ± {err:.2g}" if kl == kl else "")
        return (f"TrainingLoop(target={self.target!r}, trainer={t.config['method']!r}, max_bond={t.max_bond()}, "
                f"walkers={cfg['walkers']}, round={self.round}{last})")

    # ---- annealing -----------------------------------------------------------------------------
    def parameter(self, k: int) -> float | None:
        a = self.config["anneal"]
        if a is None:
            return None
        f = min(1.0, (k + 1) / a["rounds"])
        return a["start"] + f * (a["end"] - a["start"])

    def target_at(self, k: int):
        a = self.config["anneal"]
        if a is None or self.parameter(k) == a["end"]:
            return self.target
        return model_at(self.target, a["parameter"], self.parameter(k))

    # ---- KL ----------------------------------------------------------------------------------
    def kl_estimate(self, model, pi) -> tuple[float, float]:
        """KL(pi || P) = E_pi[log pi - log P] from kl_samples exact samples of pi (fixed per pi); (mean, stderr)."""
        key = repr(pi)
        if key not in self._kl_cache:
            X, logp = pi.sample(self.config["kl_samples"], seed=12345)
            self._kl_cache = {key: (X, logp)}
        X, logp = self._kl_cache[key]
        return mean_and_stderr(logp - model.log_prob(X))

    # ---- one round ---------------------------------------------------------------------------
    def run_round(self) -> dict:
        """One round: MH stage, optional local moves, NLL stage, metrics (module docstring)."""
        from ..mcmc import MetropolisHastings

        cfg = self.config
        start = time.perf_counter()
        pi = self.target_at(self.round)
        model = self.trainer.model
        mh = MetropolisHastings(pi, model, moves=cfg["moves"], T=cfg["T"], connected_prob=cfg["connected_prob"],
                                observables=lambda Z: {}, check_support=False)  # a new model every round: its KL is monitored
        # A walker to which P_theta gives zero probability (a Born MPS can vanish on a configuration) cannot start a
        # chain proposed by P_theta: it skips this round's MH stage and moves by local moves only.
        X = self.walkers.copy()
        movable = np.isfinite(model.log_prob(X))
        chain = None
        if cfg["mh_steps"] and movable.any():
            chain = mh.run(cfg["mh_steps"], int(movable.sum()), initial=X[movable], seed=self.rng, burn_in=0)  # one fixed stage
            X[movable] = np.asarray(chain.state, dtype=np.int64)
        if cfg["local_sweeps"]:
            X = local_moves(pi, X, cfg["local_sweeps"], self.rng)
        self.walkers = X
        self.buffer = (self.buffer + [X])[-cfg["buffer_rounds"]:]
        data = np.concatenate(self.buffer)
        for _ in range(cfg["epochs_per_round"]):
            nll = self.trainer.train_epoch(data)
        model = self.trainer.model
        kl, kl_err = (float("nan"), float("nan"))
        if cfg["exact"] and cfg["kl_samples"] > 1:
            kl, kl_err = self.kl_estimate(model, pi)
        by_kind = chain.acceptance_by_kind() if chain is not None else {}
        row = {"round": self.round, "parameter": self.parameter(self.round),
               "acceptance": chain.acceptance() if chain is not None else float("nan"),
               "walkers_outside_model": int((~movable).sum()),
               "acceptance_connected": by_kind.get("connected", float("nan")),
               "acceptance_disconnected": by_kind.get("disconnected", float("nan")), "nll": nll, "kl": kl,
               "kl_stderr": kl_err, "max_bond": max(model.bond_dims), "seconds": time.perf_counter() - start}
        for k, v in row.items():
            self.history[k].append(v)
        self.round += 1
        return row

    def run(self, rounds: int, progress: bool = False, callback=None) -> dict:
        """Run rounds more rounds; callback(loop) after each (e.g. a checkpoint). Returns the history."""
        rounds = check_nonnegative_int(rounds, "rounds")
        it = range(rounds)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc="mc training", unit="round")
        for _ in it:
            row = self.run_round()
            if progress:
                it.set_postfix(acc=f"{row['acceptance']:.2f}", nll=f"{row['nll']:.3f}", kl=f"{row['kl']:.3g}")
            if callback is not None:
                callback(self)
        return self.history

    # ---- state ---------------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """(arrays, metadata): the trainer's state plus walkers, buffer, round, RNG and history."""
        arrays, tmeta = self.trainer.state()
        arrays["walkers"] = self.walkers.astype(np.int8 if self.target.d < 128 else np.int64)
        for j, B in enumerate(self.buffer):
            arrays[f"buffer_{j:04d}"] = B.astype(arrays["walkers"].dtype)
        meta = {"kind": "loop", "n_sites": tmeta["n_sites"], "trainer": tmeta, "loop": self.config,
                "target": self.target.to_spec(), "round": self.round, "n_buffer": len(self.buffer),
                "history": self.history, "rng_state": self.rng.bit_generator.state}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict, meta: dict, target=None) -> "TrainingLoop":
        """Rebuild a loop from state() output (target defaults to the recorded spec)."""
        from ..lattice import from_spec

        try:
            target = from_spec(dict(meta["target"])) if target is None else target
            trainer = TRAINERS[meta["trainer"].get("form", "1-norm")].from_state(arrays, meta["trainer"])
            cfg = dict(meta["loop"])
            anneal = cfg["anneal"]
            loop = cls(target, trainer, walkers=cfg["walkers"], mh_steps=cfg["mh_steps"], moves=cfg["moves"], T=cfg["T"],
                       connected_prob=cfg["connected_prob"], local_sweeps=cfg["local_sweeps"],
                       epochs_per_round=cfg["epochs_per_round"], buffer_rounds=cfg["buffer_rounds"],
                       anneal=None if anneal is None else {k: anneal[k] for k in ("parameter", "start", "rounds")},
                       exact=cfg["exact"], kl_samples=cfg["kl_samples"], initial=arrays["walkers"])
            loop.buffer = [np.asarray(arrays[f"buffer_{j:04d}"], dtype=np.int64) for j in range(int(meta["n_buffer"]))]
            loop.walkers = np.asarray(arrays["walkers"], dtype=np.int64)
            loop.round = int(meta["round"])
            recorded = {k: list(v) for k, v in meta["history"].items()}
            n_rows = len(recorded.get("round", []))
            loop.history = {k: recorded.get(k, [float("nan")] * n_rows) for k in loop.history} | recorded
            loop.rng = generator_from_state(meta["rng_state"])
        except KeyError as exc:
            raise ValueError(f"loop state is missing field {exc.args[0]!r}") from None
        except (TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"loop state has malformed metadata ({exc})") from None
        return loop


def plot_history(history: dict, path, title: str = "") -> None:
    """PNG of training curves: NLL, KL (if any) and acceptance against round or epoch."""
    from .._plotting import save_png, subplots

    x_name = "round" if "round" in history else "epoch"
    x = np.asarray(history[x_name])
    panels = [("nll", "NLL")]
    if "kl" in history and np.any(np.isfinite(np.asarray(history["kl"], dtype=float))):
        panels.append(("kl", "KL(pi || P_theta)"))
    if "acceptance" in history:
        panels.append(("acceptance", "acceptance"))
    fig, axes = subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    axes = np.atleast_1d(axes)
    for ax, (key, label) in zip(axes, panels):
        y = np.asarray(history[key], dtype=float)
        ax.plot(x, y, "-", color="C0", label=key)
        if key == "acceptance":
            for k2, c in (("acceptance_connected", "C1"), ("acceptance_disconnected", "C2")):
                if k2 in history:
                    ax.plot(x, np.asarray(history[k2], dtype=float), "--", color=c, label=k2.split("_")[1])
            ax.set_ylim(0, 1)
            ax.legend(fontsize=7)
        if key == "kl":
            ax.set_yscale("log")
        ax.set_xlabel(x_name)
        ax.set_ylabel(label)
    if title:
        fig.suptitle(title)
    save_png(fig, path)
