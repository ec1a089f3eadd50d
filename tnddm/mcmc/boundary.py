"""Column-by-column proposals for 2D grids with boundary-MPS environments (beyond exact sizes).

For a Grid2D model (L columns of W sites, pi ∝ exp(-beta E)) with site log-weights a[c, r, x],
vertical factors V_c,r(x, x') = exp(-beta vertical[c, r, x, x']) and horizontal factors
H_c,r(x, x') = exp(-beta horizontal[c, r, x, x']), the exact right environment of column c,

    E_c(x_c) = sum_{x_{c+1..L-1}} prod_{c' > c} [H_{c'-1}(x_{c'-1}, x_c') w_c'(x_c')],
    w_c(x) = prod_r exp(a[c, r, x_r]) prod_r V_c,r(x_r, x_{r+1}),

obeys E_{L-1} = 1 and E_{c-1}(y) = sum_x H_{c-1}(y, x) w_c(x) E_c(x): a W-site MPS whose bond grows
by a factor d per column. Keeping it as an MPS of bond <= chi (SVD truncation of the right-canonical
form, tnddm.mps.born.svd_truncation) gives approximate environments; with chi >= d^(W/2) nothing
is truncated and the environments are exact.

Sampling draws column c = 0..L-1 given the drawn column c-1, site by site (rows r = 0..W-1), from

    q(x_c,r | x_c,<r, x_<c) ∝ max(u, floor * max_x u),
    u(x) = V_c,r-1(x_c,r-1, x) exp(a[c, r, x]) H_c-1,r(x_c-1,r, x) * sum_{x_c,>r} (rest of the column) E_c(x_c),

the exact conditional of the small network "column c weights x approximate E_c" (right sums within
the column are contracted per sample; negative values from truncation are floored). log q(x) is
the sum of the logs of the conditionals actually used: q is a normalised law with exact
log-probabilities whatever chi, and Metropolis-Hastings corrects any truncation. For disconnected
moves the environments depend on the model only and are built once: a sample then costs
O(N d chi^2) (two passes over each column, one matrix-vector product per site).

Ring columns (Grid2D with periodic=True, a cylinder of circumference W): the ring bond
V_c,W-1(x_c,W-1, x_c,0) of every column is carried down the column by an extra bond index k = x_c,0
(dimension d): in the transfer step that builds E_{c-1} (bond d chi before compression) and in the
cores the kernel draws from (column_cores: bond chi d). The environment is still an open MPS; the
ring only costs a factor d in bond, and Metropolis-Hastings corrects whatever compression loses.

Site tilts (connected moves): q_y is the same construction for the tilted weight
pi(x) prod_i K_T(y_i | x_i), with environments built per walker (O(L W (d chi)^3) each).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .._uniforms import seeds as stream_seeds
from ..mps import sample_dtype
from ..mps.born import right_canonical, svd_truncation
from ..rng import as_generator
from ._boundary_kernel import (
    SMALL_BLOCK,
    draw_columns,
    pack_environments,
    pad_environments,
    site_tables,
    small_bond,
    small_kernel,
)

BLOCK = 32    # samples per block of the compiled kernel (site-major within a block)
FLOOR = 1e-12  # conditionals are floored at this fraction of their largest entry (full support)


def svd_compress(cores, chi: int) -> list[np.ndarray]:
    """tnddm's SVD truncation: right-canonical form by QR, then left-to-right truncated SVDs (bond <= chi)."""
    return svd_truncation(right_canonical(cores), chi)


def quimb_compress(cores, chi: int) -> list[np.ndarray]:
    """quimb's MatrixProductState.compress (canonicalise, then truncated SVDs) to bond <= chi."""
    import quimb.tensor as qtn

    arrays = [cores[0][0]] + list(cores[1:-1]) + [cores[-1][:, :, 0]] if len(cores) > 1 else [cores[0][0, :, 0]]
    mps = qtn.MatrixProductState(arrays, shape="lpr")
    mps.compress(max_bond=chi, cutoff=1e-15)
    mps /= mps.norm()
    out = [np.asarray(t.transpose(*[ix for ix in (mps.bond(i - 1, i) if i > 0 else None, mps.site_ind(i),
                                                  mps.bond(i, i + 1) if i < len(cores) - 1 else None) if ix]).data)
           for i, t in enumerate(mps)]
    out[0], out[-1] = out[0][None], out[-1][..., None]
    return out


