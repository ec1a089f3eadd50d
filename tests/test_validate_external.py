"""Validating outside samplers: outside samples, user kernels, the stable posterior oracle, the exact-metric limits."""
import itertools
import tracemalloc
import warnings

import numpy as np
import pytest

import tnddm
from tnddm.goodness_of_fit import all_configs, config_index
from tnddm.lattice import Fredkin, IsingChain, IsingCylinder
from tnddm.noise import Flip, Linear, Mask
from tnddm.validate import (
    ExactOracle,
    ExactProcess,
    PosteriorOracle,
    kappa,
    kernel,
    kl_split,
    output_law,
    path_kl_exact,
    path_kl_exact_paths,
    path_kl_mc,
    sample,
    score_samples,
    time_grid,
    time_of_kappa,
)

BETA_C = 0.44068679350977147


# ---- outside samples ------------------------------------------------------------------------------------------


def test_outside_samples_exact_pass_and_two_step_euler_fails_on_an_enumerable_model():
    """Ising chain N = 8: every exact number of the report against brute force; exact samples pass, Euler at
    2 steps fails (negative control), with its TV far above the exact-sample noise floor."""
    model = IsingChain(8, beta=0.6, h=0.2)
    p = model.mps().to_dense()
    X, _ = model.sample(4000, seed=11)
    rep = score_samples(model, X, seed=12)
    # brute force: empirical law, TV, KL, mean log P and -H
    emp = np.bincount(config_index(X, 2), minlength=p.size) / len(X)
    assert np.isclose(rep.tv, 0.5 * np.abs(emp - p).sum(), atol=1e-12)
    live = emp > 0
    assert np.isclose(rep.kl, np.sum(emp[live] * np.log(emp[live] / p[live])), atol=1e-12)
    assert np.isclose(rep.mean_log_prob, np.log(p[config_index(X, 2)]).mean(), atol=1e-10)
    assert np.isclose(rep.neg_entropy, -model.observables()["entropy"], atol=1e-10)  # enumeration vs log Z + beta <E>
    e = model.statistics(all_configs(8, 2))["energy"]
    assert np.isclose(rep.statistics["energy"]["reference"], p @ e, atol=1e-10)
    assert rep.enumerable and rep.n_impossible == 0
    assert rep.passed(1e-3), rep.report()
    assert abs(rep.tv - rep.tv_floor) < 4 * rep.tv_floor_std
    ddm = tnddm.Diffusion(model.mps(), Flip(1.0))
    bad = sample("euler", ExactOracle(ddm), 4000, time_grid(2, 3.0), seed=13).samples
    rep_bad = score_samples(model, bad, seed=12)
    assert not rep_bad.passed(1e-3)
    assert rep_bad.chi2_pvalue < 1e-6 and rep_bad.tv > rep_bad.tv_floor + 10 * rep_bad.tv_floor_std
    assert "FAILED" in rep_bad.report() and "PASSED" in rep.report()


def test_outside_samples_ising_16x8_statistics_only():
    """Ising cylinder 16 x 8 at beta_c (2^128 states): -H exact from the model's entropy; exact samples pass the
    log-probability and statistics tests, Euler at 2 steps fails them."""
    model = IsingCylinder(16, 8, beta=BETA_C)
    X, _ = model.sample(1500, seed=21)
    rep = score_samples(model, X, n_reference=3000, seed=22)
    assert not rep.enumerable and rep.chi2_pvalue is None and rep.neg_entropy_source == "exact entropy"
    assert set(rep.statistics) == set(model.statistics(X[:2]))
    assert rep.passed(1e-3), rep.report()
    ddm = tnddm.Diffusion(model.mps(), Flip(1.0))
    bad = sample("euler", ExactOracle(ddm), 1500, time_grid(2, 3.0), seed=23).samples
    rep_bad = score_samples(model, bad, n_reference=3000, seed=22)
    assert not rep_bad.passed(1e-3)
    assert rep_bad.log_prob_pvalue < 1e-10 and rep_bad.statistics["energy"]["two_sample_pvalue"] < 1e-10


