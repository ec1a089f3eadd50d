"""Old spellings kept for one release (issue 20): each still works, warns, and gives what the new spelling gives."""
import numpy as np
import pytest

from tnddm import BornMPS, Diffusion, ProbMPS
from tnddm.lattice import IsingChain
from tnddm.noise import Flip


def test_denoise_return_log_prior_is_return_log_prob():
    ddm = Diffusion(IsingChain(6, 0.4).mps(), Flip(1.0))
    Y = ddm.marginal(0.7).sample(20, seed=0)[0]
    new = ddm.denoise(Y, 0.7, 0.2, seed=3, return_log_prob=True)
    with pytest.warns(DeprecationWarning, match="return_log_prob"):
        old = ddm.denoise(Y, 0.7, 0.2, seed=3, return_log_prior=True)
    assert len(new) == len(old) == 3
    for a, b in zip(new, old):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(new[2], ddm.marginal(0.2).log_prob(new[0]), atol=1e-10)


def test_hyphenated_gaussian_sampler_names():
    from tnddm.gaussian import GaussianDiffusion
    from tnddm.validate.gaussian_samplers import GAUSSIAN_ALIASES, GAUSSIAN_SAMPLERS, run_gaussian, vp_grid

    assert set(GAUSSIAN_ALIASES.values()) <= set(GAUSSIAN_SAMPLERS)
    assert not any("-" in name for name in GAUSSIAN_SAMPLERS)
    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    for old, new in GAUSSIAN_ALIASES.items():
        with pytest.warns(DeprecationWarning, match=new):
            a = run_gaussian(old, gd, 50, vp_grid(4), seed=2)
        np.testing.assert_array_equal(a, run_gaussian(new, gd, 50, vp_grid(4), seed=2))
    with pytest.raises(ValueError, match="sampler must be one of"):
        run_gaussian("accel", gd, 5, vp_grid(4))


def test_renamed_helpers():
    from tnddm.learn import train
    from tnddm.validate import samplers

    q = np.full((4, 3, 2), 0.5)
    with pytest.warns(DeprecationWarning, match="draw_categorical"):
        old = samplers.draw(q, np.random.default_rng(0))
    np.testing.assert_array_equal(old, samplers.draw_categorical(q, np.random.default_rng(0)))
    B = np.random.default_rng(1).random((1, 2, 2, 1))
    args = (B, np.ones(1), np.ones(1), 2, 1e-12, 20, 1e-12)
    with pytest.warns(DeprecationWarning, match="split_two_site_nonnegative"):
        old = train.split_two_site(*args, move="right")
    for a, b in zip(old, train.split_two_site_nonnegative(*args, move="right")):
        np.testing.assert_array_equal(a, b)


def test_gaussian_sample_posterior_is_denoise():
    from tnddm.gaussian import GaussianDiffusion

    gd = GaussianDiffusion(IsingChain(4, 0.5).mps())
    x, _ = gd.marginal(0.3).sample(10, seed=1)
    with pytest.warns(DeprecationWarning, match="denoise"):
        old = gd.sample_posterior(x, 0.3, seed=2)
    for a, b in zip(old, gd.denoise(x, 0.3, seed=2)):
        np.testing.assert_array_equal(a, b)


def test_anneal_parameter_table_moved_to_the_models():
    from tnddm.lattice import MODELS
    from tnddm.learn import loop

    with pytest.warns(DeprecationWarning, match="anneal_parameter"):
        table = loop.ANNEAL_PARAMETER
    assert table["fredkin"] == "c" and table["ising_cylinder"] == "beta" and table["potts_cylinder"] == "beta"
    assert all(MODELS[kind].anneal_parameter == p for kind, p in table.items())


@pytest.mark.parametrize("make", [lambda: IsingChain(6, 0.4).mps(), lambda: ProbMPS.random(5, 3, seed=1),
                                  lambda: BornMPS([np.random.default_rng(2).normal(size=(1 if i == 0 else 2, 2, 1 if i == 4 else 2))
                                                   for i in range(5)])])
def test_log_norm_is_log_z(make):
    P = make()
    with pytest.warns(DeprecationWarning, match="log_z"):
        old = P.log_norm()
    assert old == P.log_z()


def test_learn_log_norm_is_log_z():
    import importlib

    from tnddm import learn

    nll = importlib.import_module("tnddm.learn.nll")  # (tnddm.learn.nll is the function nll)
    cores = ProbMPS.random(5, 3, seed=3).cores
    for module in (nll, learn):
        with pytest.warns(DeprecationWarning, match="log_z"):
            old = module.log_norm(cores)
        assert old == nll.log_z(cores) == learn.log_z(cores)


def test_mps_draw_is_draw_from_weights():
    from tnddm.mps import base, numerics

    rng = np.random.default_rng(4)
    weight, u = rng.random((50, 3)), rng.random(50)
    new = numerics.draw_from_weights(weight, u)
    for module in (numerics, base):  # base: the old import path
        with pytest.warns(DeprecationWarning, match="draw_from_weights"):
            old = module.draw(weight, u)
        for a, b in zip(old, new):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("move", ["right", "left"])
def test_mps_split_two_site_is_split_two_site_svd(move):
    from tnddm.mps import born, canonical

    theta = np.random.default_rng(5).normal(size=(2, 2, 2, 3))
    new = canonical.split_two_site_svd(theta, 2, 1e-12, move)
    for module in (canonical, born):  # born: the old import path
        with pytest.warns(DeprecationWarning, match="split_two_site_svd"):
            old = module.split_two_site(theta, 2, 1e-12, move)
        for a, b in zip(old, new):
            np.testing.assert_array_equal(a, b)


