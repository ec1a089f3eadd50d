"""Training a non-negative 1-norm MPS by maximum likelihood: Adam on all cores, or two-site sweeps.

The model is always a valid tnddm.ProbMPS (non-negative cores, Z > 0), so exact sampling, exact
log-probabilities, noising / denoising and MH proposals work on it at every step.

adam:  cores A_i = exp(theta_i) elementwise; Adam (Kingma & Ba) on theta with the exact gradient
       dNLL/dtheta = A * dNLL/dA (tnddm.learn.nll). Updates are multiplicative in A: every weight
       moves by about a factor exp(lr) per step whatever its size, and no weight reaches zero, so
       P_theta(x) > 0 everywhere (a safe MH proposal and a finite KL(pi || P_theta)).
sweep: two-site sweeps (Han et al., PRX 8, 031012 (2018)) in the 1-norm form. For the bond
       (i, i+1): B = A_i A_{i+1}; em_steps expectation-maximisation updates
           B <- B * G_data / G_Z,   G_data = (1/n) sum_s d log W(x^s) / dB,  G_Z = d log Z / dB,
       which keep B >= 0 and never decrease the likelihood (with the environments fixed, the
       likelihood is that of a mixture with weights Lz B Rz, and this is EM for the weights);
       then split B by its truncated SVD (adaptive rank: singular values above cutoff * s_max of
       the Z-weighted table Lz B Rz, at most chi_max) into non-negative factors with a
       non-negative matrix factorisation (NNDSVD start, Boutsidis & Gallopoulos 2008, then
       Lee-Seung multiplicative updates of the I-divergence, the 1-norm analogue of the SVD
       error). Entries are floored at floor * (largest entry of the core) so that no
       configuration gets probability exactly zero.
"""
from __future__ import annotations

import time

import numpy as np

from .._checks import as_configs, check_nonnegative_int
from .._deprecation import warn_deprecated
from ..mps import ProbMPS
from ..mps.base import normalise_rows
from ..rng import as_generator, generator_from_state
from .nll import (
    _select_left,
    _select_right,
    cores_of,
    data_left_envs,
    data_right_envs,
    log_weights,
    log_z,
    nll_and_grad,
    norm_envs,
)

METHODS = ("adam", "sweep")


# ---- non-negative factorisation --------------------------------------------------------------
def nndsvd(M: np.ndarray, k: int, U=None, S=None, Vt=None):
    """Non-negative W (m, k), H (k, n) from the leading k singular triplets of M >= 0 (NNDSVDa)."""
    if U is None:
        U, S, Vt = np.linalg.svd(M, full_matrices=False)
    W = np.zeros((M.shape[0], k))
    H = np.zeros((k, M.shape[1]))
    for j in range(k):
        u, v = U[:, j], Vt[j]
        parts = []
        for su, sv in ((np.maximum(u, 0), np.maximum(v, 0)), (np.maximum(-u, 0), np.maximum(-v, 0))):
            nu, nv = np.linalg.norm(su), np.linalg.norm(sv)
            parts.append((nu * nv, su / nu if nu > 0 else su, sv / nv if nv > 0 else sv))
        sigma, u, v = max(parts, key=lambda p: p[0])
        W[:, j] = np.sqrt(S[j] * sigma) * u
        H[j] = np.sqrt(S[j] * sigma) * v
    fill = M.mean() / max(k, 1)
    W[W == 0] = np.sqrt(fill) if fill > 0 else 1e-12
    H[H == 0] = np.sqrt(fill) if fill > 0 else 1e-12
    return W, H


def nmf_kl(M: np.ndarray, W: np.ndarray, H: np.ndarray, steps: int = 50):
    """Lee-Seung multiplicative updates minimising the I-divergence D(M || W H) (W, H stay >= 0)."""
    tiny = 1e-300
    for _ in range(steps):
        Q = M / np.maximum(W @ H, tiny)
        H = H * (W.T @ Q) / np.maximum(W.sum(axis=0)[:, None], tiny)
        Q = M / np.maximum(W @ H, tiny)
        W = W * (Q @ H.T) / np.maximum(H.sum(axis=1)[None, :], tiny)
    return W, H


def adaptive_rank(S: np.ndarray, chi_max: int, cutoff: float) -> int:
    """Number of singular values above cutoff * S[0], between 1 and chi_max."""
    if S.size == 0 or S[0] <= 0:
        return 1
    return int(np.clip(np.count_nonzero(S > cutoff * S[0]), 1, chi_max))