def test_outside_samples_impossible_states_and_bad_input():
    model = Fredkin(8, 0.5)
    X, _ = model.sample(200, seed=1)
    X[0] = 1  # all up: not a Dyck path
    rep = score_samples(model, X, seed=2)
    assert rep.n_impossible == 1 and not rep.passed() and np.isinf(rep.kl)
    with pytest.raises(ValueError, match="samples"):
        score_samples(model, X[:, :5])
    with pytest.raises(ValueError, match="samples"):
        score_samples(model, X + 1)
    with pytest.raises(ValueError, match="n_reference"):
        score_samples(model, X, n_reference=1)
    with pytest.raises(ValueError, match="model"):
        score_samples("fredkin", X)
    with pytest.raises(ValueError, match="alpha"):
        rep.passed(2.0)


# ---- user kernels ---------------------------------------------------------------------------------------------


def _my_euler(diffusion):
    """Euler written from the model alone: q_i(b) = h beta(t) Q[x_i, b] P_t(x^{i<-b}) / P_t(x), clipped."""
    N, d = diffusion.n_sites, diffusion.d_out

    def step(X, t, s):
        Pt = diffusion.marginal(t)
        lp = Pt.log_prob(X)
        q = np.zeros(X.shape + (d,))
        for i in range(N):
            for b in range(d):
                Z = X.copy()
                Z[:, i] = b
                with np.errstate(invalid="ignore"):
                    ratio = np.exp(Pt.log_prob(Z) - lp)
                q[:, i, b] = (t - s) * diffusion.noise.beta(t) * diffusion.noise.Q[X[:, i], b] * ratio
        np.put_along_axis(q, X[:, :, None], 0.0, axis=2)
        stay = 1.0 - q.sum(axis=2)
        np.put_along_axis(q, X[:, :, None], stay[:, :, None], axis=2)
        q = np.clip(q, 0.0, None)
        return q / q.sum(axis=2, keepdims=True)

    return step


@pytest.mark.parametrize("noise", [Flip(1.0), Mask(1.0)], ids=["flip", "mask"])
def test_user_kernel_reimplementing_euler_matches_the_builtin(noise):
    model = IsingChain(5, beta=0.7, h=0.1)
    ddm = tnddm.Diffusion(model.mps(), noise)
    o = ExactOracle(ddm)
    mine = _my_euler(ddm)
    times = time_grid(5, 2.5, delta=0.05)
    a, b = output_law("euler", o, ddm, times), output_law(mine, None, ddm, times)
    np.testing.assert_allclose(b["law"], a["law"], atol=1e-12)
    same = lambda u, v: u == v or abs(u - v) < 1e-12  # noqa: E731  (both inf where Euler cannot reach a state)
    for key in ("kl_exact_sampler", "kl_sampler_exact", "tv"):
        assert same(a[key], b[key]), key
    pa, pb = path_kl_exact("euler", o, ddm, times), path_kl_exact(mine, None, ddm, times)
    for key in pa:
        assert same(pa[key], pb[key]), key
    assert np.isfinite(pa["kl_sampler_exact"]) and pa["kl_sampler_exact"] > 1e-3
    sa, sb = kl_split("euler", o, ddm, times), kl_split(mine, ddm, ddm, times)
    assert same(sa["sum"], sb["sum"])
    ma = path_kl_mc("euler", o, ddm, times, 300, seed=3, return_values=True)
    mb = path_kl_mc(mine, None, ddm, times, 300, seed=3, return_values=True)
    np.testing.assert_allclose(mb["values"], ma["values"], atol=1e-9)
    ea = path_kl_exact_paths(("euler",), o, ddm, times, 200, seed=4, return_values=True)["euler"]
    eb = path_kl_exact_paths((mine,), None, ddm, times, 200, seed=4, return_values=True)[mine]
    np.testing.assert_allclose(eb["values"], ea["values"], atol=1e-9, equal_nan=True)
    assert abs(ma["kl"] - pa["kl_sampler_exact"]) < 4 * ma["stderr"]