def test_born_bond_dims_is_bond_dims():
    P = BornMPS([np.random.default_rng(6).normal(size=(1 if i == 0 else 3, 2, 1 if i == 3 else 3)) for i in range(4)])
    with pytest.warns(DeprecationWarning, match="bond_dims"):
        old = P.born_bond_dims
    assert old == P.bond_dims == (1, 3, 3, 3, 1)
    assert P.env_dims == (1, 9, 9, 9, 1)


# ---- times-first library functions, now states first (detected by type: tnddm._deprecation.states_first) ----


def _exact_oracle():
    from tnddm.noise import Mask
    from tnddm.validate import ExactOracle

    ddm = Diffusion(IsingChain(5, 0.6, h=0.2).mps(), Mask(1.0))
    return ExactOracle(ddm), ddm.marginal(0.7).sample(12, seed=4)[0]


_MOVED = ["kernel:euler", "kernel:tau_leaping", "kernel:tweedie", "kernel:masked", "exact_marginals", "score",
          "reverse_rates", "denoiser_marginals"]


def _states_first_cases() -> dict:
    """label -> (new-order call, old-order call, match of the warning), for every function moved to states first."""
    from tnddm.validate import kernel

    o, Y = _exact_oracle()
    t, s = 0.7, np.float64(0.2)  # a Python float and a numpy scalar: both are times
    cases = {f"kernel:{name}": (lambda n=name: kernel(n, o, Y, t, s), lambda n=name: kernel(n, o, t, s, Y),
                                r"tnddm\.validate\.kernel\(name, oracle, X, t, s\)")
             for name in ("euler", "tau_leaping", "tweedie", "masked")}
    cases["exact_marginals"] = (lambda: o.exact_marginals(Y, t, s), lambda: o.exact_marginals(t, s, Y),
                                r"ExactOracle\.exact_marginals\(Y, t, s\)")
    cases["score"] = (lambda: o.score(Y, t), lambda: o.score(t, Y), r"ExactOracle\.score\(X, t\)")
    cases["reverse_rates"] = (lambda: o.reverse_rates(Y, t), lambda: o.reverse_rates(t, Y),
                              r"ExactOracle\.reverse_rates\(X, t\)")
    cases["denoiser_marginals"] = (lambda: o.denoiser_marginals(Y, t, s), lambda: o.denoiser_marginals(t, s, Y),
                                   r"ExactOracle\.denoiser_marginals\(X, t, s\)")
    assert sorted(cases) == sorted(_MOVED)
    return cases


@pytest.mark.parametrize("label", _MOVED)
def test_times_first_order_is_states_first_with_a_warning(label):
    """The old order (times first) gives exactly the new order's numbers with one DeprecationWarning naming the new
    call and pointing at this file; the new order raises no warning at all (negative control: warnings are errors)."""
    import warnings

    new_call, old_call, match = _states_first_cases()[label]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = new_call()
    with pytest.warns(DeprecationWarning, match=match) as rec:
        old = old_call()
    assert len(rec) == 1 and rec[0].filename == __file__, [(str(w.message), w.filename) for w in rec]
    assert new.ndim == 3
    np.testing.assert_array_equal(old, new)


def test_exact_marginals_keywords_and_the_tweedie_kernel():
    """Keyword calls need no reordering; with the exact score the Tweedie kernel is the exact reverse marginals."""
    import warnings

    from tnddm.validate import kernel

    o, Y = _exact_oracle()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        by_name = o.exact_marginals(t=0.7, s=0.2, Y=Y)
        np.testing.assert_array_equal(by_name, o.exact_marginals(Y, 0.7, 0.2))
        np.testing.assert_array_equal(kernel(name="tweedie", oracle=o, t=0.7, s=0.2, X=Y),
                                      kernel("tweedie", o, Y, 0.7, 0.2))
    np.testing.assert_allclose(kernel("tweedie", o, Y, 0.7, 0.2), by_name, atol=1e-10)


def test_states_first_detection_rule():
    """Old order iff the first argument is a scalar time (Python/numpy real, 0-d real array; not bool, str, None)
    and the last argument (the states in the old order) has ndim >= 1."""
    import warnings

    from tnddm._deprecation import is_time, states_first

    X = np.zeros((3, 4), dtype=int)
    for t in (1, 0.5, np.float32(0.5), np.int64(2), np.array(0.5), np.inf):
        assert is_time(t), t
    for t in (True, np.bool_(False), "0.5", None, np.array([0.5]), np.array("a"), X):
        assert not is_time(t), t
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # negative control: nothing here is the old order
        assert states_first(X, 0.5, where="f") == (X, 0.5)
        assert states_first(X, 0.5, 0.1, where="f") == (X, 0.5, 0.1)
        times = np.array([0.5, 0.4, 0.3])  # per-sample times in the new order: states are first, no swap
        got = states_first(X, times, where="f")
        assert got[0] is X and got[1] is times
        assert states_first(0.5, 0.1, where="f") == (0.5, 0.1)  # no states anywhere: left for the function to refuse
        assert states_first(True, X, where="f")[0] is True  # a bool is not a time
    for args in ((0.5, X), (0.5, 0.1, X), (np.array(0.5), [[0, 1]])):
        with pytest.warns(DeprecationWarning, match=r"f\(a, X, t") as rec:
            got = states_first(*args, where="f", before="a, ", stacklevel=2)
        old = ", ".join(("t", "s")[: len(args) - 1])
        assert len(rec) == 1 and f"f(a, {old}, X) is deprecated" in str(rec[0].message)
        assert len(got) == len(args) and all(a is b for a, b in zip(got, args[-1:] + args[:-1]))
