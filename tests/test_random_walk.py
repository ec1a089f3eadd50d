"""RandomWalk noise against brute-force enumeration (matrix exponential of the full generator)."""
import functools
import json

import numpy as np
import pytest
import scipy.linalg

import tnddm
from tnddm.goodness_of_fit import all_configs, chisquare_test
from tnddm.noise import Flip, Linear, RandomWalk, make_noise
from tnddm.validate import ExactOracle, ExactProcess, output_law, path_kl_exact, path_kl_mc, sample, time_grid


def random_model(n_sites, d, seed):
    p = np.random.default_rng(seed).dirichlet(np.ones(d**n_sites))
    return tnddm.ProbMPS.from_dense(p, d=d), p


def full_generator(Q, n_sites):
    """W = sum_i 1 x .. x Q_i x .. x 1 on the d^N configurations (site 0 most significant)."""
    d = Q.shape[0]
    eye = np.eye(d)
    return sum(functools.reduce(np.kron, [Q if j == i else eye for j in range(n_sites)]) for i in range(n_sites))


def test_rate_matrix_ring_and_line():
    ring = RandomWalk(5, rate=0.7, ring=True).Q
    line = RandomWalk(5, rate=0.7, ring=False).Q
    for Q in (ring, line):
        assert np.allclose(Q.sum(axis=0), 0) and np.allclose(Q, Q.T)
    assert ring[1, 0] == ring[4, 0] == 0.7 and ring[2, 0] == 0 and ring[0, 0] == -1.4
    assert line[1, 0] == 0.7 and line[4, 0] == 0 and line[0, 0] == -0.7 and line[2, 1] == line[0, 1] == 0.7
    assert np.allclose(RandomWalk(4, 1.0).stationary(), 0.25)
    assert np.allclose(RandomWalk(2, 0.5, ring=True).Q, Flip(1.0).Q)  # m = 2 ring: both neighbours coincide
    # the exact process moves by 2 within any step (the reason KL(exact || single-jump sampler) is infinite)
    h = 0.01
    assert np.isclose(RandomWalk(4, 1.0, ring=False).propagator(h)[2, 0], h**2 / 2, rtol=0.05)  # one two-jump path
    assert np.isclose(RandomWalk(4, 1.0, ring=True).propagator(h)[2, 0], h**2, rtol=0.05)  # two paths round the ring


@pytest.mark.parametrize("m, ring", [(4, True), (3, False)])
def test_marginals_and_reverse_kernels_against_enumeration(m, ring):
    N = 3
    P, p0 = random_model(N, m, seed=m)
    noise = RandomWalk(m, rate=0.8, ring=ring, schedule=Linear(0.2, 1.5, 1.0))
    ddm = tnddm.Diffusion(P, noise)
    W = full_generator(noise.Q, N)
    X = all_configs(N, m)
    law = lambda t: scipy.linalg.expm(noise.sigma(t) * W) @ p0  # noqa: E731
    for t in (0.0, 0.3, 1.1):
        assert np.allclose(ddm.marginal(t).to_dense(), law(t), atol=1e-13)
    t, s = 0.9, 0.4
    pt, ps = law(t), law(s)
    E = scipy.linalg.expm((noise.sigma(t) - noise.sigma(s)) * W)  # E[y, x] = P(x_t = y | x_s = x)
    B = E * ps[None, :] / pt[:, None]  # B[y, x] = P(x_s = x | x_t = y)
    assert np.allclose(B.sum(axis=1), 1)
    Y, Xs = np.repeat(X, len(X), axis=0), np.tile(X, (len(X), 1))
    got = np.exp(ddm.log_transition(Xs, Y, t, s)).reshape(len(X), len(X))
    assert np.allclose(got, B, atol=1e-12)
    assert np.allclose(ExactProcess(ddm).reverse_kernel(t, s), B, atol=1e-12)
    # reverse rates R(x -> x') = beta(t) W[x, x'] P_t(x') / P_t(x) for single-site moves x' = x^{i <- b}
    R = ddm.reverse_rates(X, t)
    idx = {tuple(x): k for k, x in enumerate(X)}
    for k, x in enumerate(X):
        for i in range(N):
            for b in range(m):
                if b == x[i]:
                    continue
                x2 = x.copy()
                x2[i] = b
                k2 = idx[tuple(x2)]
                assert np.isclose(R[k, i, b], noise.beta(t) * W[k, k2] * pt[k2] / pt[k], rtol=1e-10, atol=1e-14)
    # exact denoising draws from B (chi-square on one noised configuration); a one-step Euler does not
    y = X[7:8]
    draws, logp = ddm.denoise(np.repeat(y, 20000, axis=0), t, s, seed=1)
    assert np.allclose(logp, np.log(B[7][np.ravel_multi_index(draws.T, (m,) * N)]))
    assert chisquare_test(draws, B[7], m)[1] > 1e-3