def test_user_kernel_in_the_old_order_warns_and_gives_the_same_numbers():
    """Deprecated for one release: a kernel whose first positional parameter is named `t` (kernel(t, s, X): a
    function, a lambda, a method, a callable object) is called in that order with one DeprecationWarning per kernel,
    pointing at the caller, and gives exactly the numbers of the same kernel written kernel(X, t, s). Negative
    control: kernels in the new order, with *args, or without an inspectable signature never warn (warnings are
    errors there)."""
    ddm = tnddm.Diffusion(IsingChain(4, beta=0.7, h=0.1).mps(), Mask(1.0))
    o = ExactOracle(ddm)
    times = time_grid(3, 2.0, delta=0.05)

    def new(X, t, s):
        return kernel("euler", o, X, t, s)

    def old(t, s, X):
        return kernel("euler", o, X, t, s)

    class Stepper:
        def step(self, t, s, X):
            return kernel("euler", o, X, t, s)

    class Opaque:  # inspect.signature raises: taken in the new order
        __signature__ = "not a signature"

        def __call__(self, X, t, s):
            return kernel("euler", o, X, t, s)

    def run(k):
        return (output_law(k, None, ddm, times), path_kl_exact(k, None, ddm, times),
                sample(k, ddm, 64, times, seed=5, keep_path=True))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = run(new)
        for k in (lambda X, t, s: new(X, t, s), lambda *a: new(*a), Opaque()):
            np.testing.assert_array_equal(output_law(k, None, ddm, times)["law"], ref[0]["law"])
    stepper = Stepper()
    for k, label in ((old, "old"), (lambda t, s, X: old(t, s, X), "kernel"), (stepper.step, "step")):
        with pytest.warns(DeprecationWarning) as rec:
            got = run(k)
            run(stepper.step if label == "step" else k)  # the same kernel again (a new bound method): no second warning
        msgs = [str(w.message) for w in rec if issubclass(w.category, DeprecationWarning)]
        assert len(msgs) == 1, msgs
        assert f"{label}(t, s, X) is deprecated" in msgs[0] and f"{label}(X, t, s)" in msgs[0], msgs[0]
        assert rec[0].filename == __file__, rec[0].filename  # the warning points at the user's call
        for key in ("law", "kl_exact_sampler", "kl_sampler_exact", "tv"):
            np.testing.assert_array_equal(got[0][key], ref[0][key])
        assert got[1] == ref[1]
        for field in ("samples", "path", "log_q"):
            np.testing.assert_array_equal(getattr(got[2], field), getattr(ref[2], field))
    assert ref[0]["kl_exact_sampler"] > 1e-3 and np.isfinite(ref[1]["kl_sampler_exact"])


def test_user_kernel_output_is_checked():
    ddm = tnddm.Diffusion(IsingChain(3, beta=0.5).mps(), Flip(1.0))
    times = time_grid(2, 1.0)

    def wrong_shape(X, t, s):
        return np.full(X.shape + (3,), 1 / 3)

    def negative(X, t, s):
        q = np.zeros(X.shape + (2,))
        q[..., 0], q[..., 1] = 1.5, -0.5
        return q

    def unnormalised(X, t, s):
        return np.full(X.shape + (2,), 0.7)

    for fn, msg in ((wrong_shape, "shape"), (negative, "non-negative"), (unnormalised, "summing to 1")):
        with pytest.raises(ValueError, match=msg):
            output_law(fn, None, ddm, times)
    with pytest.raises(ValueError, match="sampler"):
        sample("no_such_sampler", ddm, 4, times)
    with pytest.raises(ValueError, match="exact metrics"):
        output_law("uniformization", None, ddm, times)


