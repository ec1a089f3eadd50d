"""Born-machine training (tnddm.learn.BornTrainer) against enumeration."""
import numpy as np
import pytest

import tnddm
from tnddm.io import load_checkpoint, load_model, save_checkpoint, save_model
from tnddm.learn import BornTrainer
from tnddm.learn.born import _amplitudes, right_canonical

from .helpers import random_born


def exact_kl(p, model) -> float:
    q = model.to_dense()
    live = p > 0
    return float(np.sum(p[live] * (np.log(p[live]) - np.log(q[live]))))


def test_bond_objective_is_the_global_log_likelihood_and_its_gradient_is_2_G_minus_theta():
    """At bond (0, 1) of a right-canonical psi, f(theta) = mean log psi_s^2 - log ||theta||^2 differs from the
    exact mean log P(x_s) by a constant, and its gradient at ||theta|| = 1 is 2 (G - theta) (finite differences)."""
    N = 6
    cores = right_canonical(random_born(N, 3, 2, seed=1).cores)
    X, _ = tnddm.BornMPS(cores).sample(300, seed=2)
    l = np.ones((300, 1))
    r = np.ones((300, 1))
    for i in range(N - 1, 1, -1):
        r = np.einsum("anb,nb->na", cores[i][:, X[:, i], :], r)
    theta = np.einsum("axc,cyb->axyb", cores[0], cores[1])
    theta /= np.linalg.norm(theta)

    def f(th):
        psi, _ = _amplitudes(th, l, r, X[:, 0], X[:, 1], False)
        return np.mean(np.log(psi**2)) - np.log(np.sum(th**2))

    def exact(th):
        U, S, Vt = np.linalg.svd(th.reshape(2, -1), full_matrices=False)
        model = tnddm.BornMPS([U.reshape(1, 2, -1), (S[:, None] * Vt).reshape(-1, 2, cores[1].shape[2])] + cores[2:])
        return np.mean(model.log_prob(X))

    rng = np.random.default_rng(3)
    other = theta + 0.2 * rng.normal(size=theta.shape)
    assert np.isclose(f(other) - f(theta), exact(other) - exact(theta), rtol=1e-9, atol=1e-12)
    _, G = _amplitudes(theta, l, r, X[:, 0], X[:, 1], True)
    eps = 1e-6
    fd = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        e = np.zeros_like(theta)
        e[idx] = eps
        fd[idx] = (f(theta + e) - f(theta - e)) / (2 * eps)
    np.testing.assert_allclose(fd, 2 * (G - theta), atol=1e-6)


def test_born_sweeps_never_increase_the_nll_and_recover_a_bond4_born_mps():
    """Exact samples of a known bond-4 Born MPS with positive psi (like sqrt of a Boltzmann law), chi_max = 4,
    from the uniform product state: the training NLL never increases while chi is not binding, and
    KL(p || P_theta) < 1e-3 by enumeration (measured 6e-4 at 100,000 samples, 1.8e-4 at 300,000: the
    estimation floor). A target whose psi changes sign can stall higher (2.5e-3 measured): the data
    only show psi^2."""
    N = 8
    target = tnddm.BornMPS([np.abs(B) for B in random_born(N, 4, 2, seed=4).cores])
    p = target.to_dense()
    X, _ = target.sample(100_000, seed=5)
    loose = BornTrainer(n_sites=N, chi_max=16, seed=0)
    loose.fit(X[:5000], 3)
    assert np.all(np.diff(loose.history["nll"]) <= 1e-9), loose.history["nll"]
    tr = BornTrainer(n_sites=N, chi_max=4, seed=0)
    kl0 = exact_kl(p, tr.model)
    tr.fit(X, 2)
    assert max(tr.model.bond_dims) == 4  # grew adaptively from 1 and stopped at chi_max
    assert kl0 > 0.15  # the uniform start is far from the target
    assert exact_kl(p, tr.model) < 1e-3


def test_born_training_resumes_bit_for_bit_and_models_round_trip(tmp_path):
    X, _ = random_born(7, 3, 2, seed=6).sample(3000, seed=7)
    straight = BornTrainer(n_sites=7, chi_max=4, batch_size=1000, seed=1)
    straight.fit(X, 4)
    first = BornTrainer(n_sites=7, chi_max=4, batch_size=1000, seed=1)
    first.fit(X, 2)
    save_checkpoint(tmp_path / "state.npz", *first.state())
    resumed = BornTrainer.from_state(*load_checkpoint(tmp_path / "state.npz"))
    resumed.fit(X, 2)
    for a, b in zip(straight.cores, resumed.cores):
        np.testing.assert_array_equal(a, b)
    assert straight.history["nll"] == resumed.history["nll"]
    save_model(tmp_path / "born.npz", straight.model, {"note": "test"})
    model, meta = load_model(tmp_path / "born.npz")
    assert isinstance(model, tnddm.BornMPS) and meta["note"] == "test"
    np.testing.assert_allclose(model.log_prob(X[:50]), straight.model.log_prob(X[:50]), rtol=1e-12)


def test_held_out_guard_keeps_sweeps_from_fitting_sampling_noise():
    """Started at the target itself (a bond-4 positive Born MPS, N = 8, chi_max = 8) with only 400 samples,
    unguarded sweeps fit the noise and move away from p; with holdout = 0.25 each bond keeps a step only if
    it helps on the held-out quarter. Exact KL by enumeration."""
    N = 8
    target = tnddm.BornMPS([np.abs(B) for B in random_born(N, 4, 2, seed=4).cores])
    p = target.to_dense()
    X, _ = target.sample(400, seed=11)
    kls = {}
    for holdout in (0.0, 0.25):
        tr = BornTrainer(target, chi_max=8, holdout=holdout, seed=0)
        tr.fit(X, 2)
        kls[holdout] = exact_kl(p, tr.model)
    assert kls[0.0] > 0.05, kls  # the negative control: unguarded sweeps do overfit here
    assert kls[0.25] < 0.5 * kls[0.0], kls
    resumed = BornTrainer.from_state(*tr.state())
    assert resumed.config["holdout"] == 0.25