def test_samplers_and_exact_metrics_with_random_walk_noise():
    """Exact-kernel sampling is exact; Euler's path KL is finite in the sampler || exact direction and
    infinite in the other (the exact reverse kernel moves a site by 2, a single-jump step cannot)."""
    m, N = 4, 3
    P, p0 = random_model(N, m, seed=0)
    ddm = tnddm.Diffusion(P, RandomWalk(m, 1.0))
    o = ExactOracle(ddm)
    exact = sample("exact_kernel", o, 20000, time_grid(3, 2.0), seed=1)
    assert chisquare_test(exact.samples, p0, m)[1] > 1e-3
    euler = sample("euler", o, 20000, time_grid(3, 2.0), seed=2)  # negative control: 3 Euler steps are biased
    assert chisquare_test(euler.samples, p0, m)[1] < 1e-6
    times = time_grid(16, 3.0, delta=0.05)
    pk = path_kl_exact("euler", o, ddm, times, start="exact")
    assert 0 < pk["kl_sampler_exact"] < np.inf and pk["kl_exact_sampler"] == np.inf
    fine = path_kl_exact("euler", o, ddm, time_grid(32, 3.0, delta=0.05), start="exact")["kl_sampler_exact"]
    assert 1.6 < pk["kl_sampler_exact"] / fine < 2.4  # first order
    law = output_law("euler", o, ddm, times, start="exact")
    assert np.isclose(law["law"].sum(), 1) and 0 < law["kl_exact_sampler"] < np.inf
    mc = path_kl_mc("euler", o, ddm, times, 4000, seed=3, start="exact")
    assert abs(mc["kl"] - pk["kl_sampler_exact"]) < 4 * mc["stderr"], (mc, pk)
    tw = path_kl_exact("tweedie", o, ddm, times, start="exact")  # Tweedie puts mass on every state: finite both ways
    assert np.isfinite(tw["kl_exact_sampler"]) and tw["kl_exact_sampler"] > 0


def test_make_noise_card_and_bad_input():
    rw = make_noise({"kind": "random_walk", "rate": 0.5, "ring": False, "schedule": "linear"}, d=5)
    assert isinstance(rw, RandomWalk) and rw.m == 5 and not rw.ring and rw.rate == 0.5
    assert make_noise(rw.to_dict(), d=5).to_dict() == rw.to_dict()
    assert make_noise("random_walk", d=3).m == 3
    for kwargs, name in (({"m": 1}, "m"), ({"m": 2.5}, "m"), ({"m": 3, "rate": 0.0}, "rate"),
                         ({"m": 3, "rate": -1.0}, "rate"), ({"m": 3, "ring": "yes"}, "ring")):
        with pytest.raises(ValueError, match=name):
            RandomWalk(**kwargs)
    with pytest.raises(ValueError, match="noise kind"):
        make_noise({"kind": "walk"})
    with pytest.raises(ValueError, match="d = 3"):
        tnddm.Diffusion(random_model(2, 4, 0)[0], RandomWalk(3))


def test_cli_sample_and_validate_with_random_walk_noise(tmp_path, capsys):
    from tnddm.cli import main

    card = tmp_path / "potts.toml"
    card.write_text("[model]\nkind = 'potts_cylinder'\nlength = 2\nwidth = 3\nq = 3\nbeta = 0.5\n"
                    "[noise]\nkind = 'random_walk'\nrate = 1.0\nring = true\n")
    for argv in (["sample", str(card), "--mode", "diffusion", "-n", "50", "--steps", "2", "--out", str(tmp_path / "s.npz"),
                  "--json"],
                 ["validate", str(card), "--sampler", "euler", "--steps", "4,8", "--delta", "0.05", "--json"]):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 0
    out = capsys.readouterr().out
    decoder, docs, pos = json.JSONDecoder(), [], 0
    while pos < len(out.rstrip()):  # the sample summary, then the validate summary
        doc, end = decoder.raw_decode(out, out.index("{", pos))
        docs.append(doc)
        pos = end
    assert len(docs) == 2
    rows = docs[1]["results"]
    assert rows[1]["path_kl"] < rows[0]["path_kl"] < np.inf
    assert rows[0]["path_kl_reverse"] in (None, float("inf")) or not np.isfinite(rows[0]["path_kl_reverse"])
    with pytest.raises(SystemExit):
        main(["sample", str(card), "--noise", "walk"])