# ---- the posterior oracle -------------------------------------------------------------------------------------


def _enumerated_posterior(P0, Y, table):
    """p(x^i = b | y) by enumeration: P(x) prod_i table[y_i, x_i] over all states x."""
    N, d = Y.shape[1], table.shape[1]
    X = np.array(list(itertools.product(range(d), repeat=N)))
    out = np.zeros(Y.shape + (d,))
    for r, y in enumerate(Y):
        w = P0 * np.prod(table[y[None, :], X], axis=1)
        for i in range(N):
            out[r, i] = np.bincount(X[:, i], weights=w, minlength=d) / w.sum()
    return out


def test_mask_posterior_is_exact_and_stable_at_every_time():
    """Mask noise: for 0 < t < inf the posterior is P_0 restricted to the unmasked values (independent of t);
    the issue's case [[0,2,...,2,1]] gave 0.7131 at t = 740 and NaN from t = 746."""
    model = IsingCylinder(3, 3, beta=BETA_C)
    ddm = tnddm.Diffusion(model.mps(), Mask(1.0))
    po = PosteriorOracle(ddm)
    rng = np.random.default_rng(0)
    Y = np.vstack([[0, 2, 2, 2, 2, 2, 2, 2, 1], [2] * 9, rng.integers(0, 3, size=(6, 9))])
    consistent = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # table[y, x]: data values pin x, the mask allows all
    exact = _enumerated_posterior(model.mps().to_dense(), Y, consistent)
    for t in (5.0, 700.0, 1000.0, np.inf):
        np.testing.assert_allclose(po.data_posterior(Y, t), exact, atol=1e-12, rtol=0)
        np.testing.assert_allclose(ExactOracle(ddm).exact_marginals(Y, t, 0.0)[:, :, :2], exact, atol=1e-12, rtol=0)
    assert abs(po.data_posterior(Y[:1], 740.0)[0, 1, 0] - 0.7112) < 1e-4
    np.testing.assert_allclose(po.data_posterior(Y, kappa=0.3), exact, atol=1e-12, rtol=0)
    # reverse-kernel marginals p(x_s^i | x_t) against the enumerated reverse kernel, finite t and t = inf
    small = tnddm.Diffusion(IsingChain(5, beta=0.8, h=0.3).mps(), Mask(1.0))
    proc, po2 = ExactProcess(small), PosteriorOracle(small)
    Ys = proc.states[[0, 40, 121, 200, 242]]
    for t, s in ((5.0, 0.5), (40.0, 1.0)):
        B = proc.reverse_kernel(t, s)
        got = po2.reverse_marginals(Ys, t, s)
        for r, y in enumerate(Ys):
            row = B[config_index(y[None], 3)[0]]
            for i in range(5):
                np.testing.assert_allclose(got[r, i], np.bincount(proc.states[:, i], weights=row, minlength=3),
                                           atol=1e-12)
    at_inf = po2.reverse_marginals(np.full((1, 5), 2), np.inf, 0.5)[0]
    np.testing.assert_allclose(at_inf, small.marginal(0.5).marginals(), atol=1e-12)