def split_two_site_nonnegative(B, Lz, Rz, chi_max: int, cutoff: float, nmf_steps: int, floor: float, move: str):
    """Split B (chi_l, d, d, chi_r) >= 0 into non-negative A (chi_l, d, k), C (k, d, chi_r), A C ~ B.

    The factorisation acts on the Z-weighted table M = Lz[a] B[a, x, y, b] Rz[b] (sum = Z up to
    scale), so that weight is spent where the model puts probability. move = 'right' normalises
    A (its columns carry unit Z-weight) and moves the scale into C; 'left' the reverse.
    """
    cl, d, _, cr = B.shape
    lw = np.where(Lz > 0, Lz, 1.0)
    rw = np.where(Rz > 0, Rz, 1.0)
    M = (lw[:, None, None, None] * B * rw[None, None, None, :]).reshape(cl * d, d * cr)
    total = M.sum()
    M = M / total
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    k = adaptive_rank(S, chi_max, cutoff)
    W, H = nndsvd(M, k, U, S, Vt)
    W, H = nmf_kl(M, W, H, nmf_steps)
    A = W.reshape(cl, d, k) / lw[:, None, None]
    C = H.reshape(k, d, cr) / rw[None, None, :]
    A = np.maximum(A, floor * A.max())
    C = np.maximum(C, floor * C.max())
    if move == "right":  # unit Z-weight per column of A
        s = np.einsum("a,axk->k", lw, A)
        A, C = A / s[None, None, :], C * s[:, None, None]
    else:
        s = np.einsum("kyb,b->k", C, rw)
        A, C = A * s[None, None, :], C / s[:, None, None]
    return A, C


def split_two_site(*args, **kwargs):
    """Deprecated name of split_two_site_nonnegative (tnddm.mps.canonical.split_two_site_svd is the SVD split of a Born MPS)."""
    warn_deprecated("tnddm.learn.train.split_two_site", "split_two_site_nonnegative")
    return split_two_site_nonnegative(*args, **kwargs)