def test_born_trainer_rejects_bad_input():
    with pytest.raises(ValueError, match="n_sites"):
        BornTrainer()
    with pytest.raises(ValueError, match="chi_max"):
        BornTrainer(n_sites=4, chi_max=0)
    with pytest.raises(ValueError, match="ascent_steps"):
        BornTrainer(n_sites=4, ascent_steps=-1)
    with pytest.raises(ValueError, match="holdout"):
        BornTrainer(n_sites=4, holdout=1.0)
    with pytest.raises(ValueError, match="X"):
        BornTrainer(n_sites=4).fit(np.zeros((3, 5), int), 1)
    with pytest.raises(ValueError, match="left bond"):
        tnddm.BornMPS([np.ones((1, 2, 2)), np.ones((3, 2, 1))])


def test_cli_trains_a_born_mps_from_data_and_resumes(tmp_path, capsys):
    import json

    from tnddm.cli import main
    from tnddm.io import save_samples
    from tnddm.lattice import IsingChain

    card = tmp_path / "chain.toml"
    card.write_text('[model]\nkind = "ising_chain"\nn_sites = 10\nbeta = 0.5\n\n[train]\nchi_max = 3\nkl_samples = 2000\n')
    X, logp = IsingChain(n_sites=10, beta=0.5).sample(4000, seed=0)
    save_samples(tmp_path / "s.npz", X, logp, {"n": 4000})

    def run(*args):
        main(["train", str(card), "--data", str(tmp_path / "s.npz"), "--method", "born", "--holdout", "0.2", "--json", *args])
        return json.loads(capsys.readouterr().out)

    ck = str(tmp_path / "born.npz")
    full = run("--epochs", "3")
    run("--epochs", "2", "--checkpoint", ck)
    res = run("--epochs", "3", "--checkpoint", ck, "--resume")
    assert res["resumed"] and res["epochs"] == 3 and res["nll"] == full["nll"] and res["max_bond"] <= 3
    # the exact chain is a bond-2 automaton; its square root is a bond-2 Born MPS: KL at the data's noise level
    assert abs(res["kl"]) < 4 * res["kl_stderr"] + 0.01, res
    P, meta = load_model(ck)
    assert isinstance(P, tnddm.BornMPS) and meta["model"]["kind"] == "ising_chain"
    with pytest.raises(SystemExit) as exc:
        main(["train", str(card), "--data", str(tmp_path / "s.npz"), "--method", "adam", "--holdout", "0.2"])
    assert exc.value.code == 2 and "--holdout applies to --method born" in capsys.readouterr().err


def test_monte_carlo_training_loop_accepts_a_born_trainer_and_resumes():
    """The MC training loop with a Born MPS: rounds run, the KL to the exact model falls, and state() round-trips."""
    from tnddm.lattice import Fredkin
    from tnddm.learn import BornTrainer
    from tnddm.learn.loop import TrainingLoop

    target = Fredkin(10, 0.6)
    loop = TrainingLoop(target, BornTrainer(n_sites=10, d=2, chi_max=6, seed=0), walkers=256, mh_steps=2,
                        moves="disconnected", local_sweeps=20, kl_samples=1000, seed=1)
    history = loop.run(6)
    assert len(history["kl"]) == 6 and history["max_bond"][-1] <= 6
    assert history["kl"][-1] < 0.1 and history["acceptance"][-1] > 0.7, (history["kl"], history["acceptance"])
    arrays, meta = loop.state()
    again = TrainingLoop.from_state(arrays, meta)
    assert isinstance(again.trainer, BornTrainer) and again.round == 6
    np.testing.assert_allclose(again.trainer.model.log_prob(loop.walkers), loop.trainer.model.log_prob(loop.walkers))


def test_born_sweeps_lift_data_configurations_the_model_gives_zero_probability(monkeypatch):
    """A start with psi = 0 whenever x_3 = 1 (half of the data): f = -inf at every bond, so without cover_zeros no
    bond can move and the NLL stays infinite (negative control); with it one epoch makes it finite and close to
    that of a start without zeros."""
    import tnddm.learn.born as born

    X, _ = tnddm.ProbMPS.random(8, 2, seed=4).sample(2000, seed=5)
    assert 0.2 < X[:, 3].mean() < 0.8

    def start():
        cores = [np.full((1, 2, 1), 2 ** -0.5) for _ in range(8)]
        cores[3] = np.array([1.0, 0.0]).reshape(1, 2, 1)
        return cores

    assert np.isinf(-np.mean(tnddm.BornMPS(start()).log_prob(X)))  # the start misses half of the data
    smooth = BornTrainer(n_sites=8, chi_max=4, seed=0).train_epoch(X)
    lifted = BornTrainer(start(), chi_max=4, seed=0).train_epoch(X)
    assert np.isfinite(lifted) and lifted < smooth + 0.05, (lifted, smooth)
    monkeypatch.setattr(born, "cover_zeros", lambda theta, *args, **kw: theta)
    assert np.isinf(BornTrainer(start(), chi_max=4, seed=0).train_epoch(X))