def test_flip_posterior_kappa_and_bad_input():
    model = IsingChain(6, beta=0.7, h=0.2)
    noise = Flip(1.5, schedule=Linear(0.2, 3.0, 1.0))
    ddm = tnddm.Diffusion(model.mps(), noise)
    po = PosteriorOracle(ddm)
    Y = ddm.marginal(0.4).sample(7, seed=3)[0]
    K = noise.propagator(0.4)
    np.testing.assert_allclose(po.data_posterior(Y, 0.4), _enumerated_posterior(model.mps().to_dense(), Y, K), atol=1e-12)
    k = kappa(noise, 0.4)
    np.testing.assert_allclose(K, k * np.eye(2) + (1 - k) / 2, atol=1e-14)  # the mixture form
    assert abs(time_of_kappa(noise, k) - 0.4) < 1e-10 and time_of_kappa(noise, 0.0) == np.inf
    np.testing.assert_allclose(po.data_posterior(Y, kappa=k), po.data_posterior(Y, 0.4), atol=1e-12)
    np.testing.assert_allclose(po.data_posterior(Y, np.inf), np.broadcast_to(model.mps().marginals(), Y.shape + (2,)),
                               atol=1e-12)
    with pytest.raises(ValueError, match="Y"):
        po.data_posterior(Y[:, :3], 0.4)
    with pytest.raises(ValueError, match="kappa"):
        po.data_posterior(Y, kappa=1.5)
    with pytest.raises(ValueError, match="t"):
        po.data_posterior(Y, -1.0)
    with pytest.raises(ValueError, match="exactly one"):
        po.data_posterior(Y)
    with pytest.raises(ValueError, match="probability zero"):
        PosteriorOracle(tnddm.Diffusion(Fredkin(6, 0.5).mps(), Mask(1.0))).data_posterior([[1, 1, 1, 1, 2, 2]], 1.0)


def test_masked_sampler_uses_the_mask_rate():
    """With the exact score the masked ancestral kernel equals the exact reverse marginals at any mask rate."""
    ddm = tnddm.Diffusion(IsingChain(4, beta=0.7, h=0.2).mps(), Mask(3.0))
    o = ExactOracle(ddm)
    Y = ddm.marginal(0.3).sample(20, seed=1)[0]
    np.testing.assert_allclose(kernel("masked", o, Y, 0.3, 0.1), o.exact_marginals(Y, 0.3, 0.1), atol=1e-12)


# ---- exact-metric limits --------------------------------------------------------------------------------------


def _dense_output_law(name, o, ddm, times):
    """Reference: whole step matrices A[x, x'] = prod_i q_i(x'_i | x) over all states."""
    X = all_configs(ddm.n_sites, ddm.d_out)
    q = np.prod([ddm.noise.stationary()[X[:, i]] for i in range(ddm.n_sites)], axis=0)
    for t, s in zip(times[:-1], times[1:]):
        k = kernel(name, o, X, t, s)
        A = np.array([[np.prod(k[x, np.arange(ddm.n_sites), X[y]]) for y in range(len(X))] for x in range(len(X))])
        q = A.T @ q
    return q


def test_output_law_blocks_match_dense_matrices_and_memory_is_flat_in_steps():
    ddm = tnddm.Diffusion(IsingChain(4, beta=0.8, h=0.2).mps(), Mask(1.0))
    o = ExactOracle(ddm)
    times = time_grid(3, 2.0)
    for name in ("euler", "tweedie", "masked"):
        np.testing.assert_allclose(output_law(name, o, ddm, times)["law"], _dense_output_law(name, o, ddm, times),
                                   atol=1e-14)
    big = tnddm.Diffusion(IsingChain(6, beta=0.8, h=0.2).mps(), Flip(1.0))  # 64 states, dense steps 32 kB each
    peaks = {}
    for steps in (4, 64):
        o = ExactOracle(big)
        tracemalloc.start()
        output_law("euler", o, big, time_grid(steps, 3.0, delta=1e-3))
        peaks[steps] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[64] < 1.3 * peaks[4], peaks
    assert peaks[64] < 64 * 64**2 * 8 / 4, peaks  # a quarter of what storing every step matrix takes


def test_state_caps_count_the_output_law_and_are_parameters():
    ddm = tnddm.Diffusion(IsingCylinder(3, 3, beta=BETA_C).mps(), Mask(1.0))
    ExactProcess(ddm)  # 512 output states, 3^9 process states: accepted
    with pytest.raises(ValueError, match="max_states"):
        ExactProcess(ddm, max_states=256)
    with pytest.raises(ValueError, match="max_process_states"):
        ExactProcess(ddm, max_process_states=3**8)
    with pytest.raises(ValueError, match="max_states"):
        output_law("euler", None, ddm, time_grid(2, 1.0), max_states=100)
    with pytest.raises(ValueError, match="max_states must be a positive integer"):
        ExactProcess(ddm, max_states=0)