def em_two_site(B, l, r, x, y, Lz, Rz, steps: int):
    """EM updates B <- B * G_data / G_Z of the two-site tensor with fixed environments (module docstring).

    The data term is computed per observed pair (x_i, x_{i+1}) = (a, b): only the block B[:, a, b, :] enters
    those configurations' weights and gradients (d^2 times fewer operations than one product with all of B).
    """
    cl, d, _, cr = B.shape
    n = l.shape[0]
    idx = x * d + y
    parts = []
    for k in np.unique(idx):
        rows = np.flatnonzero(idx == k)
        parts.append((int(k) // d, int(k) % d, l[rows], r[rows]))
    GZ = (Lz[:, None] * Rz[None, :])[:, None, None, :]
    ok = GZ > 0
    for _ in range(steps):
        G = np.zeros_like(B)
        for a, b, la, ra in parts:
            v = np.einsum("nc,nc->n", la @ B[:, a, b, :], ra)
            if np.any(v <= 0):
                raise ValueError("a configuration of the data has W(x) = 0 under the model")
            G[:, a, b, :] = (la / v[:, None]).T @ ra
        G /= n
        z = float(Lz @ B.sum(axis=(1, 2)) @ Rz)
        B = np.where(ok, B * G * z / np.where(ok, GZ, 1.0), B)
    return B


# ---- the trainers ------------------------------------------------------------------------------
class EpochTrainer:
    """The epoch loop shared by the trainers: subclasses define train_epoch(X) -> NLL, max_bond(), config, history."""

    config: dict
    history: dict
    epoch: int

    def __repr__(self) -> str:
        cfg, hist = self.config, self.history
        keys = ("lr",) if cfg["method"] == "adam" else ("holdout",) if "holdout" in cfg else ()
        extra = "".join(f", {k}={cfg[k]:g}" for k in keys if cfg.get(k))
        nll = f", nll={hist['nll'][-1]:.4g}" if hist.get("nll") else ""
        return (f"{type(self).__name__}(method={cfg['method']!r}, n_sites={self.n_sites}, d={self.d}, "
                f"max_bond={self.max_bond()}, chi_max={cfg['chi_max']}{extra}, epoch={self.epoch}{nll})")

    def _restore_progress(self, meta: dict) -> None:
        """Epoch count, history and generator state from a state() metadata dict (KeyError if missing)."""
        self.epoch = int(meta["epoch"])
        self.history = {k: list(v) for k, v in meta["history"].items()}
        self.rng = generator_from_state(meta["rng_state"])

    def fit(self, X, epochs: int, progress: bool = False, callback=None) -> dict:
        """Run epochs more epochs on X; callback(trainer) after each (e.g. a checkpoint). Returns history."""
        epochs = check_nonnegative_int(epochs, "epochs")
        it = range(epochs)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"train ({self.config['method']})", unit="epoch")
        for _ in it:
            start = time.perf_counter()
            value = self.train_epoch(X)
            self.history["epoch"].append(self.epoch)
            self.history["nll"].append(value)
            self.history["max_bond"].append(self.max_bond())
            self.history["seconds"].append(time.perf_counter() - start)
            if progress:
                it.set_postfix(nll=f"{value:.4f}", chi=self.history["max_bond"][-1])
            if callback is not None:
                callback(self)
        return self.history


class Trainer(EpochTrainer):
    """Maximum-likelihood training of a ProbMPS on configurations (see the module docstring).

    model:      initial ProbMPS (or its cores); the trainer keeps its own copy.
    method:     'adam' (all cores, mini-batches) or 'sweep' (two-site EM + NMF split, adaptive bond).
    lr, betas:  Adam step size and moment decays (adam); the step size is lr * lr_decay**epoch. batch_size: mini-batch (adam) or the data
                subset used per sweep (sweep; None = all data).
    chi_max, cutoff, em_steps, nmf_steps, floor: sweep settings (module docstring).
    seed:       shuffles and subsets; the generator state is part of the checkpointed state.
    """

    def __init__(self, model, method: str = "adam", lr: float = 0.05, batch_size: int | None = 256,
                 chi_max: int = 16, cutoff: float = 1e-6, em_steps: int = 4, nmf_steps: int = 60,
                 floor: float = 1e-8, betas=(0.9, 0.999), lr_decay: float = 1.0, seed=None):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be > 0; got {lr}")
        if batch_size is not None and check_nonnegative_int(batch_size, "batch_size") < 1:
            raise ValueError(f"batch_size must be >= 1 or None; got {batch_size}")
        if check_nonnegative_int(chi_max, "chi_max") < 1:
            raise ValueError(f"chi_max must be >= 1; got {chi_max}")
        if not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must lie in (0, 1]; got {lr_decay}")
        if not 0 <= cutoff < 1:
            raise ValueError(f"cutoff must lie in [0, 1); got {cutoff}")
        if not 0 <= floor < 1:
            raise ValueError(f"floor must lie in [0, 1); got {floor}")
        cores = cores_of(model)
        if any(np.any(A < 0) for A in cores):
            raise ValueError("model must have non-negative cores")
        self.cores = [np.array(A, dtype=float) for A in cores]
        self.n_sites, self.d = len(self.cores), self.cores[0].shape[1]
        self.config = {"method": method, "lr": float(lr), "batch_size": batch_size, "chi_max": int(chi_max),
                       "cutoff": float(cutoff), "em_steps": int(em_steps), "nmf_steps": int(nmf_steps),
                       "floor": float(floor), "betas": [float(b) for b in betas],
                       "lr_decay": float(lr_decay)}
        self.rng = as_generator(seed)
        self.m = [np.zeros_like(A) for A in self.cores]
        self.v = [np.zeros_like(A) for A in self.cores]
        self.step_count = 0
        self.epoch = 0
        self.history: dict[str, list] = {"epoch": [], "nll": [], "max_bond": [], "seconds": []}

    @property
    def model(self) -> ProbMPS:
        """The current model as a ProbMPS."""
        return ProbMPS([A.copy() for A in self.cores])

    # ---- one update ------------------------------------------------------------------------------
    def adam_step(self, X) -> float:
        """One Adam step on theta = log A with the exact gradient on batch X; returns the batch NLL before it."""
        value, grads = nll_and_grad(self.cores, X)
        lr = self.config["lr"] * self.config["lr_decay"] ** self.epoch
        b1, b2 = self.config["betas"]
        self.step_count += 1
        t = self.step_count
        for i, (A, gA) in enumerate(zip(self.cores, grads)):
            g = A * gA  # dNLL / dtheta
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            mhat = self.m[i] / (1 - b1**t)
            vhat = self.v[i] / (1 - b2**t)
            with np.errstate(divide="ignore"):
                theta = np.log(A)
            self.cores[i] = np.exp(theta - lr * mhat / (np.sqrt(vhat) + 1e-12))
        self._renormalise()
        return value

    def _renormalise(self) -> None:
        """Divide every core by the N-th root of Z (P unchanged) so log Z stays near zero."""
        lz = log_z(self.cores)
        f = np.exp(-lz / self.n_sites)
        self.cores = [A * f for A in self.cores]

    def sweep(self, X) -> None:
        """One right and one left two-site sweep on X (module docstring)."""
        cfg = self.config
        cores, N = self.cores, self.n_sites
        if N < 2:
            raise ValueError("two-site sweeps need at least 2 sites")
        args = (cfg["chi_max"], cfg["cutoff"], cfg["nmf_steps"], cfg["floor"])
        n = X.shape[0]
        # right-moving sweep
        right, _ = data_right_envs(cores, X, downto=2)
        _, Rz = norm_envs(cores)
        l, Lz = np.ones((n, 1)), np.ones(1)
        for i in range(N - 1):
            B = np.einsum("axc,cyb->axyb", cores[i], cores[i + 1])
            B = em_two_site(B, l, right[i + 2], X[:, i], X[:, i + 1], Lz, Rz[i + 2][0], cfg["em_steps"])
            cores[i], cores[i + 1] = split_two_site_nonnegative(B, Lz, Rz[i + 2][0], *args, move="right")
            l, _ = normalise_rows(_select_left(cores[i], l, X[:, i]))
            Lz = normalise_rows((Lz @ cores[i].sum(axis=1))[None])[0][0]
        # left-moving sweep
        left, _ = data_left_envs(cores, X, upto=N - 2)
        Lzs, _ = norm_envs(cores)
        r, Rzv = np.ones((n, 1)), np.ones(1)
        for i in range(N - 2, -1, -1):
            B = np.einsum("axc,cyb->axyb", cores[i], cores[i + 1])
            B = em_two_site(B, left[i], r, X[:, i], X[:, i + 1], Lzs[i][0], Rzv, cfg["em_steps"])
            cores[i], cores[i + 1] = split_two_site_nonnegative(B, Lzs[i][0], Rzv, *args, move="left")
            r, _ = normalise_rows(_select_right(cores[i + 1], r, X[:, i + 1]))
            Rzv = normalise_rows((cores[i + 1].sum(axis=1) @ Rzv)[None])[0][0]
        self._renormalise()
        # bonds may have changed: Adam moments no longer match
        self.m = [np.zeros_like(A) for A in self.cores]
        self.v = [np.zeros_like(A) for A in self.cores]

    # ---- epochs --------------------------------------------------------------------------------
    def train_epoch(self, X) -> float:
        """One epoch on X: shuffled mini-batches of Adam steps, or one sweep pair; returns NLL on X after it."""
        X = as_configs(X, self.n_sites, self.d)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X must hold at least one configuration")
        bs = self.config["batch_size"] or n
        if self.config["method"] == "adam":
            order = self.rng.permutation(n)
            for a in range(0, n, bs):
                self.adam_step(X[order[a:a + bs]])
        else:
            sub = X if bs >= n else X[np.sort(self.rng.choice(n, bs, replace=False))]
            self.sweep(sub)
        self.epoch += 1
        return float(-np.mean(log_weights(self.cores, X)) + log_z(self.cores))

    def max_bond(self) -> int:
        return max(A.shape[2] for A in self.cores)

    # ---- state ---------------------------------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """(arrays, metadata) holding everything needed to continue bit for bit (tnddm.io.checkpoint)."""
        arrays = {}
        for i, A in enumerate(self.cores):
            arrays[f"core_{i:04d}"] = A
            arrays[f"adam_m_{i:04d}"] = self.m[i]
            arrays[f"adam_v_{i:04d}"] = self.v[i]
        meta = {"kind": "trainer", "n_sites": self.n_sites, "d": self.d, "config": self.config,
                "step_count": self.step_count, "epoch": self.epoch, "history": self.history,
                "rng_state": self.rng.bit_generator.state}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays: dict, meta: dict) -> "Trainer":
        """Rebuild a trainer from state() output."""
        try:
            N = int(meta["n_sites"])
            cores = [arrays[f"core_{i:04d}"] for i in range(N)]
            cfg = dict(meta["config"])
            tr = cls(cores, method=cfg["method"], lr=cfg["lr"], batch_size=cfg["batch_size"], chi_max=cfg["chi_max"],
                     cutoff=cfg["cutoff"], em_steps=cfg["em_steps"], nmf_steps=cfg["nmf_steps"], floor=cfg["floor"],
                     betas=tuple(cfg["betas"]), lr_decay=cfg.get("lr_decay", 1.0))
            tr.m = [np.array(arrays[f"adam_m_{i:04d}"]) for i in range(N)]
            tr.v = [np.array(arrays[f"adam_v_{i:04d}"]) for i in range(N)]
            tr.step_count = int(meta["step_count"])
            tr._restore_progress(meta)
        except KeyError as exc:
            raise ValueError(f"trainer state is missing field {exc.args[0]!r}") from None
        except (TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"trainer state has malformed metadata ({exc})") from None
        return tr


def fit(model, X, epochs: int = 50, method: str = "adam", progress: bool = False, seed=None, **options):
    """Train model on X for epochs epochs; returns (ProbMPS, history). Options: see Trainer."""
    tr = Trainer(model, method=method, seed=seed, **options)
    tr.fit(X, epochs, progress=progress)
    return tr.model, tr.history