COMPRESSORS = {"svd": svd_compress, "quimb": quimb_compress}  # boundary-MPS compression by name


def _block(n: int) -> int:
    """Samples per block: at most BLOCK, and at least one block per thread when n allows."""
    return max(1, min(BLOCK, -(-n // numba.get_num_threads())))


_POOL = {}  # the thread pool of _threaded ("pool", "workers"), made on first use


def _threaded(run_blocks, n_blocks: int) -> None:
    """run_blocks(first, last) over blocks 0..n_blocks-1, split in contiguous ranges over numba.get_num_threads()
    threads (the compiled kernel releases the GIL); serial when one thread or one block."""
    k = min(numba.get_num_threads(), n_blocks)
    if k <= 1:
        run_blocks(0, n_blocks)
        return
    if _POOL.get("workers", 0) < k:
        workers = max(k, numba.config.NUMBA_NUM_THREADS)
        _POOL.update(pool=ThreadPoolExecutor(workers, thread_name_prefix="tnddm-boundary"), workers=workers)
    cuts = np.linspace(0, n_blocks, k + 1).round().astype(int)
    for f in [_POOL["pool"].submit(run_blocks, int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:])]:
        f.result()


def _check_chi(chi) -> int:
    if isinstance(chi, bool) or int(chi) != chi or int(chi) < 1:
        raise ValueError(f"chi must be a positive integer; got {chi!r}")
    return int(chi)


class BoundaryProposal:
    """Column-by-column boundary-MPS proposal q for a tnddm.lattice.grid.Grid2D model (module docstring).

    Arguments:
        model (Grid2D): an IsingGrid, a PottsGrid or your own energy tables.
        chi (int): bond dimension of the boundary MPS (chi >= d^(W // 2) is exact).
        floor (float): conditionals are floored at floor * their largest entry, so q > 0 everywhere.
        progress (bool): show a progress bar while the environments are built.
        compress (str): boundary-MPS compression, a name of COMPRESSORS ('svd': tnddm's, the default;
            'quimb': quimb's MatrixProductState.compress; benchmarks/boundary_compression.py compares them).
    Implements the proposal contract of tnddm.mcmc.MetropolisHastings: sample(n, seed),
    log_prob(X) and connected_move(X, T, noise, rng).
    """

    def __init__(self, model, chi: int = 16, floor: float = FLOOR, progress: bool = False, compress: str = "svd"):
        for attr in ("site_log_weights", "vertical", "horizontal", "beta", "length", "width"):
            if not hasattr(model, attr):
                raise ValueError(f"model must be a tnddm.lattice.grid.Grid2D (missing .{attr}); got {type(model).__name__}")
        self.model, self.chi = model, _check_chi(chi)
        if not 0.0 <= float(floor) < 1.0:
            raise ValueError(f"floor must lie in [0, 1); got {floor}")
        self.floor = float(floor)
        if compress not in COMPRESSORS:
            raise ValueError(f"compress must be one of {sorted(COMPRESSORS)}; got {compress!r}")
        self.compress = COMPRESSORS[compress]
        self.L, self.W, self.d = model.length, model.width, model.d
        self.n_sites = self.L * self.W
        self.logV = -model.beta * model.vertical      # (L, W-1, d, d)
        self.logH = -model.beta * model.horizontal    # (L-1, W, d, d)
        self.a = model.site_log_weights()             # (L, W, d)
        self.periodic = bool(getattr(model, "periodic", False))
        W1 = max(self.W - 1, 0)
        Vall = np.exp(self.logV - self.logV.max(axis=(2, 3), keepdims=True)) if self.logV.shape[1] else self.logV
        self._V = np.ascontiguousarray(Vall[:, :W1]) if W1 else np.ones((self.L, 0, self.d, self.d))  # open bonds
        self._ring = Vall[:, W1] if self.periodic else None  # (L, d, d) ring bonds [x_{W-1}, x_0]
        self.envs = self.environments(self.a, progress=progress)
        self._kernel = self.kernel(self.envs)
        self._tables = site_tables(self.a, self.logH)

    @property
    def bond_dims(self) -> list[int]:
        """Largest boundary-MPS bond of each column's environment."""
        return [max(G.shape[2] for G in E) for E in self.envs]

    def __repr__(self) -> str:
        return f"BoundaryProposal({self.model!r}, chi={self.chi}, largest bond {max(self.bond_dims)})"

    # ---- environments ---------------------------------------------------------------------------
    def environments(self, a, progress: bool = False) -> list[list[np.ndarray]]:
        """E_c as lists of W cores (chi_r, d, chi_r+1), c = 0..L-1, for site log-weights a (L, W, d)."""
        L, W, d = self.L, self.W, self.d
        ones = np.ones((1, d, 1))
        envs = [None] * L
        envs[L - 1] = [ones] * W
        cols = range(L - 1, 0, -1)
        if progress:
            from tqdm.auto import tqdm

            cols = tqdm(cols, desc="boundary MPS", unit="column")
        for c in cols:
            cores = []
            for r in range(W):
                G = envs[c][r]
                g = np.exp(a[c, r] - a[c, r].max())
                H = np.exp(self.logH[c - 1, r] - self.logH[c - 1, r].max())  # [y, x]
                V = np.ones((1, d)) if r == 0 else self._V[c, r - 1]  # [x_prev, x]
                K = np.einsum("yx,px,x,axb->payxb", H, V, g, G)  # (prev, a, y, x, b)
                if self.periodic:  # carry k = x_{c,0} down the column to the ring bond (W-1, 0)
                    P, A, B = K.shape[0], G.shape[0], G.shape[2]
                    if r == 0:    # right bond (x, k = x, b)
                        K = np.einsum("payxb,xk->payxkb", K, np.eye(d)).reshape(P, A, d, d, d * B)
                    elif r < W - 1:  # left bond (p, j, a), right bond (x, k = j, b)
                        K = np.einsum("payxb,jk->pjayxkb", K, np.eye(d)).reshape(P * d, A, d, d, d * B)
                    else:         # the ring factor Vring(x, j) closes the carry
                        K = np.einsum("payxb,xj->pjayxb", K, self._ring[c]).reshape(P * d, A, d, d, B)
                if r == W - 1:
                    K = K.sum(axis=3)[..., None, :]  # the last row carries no vertical bond
                p, al, _, xs, b = K.shape
                cores.append(K.reshape(p * al, d, xs * b))
            envs[c - 1] = self.compress(cores, self.chi)
        return envs

    def column_cores(self, envs) -> list[list[np.ndarray]]:
        """The cores the kernel draws column c from: E_c, times the ring bond of column c if periodic
        (bonds (b, k) with the carry k = x_{c,0}: G'_0 = G_0 delta(k, x), G'_r = G_r delta(k, k'), G'_W-1 = G_W-1 Vring(x, k))."""
        if not self.periodic:
            return envs
        d, W, out = self.d, self.W, []
        for c, E in enumerate(envs):
            col = []
            for r, G in enumerate(E):
                if r == 0:
                    K = np.einsum("axb,xk->axbk", G, np.eye(d)).reshape(G.shape[0], d, -1)
                elif r < W - 1:
                    K = np.einsum("axb,jk->ajxbk", G, np.eye(d)).reshape(G.shape[0] * d, d, -1)
                else:
                    K = np.einsum("axb,xj->ajxb", G, self._ring[c]).reshape(G.shape[0] * d, d, -1)
                col.append(K)
            out.append(col)
        return out

    # ---- all columns (compiled kernel) ------------------------------------------------------
    def kernel(self, envs):
        """The compiled draw for environments envs: a function (wt, seeds, forced, use_forced, X, logq)
        running small_kernel on padded cores where the bond and the batch allow (d <= SMALL_STATES, bond <= 8,
        at least SMALL_BLOCK samples per thread), else draw_columns on packed cores
        (tnddm.mcmc._boundary_kernel: same conditionals, same draw rule)."""
        cores = self.column_cores(envs)
        chi = max(max(G.shape[0], G.shape[2]) for col in cores for G in col)
        small = small_bond(chi, self.d)
        V, floor = self._V, self.floor
        arrays = {}  # each kernel's environment arrays, built on its first use (one walker's draws need only one)

        def generic(wt, S, F, use_forced, X, logq):
            if "packed" not in arrays:
                arrays["packed"] = pack_environments(cores)
            data, offsets, shapes, chi_max = arrays["packed"]
            draw_columns(data, offsets, shapes, chi_max, wt, V, S, F, use_forced, floor, _block(X.shape[0]), X, logq)

        if small is None:
            return generic
        draw = small_kernel(self.d, small)

        def run(wt, S, F, use_forced, X, logq):
            n = X.shape[0]
            if n < SMALL_BLOCK * numba.get_num_threads():
                return generic(wt, S, F, use_forced, X, logq)
            if "padded" not in arrays:
                arrays["padded"] = pad_environments(cores, small, self.d)
            E = arrays["padded"]
            _threaded(lambda first, last: draw(E, wt, V, S, F, use_forced, floor, first, last, X, logq),
                      -(-n // SMALL_BLOCK))

        return run

    def _run(self, n, envs, a, rng=None, forced=None, kernel=None, tables=None):
        """Draw (or evaluate, if forced (n, N)) all columns left to right; returns (X (n, N), log q (n,)).

        envs: environments for site log-weights a (L, W, d); kernel: self.kernel(envs) (built here if not given);
        tables: site_tables(a, log H) (computed here if not given).
        """
        kernel = self.kernel(envs) if kernel is None else kernel
        wt = site_tables(np.asarray(a, dtype=float), self.logH) if tables is None else tables
        X = np.empty((n, self.n_sites), dtype=sample_dtype(self.d))  # int8, as MPS samples
        logq = np.empty(n)
        use_forced = forced is not None
        F = np.ascontiguousarray(np.asarray(forced, dtype=np.int64).reshape(n, -1).T) if use_forced else np.zeros((1, 1), np.int64)
        S = stream_seeds(rng, n) if not use_forced else np.zeros(1, np.uint64)  # one uniform stream per sample
        kernel(wt, S, F, use_forced, X, logq)
        return X, logq

    # ---- the proposal contract ------------------------------------------------------------------
    def sample(self, n: int, seed=None):
        """n independent draws and their exact log q (environments of the model, built once)."""
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        return self._run(n, self.envs, self.a, rng=as_generator(seed), kernel=self._kernel, tables=self._tables)

    def log_prob(self, X) -> np.ndarray:
        """Exact log q(X) of given configurations (n, N)."""
        X = self.model._configs(X)
        return self._run(X.shape[0], self.envs, self.a, forced=X, kernel=self._kernel, tables=self._tables)[1]

    def tilted(self, log_tilts, seed=None, forced=None):
        """Draws (or forced evaluations) of q for pi(x) prod_i tilt_i(x_i), one walker per row of
        log_tilts (n, N, d); environments are built per walker. Returns (X, log q_tilted)."""
        log_tilts = np.asarray(log_tilts, dtype=float)
        n = log_tilts.shape[0]
        if log_tilts.shape != (n, self.n_sites, self.d):
            raise ValueError(f"log_tilts must have shape (n, {self.n_sites}, {self.d}); got {log_tilts.shape}")
        rng = as_generator(seed)
        X = np.empty((n, self.n_sites), dtype=sample_dtype(self.d))
        logq = np.empty(n)
        for k in range(n):
            a = self.a + log_tilts[k].reshape(self.L, self.W, self.d)
            envs = self.environments(a)
            fk = None if forced is None else np.asarray(forced[k]).reshape(1, -1)
            X[k], logq[k] = (v[0] for v in self._run(1, envs, a, rng=rng, forced=fk))
        return X, logq

    def connected_move(self, X, T: float, noise, rng):
        """Noise y ~ K_T(.|x), x' ~ q_y (tilted by K_T(y_i|.)); returns (x', log q(x'), log Hastings factor)
        with log Hastings = [log K_T(y|x') - log K_T(y|x)] + [log q_y(x) - log q_y(x')]."""
        K = noise.propagator(T)[:, : self.d]  # K[y, x] = P(y | x)
        Y = noise.forward(X, T, seed=rng)
        with np.errstate(divide="ignore"):
            logK = np.log(K)
        tilts = logK[Y]  # (n, N, d): log K(y_i | x)
        n = X.shape[0]
        Xn = np.empty_like(X)
        lq_new, lq_old = np.empty(n), np.empty(n)
        for k in range(n):
            a = self.a + tilts[k].reshape(self.L, self.W, self.d)
            envs = self.environments(a)
            xk, lk = self._run(1, envs, a, rng=rng)
            Xn[k], lq_new[k] = xk[0], lk[0]
            lq_old[k] = self._run(1, envs, a, forced=X[k].reshape(1, -1))[1][0]
        idx = np.arange(self.n_sites)
        log_noise_new = tilts[np.arange(n)[:, None], idx[None, :], Xn].sum(axis=1)
        log_noise_old = tilts[np.arange(n)[:, None], idx[None, :], X].sum(axis=1)
        hastings = (log_noise_new - log_noise_old) + (lq_old - lq_new)
        return Xn, self.log_prob(Xn), hastings
