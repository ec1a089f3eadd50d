"""Dask execution: the result for a seed and task count does not depend on the number of workers."""
import numpy as np
import pytest

import tnddm
from tnddm import distributed
from tnddm.goodness_of_fit import chisquare_test


@pytest.fixture(scope="module")
def clients():
    with distributed.dask_client(n_workers=1) as one, distributed.dask_client(n_workers=2) as two:
        assert len(one.nthreads()) == 1 and len(two.nthreads()) == 2
        yield one, two


@pytest.fixture(scope="module")
def model():
    return tnddm.ProbMPS.random(8, 4, d=2, seed=7)


def test_two_workers_give_the_samples_of_one_worker_and_pass_chi_square(clients, model):
    one, two = clients
    X1, l1 = distributed.sample(model, 40_000, seed=11, tasks=6, client=one)
    X2, l2 = distributed.sample(model, 40_000, seed=11, tasks=6, client=two)
    assert X1.dtype == np.int64 and X1.shape == (40_000, 8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_allclose(l1, model.log_prob(X1), rtol=1e-12, atol=1e-12)
    _, p = chisquare_test(X2, model.to_dense(), 2)
    assert p > 1e-3
    # the tasks are the engine's own draws with SeedSequence.spawn children, in task order
    seeds = np.random.SeedSequence(11).spawn(6)
    first, _ = model.sample(distributed.split_sizes(40_000, 6)[0], seed=seeds[0])
    np.testing.assert_array_equal(X1[: len(first)], first)
    # and a different task count gives different (independent) draws
    X3, _ = distributed.sample(model, 40_000, seed=11, tasks=5, client=two)
    assert not np.array_equal(X3, X1)


def test_wrong_model_fails_the_chi_square_test(clients, model):
    """Negative control: samples of another MPS, drawn the same way, are rejected."""
    other = tnddm.ProbMPS.random(8, 4, d=2, seed=8)
    X, _ = distributed.sample(other, 40_000, seed=11, tasks=6, client=clients[1])
    _, p = chisquare_test(X, model.to_dense(), 2)
    assert p < 1e-6


def test_denoise_generate_and_walkers_do_not_depend_on_workers(clients):
    one, two = clients
    ising = tnddm.lattice.IsingCylinder(length=4, width=3, beta=0.44)
    P = ising.mps()
    ddm = tnddm.Diffusion(P, tnddm.noise.Flip(rate=1.0))
    Y = ddm.forward(P.sample(300, seed=1)[0], 0.4, seed=2)
    D = [distributed.denoise(ddm, Y, 0.4, seed=3, tasks=4, client=c) for c in clients]
    np.testing.assert_array_equal(D[0][0], D[1][0])
    np.testing.assert_allclose(D[0][1], ddm.log_transition(D[0][0], Y, 0.4), rtol=1e-10)
    G = [distributed.generate(ddm, 200, 0.5, 2, seed=4, tasks=3, client=c) for c in clients]
    np.testing.assert_array_equal(G[0][0], G[1][0])
    mh = tnddm.mcmc.MetropolisHastings(ising, P, moves="mixed", T=[0.2, 0.6], chi=2)
    chains = [distributed.run_mcmc(mh, 30, 24, seed=5, tasks=4, client=c) for c in clients]
    np.testing.assert_array_equal(chains[0].accepted, chains[1].accepted)
    np.testing.assert_array_equal(chains[0].observables["energy"], chains[1].observables["energy"])
    assert chains[0].accepted.shape == (30, 24) and 0 < chains[0].acceptance() < 1
    # one group of all walkers, run in-process with the same seeds, is the first task's chain widened
    seeds = np.random.SeedSequence(5).spawn(5)
    solo = mh.run(30, 6, seed=seeds[1], schedule=mh.draw_schedule(30, seeds[0]))
    np.testing.assert_array_equal(solo.accepted, chains[0].accepted[:, :6])


def test_bad_arguments_are_named(clients, model):
    with pytest.raises(ValueError, match="tasks"):
        distributed.sample(model, 10, seed=0, tasks=11, client=clients[0])
    with pytest.raises(ValueError, match="tilts"):
        distributed.sample(model, 10, seed=0, tilts=np.ones((3, 2)), client=clients[0])
    with pytest.raises(ValueError, match="scheduler"):
        with distributed.dask_client(scheduler="localhost"):
            pass
    assert distributed.split_sizes(10, 3) == [4, 3, 3]


def test_cli_sample_on_a_scheduler_address_and_on_a_local_cluster(clients, tmp_path, capsys):
    from tnddm.cli import main
    from tnddm.io import load_samples

    args = ["sample", "-n", "500", "--mode", "direct", "--seed", "9", "--tasks", "4", "--set", "model.length=5", "--set", "model.width=3"]
    address = clients[1].scheduler.address
    assert address.startswith("tcp://")
    for name, extra in (("a", ["--scheduler", address]), ("b", ["--workers", "1"])):
        try:
            main(args + extra + ["--out", str(tmp_path / f"{name}.npz")])
        except SystemExit as exc:
            assert exc.code == 0, capsys.readouterr().err
    a, b = load_samples(tmp_path / "a.npz"), load_samples(tmp_path / "b.npz")
    np.testing.assert_array_equal(a["samples"], b["samples"])
    assert a["metadata"]["dask"]["scheduler"] == address
    model = tnddm.lattice.IsingCylinder(length=5, width=3, beta=a["metadata"]["card"]["model"]["beta"])
    X, _ = distributed.sample(model, 500, seed=9, tasks=4, client=clients[0])
    np.testing.assert_array_equal(a["samples"], X)
    np.testing.assert_allclose(a["log_prob"], model.mps().log_prob(a["samples"]), rtol=1e-10)