def test_docs_page_code_blocks_run(tmp_path, monkeypatch, capsys):
    """Every python block of docs/validate_any_sampler.md runs (one namespace, top to bottom), and so does every
    `tnddm ...` console line."""
    import re
    import shlex
    from pathlib import Path

    from tnddm.cli import main

    text = (Path(__file__).resolve().parents[1] / "docs" / "validate_any_sampler.md").read_text()
    ns = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(block, "validate_any_sampler.md", "exec"), ns)
    assert ns["rep"].passed() is False  # the loop's last report is the 2-step Euler one
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").symlink_to(root / "models")
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("tnddm "):
                try:
                    main(shlex.split(line)[1:])
                except SystemExit as exc:
                    assert not exc.code, line
    out = capsys.readouterr().out
    assert '"passed": true' in out


def test_cli_takes_a_user_kernel_and_a_samples_file(tmp_path, capsys):
    """--sampler file.py:factory gives the built-in Euler numbers when the factory returns Euler's kernel;
    --samples scores a file written by `tnddm sample`; bad specs are clear errors (exit code 2)."""
    import json

    from tnddm.cli import main

    plugin = tmp_path / "plugin.py"
    plugin.write_text("from tnddm.validate import ExactOracle, kernel\n\n"
                      "def euler(diffusion):\n"
                      "    o = ExactOracle(diffusion)\n"
                      "    return lambda X, t, s: kernel('euler', o, X, t, s)\n\n"
                      "def euler_old_order(diffusion):\n"
                      "    o = ExactOracle(diffusion)\n"
                      "    return lambda t, s, X: kernel('euler', o, X, t, s)\n")
    args = ["validate", "models/ising_chain.toml", "--set", "model.n_sites=4", "--steps", "3,6", "--json"]
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    args[1] = str(root / args[1])
    main(args + ["--sampler", f"{plugin}:euler"])
    mine = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings(record=True) as rec:  # negative control: the new order is not flagged
        warnings.simplefilter("always")
        main(args + ["--sampler", f"{plugin}:euler"])
    assert not [w for w in rec if "kernel argument order" in str(w.message)]
    assert json.loads(capsys.readouterr().out) == mine
    with pytest.warns(DeprecationWarning, match=r"kernel\(t, s, X\) is deprecated.*kernel\(X, t, s\)"):
        main(args + ["--sampler", f"{plugin}:euler_old_order"])
    old = json.loads(capsys.readouterr().out)
    assert old["results"] == mine["results"]
    main(args + ["--sampler", "euler"])
    builtin = json.loads(capsys.readouterr().out)
    assert mine["sampler"].endswith(":euler") and len(mine["results"]) == 2
    for a, b in zip(mine["results"], builtin["results"]):
        for key in ("kl_exact_sampler", "tv", "path_kl", "path_kl_reverse"):  # null in JSON: infinite
            assert a[key] == b[key] or abs(a[key] - b[key]) < 1e-12, key
        assert a["kl_exact_sampler"] > 1e-3
    out = tmp_path / "s.npz"
    main(["sample", args[1], "--set", "model.n_sites=4", "-n", "3000", "--out", str(out), "--json"])
    capsys.readouterr()
    main(["validate", args[1], "--set", "model.n_sites=4", "--samples", str(out), "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert rep["passed"] is True and rep["chi2_pvalue"] > 1e-3
    for bad in (f"{plugin}:nothing", "no_such_module_xyz:f", f"{tmp_path / 'missing.py'}:f"):
        with pytest.raises(SystemExit) as exc:
            main(args + ["--sampler", bad])
        assert exc.value.code == 2
        assert "--sampler" in capsys.readouterr().err
