"""Issue 19: no data loss, no silent garbage, refuse what cannot fit before allocating it.

Table-driven: every bad input of the issue (CLI and API) must give a clear error of the right type
that names the argument (or file), with exit status 2 in the CLI, before any long work.
"""
from __future__ import annotations

import json
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import tnddm
from tnddm._memory import MemoryLimitError, check_allocation, memory_limit, parse_size
from tnddm.cli import main
from tnddm.io import load_checkpoint, load_model, load_samples, save_checkpoint, save_samples
from tnddm.io.files import TMP_SUFFIX, atomic_write, check_output_path, clean_stale_temporaries

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def run(argv, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small cards, a sample file of a 6-site Ising chain, a checkpoint and assorted bad files."""
    d = tmp_path_factory.mktemp("rel")
    f = {}
    f["chain"] = d / "chain.toml"
    f["chain"].write_text('[model]\nkind = "ising_chain"\nn_sites = 6\nbeta = 0.5\n\n[train]\nchi_max = 2\nkl_samples = 50\n'
                          '\n[sample]\nn_samples = 50\nmode = "direct"\n')
    f["fredkin"] = d / "fredkin.toml"
    f["fredkin"].write_text('[model]\nkind = "fredkin"\nn_sites = 6\nc = 0.5\n')
    model = tnddm.lattice.IsingChain(n_sites=6, beta=0.5)
    X, logp = model.sample(200, seed=1)
    f["data"] = d / "chain_samples.npz"
    save_samples(f["data"], X, logp, {"card": {"model": model.to_spec()}})
    f["ckpt"] = d / "model.npz"
    tnddm.io.save_model(f["ckpt"], tnddm.ProbMPS.random(6, 2, seed=0))
    f["binary"] = d / "binary.toml"
    f["binary"].write_bytes(bytes(range(256)) * 4)
    f["folder"] = d / "a_folder.npz"
    f["folder"].mkdir()
    f["plainfile"] = d / "plain.txt"
    f["plainfile"].write_text("x")
    f["dir"] = d
    f["readonly"] = Path("/proc/sys")  # no process, root included, can create files there
    return f


# ---- CLI: bad input -> exit 2 and a message naming the argument ------------------------------------
CLI_CASES = [
    # card schema: unknown keys and wrong types name the key
    (["sample", "--set", "sample.n_sample=5", "--out", "{dir}/o.npz"], "sample.n_sample"),
    (["sample", "--set", "sample.mode=teleport", "--out", "{dir}/o.npz"], "sample.mode"),
    (["sample", "--set", "sample.steps=2.7", "--out", "{dir}/o.npz"], "sample.steps"),
    (["sample", "--set", "model.beta=true", "--out", "{dir}/o.npz"], "model.beta"),
    (["info", "--set", "model.beta=[1,2]"], "model.beta"),
    (["info", "--set", "model.beta=abc"], "model.beta"),
    (["info", "--set", "noise.foo=1"], "noise.foo"),
    (["info", "--set", "noise.rate=abc"], "noise.rate"),
    (["info", "--set", 'noise.schedule={kind = "linear", foo = 1}'], "noise.schedule.foo"),
    (["info", "{chain}", "--set", "model.n_sites=2.5"], "model.n_sites"),
    (["info", "{binary}"], "binary.toml"),
    (["info", "{dir}"], "is a directory"),
    # options
    (["sample", "--seed", "-1", "--out", "{dir}/o.npz"], "--seed"),
    (["sample", "-n", "0", "--out", "{dir}/o.npz"], "--n-samples"),
    (["sample", "{chain}", "-n", "3", "--tasks", "5", "--out", "{dir}/o.npz"], "--tasks"),
    (["sample", "{chain}", "--workers", "0", "--out", "{dir}/o.npz"], "--workers"),
    (["info", "--n-samples", "-1"], "--n-samples"),
    (["info", "--seed", "-1"], "--seed"),
    (["info", "--max-memory", "lots"], "--max-memory"),
    (["validate", "{chain}", "--max-memory", "lots"], "--max-memory"),
    (["validate", "{chain}", "-n", "0"], "--n-samples"),
    (["mcmc", "{fredkin}", "--set", "mcmc.stepz=5"], "mcmc.stepz"),
    # outputs are checked before sampling: extension, folder, parent that is a file, over-long name, an input
    (["sample", "{chain}", "--out", "{dir}/x.csv"], "--out"),
    (["sample", "{chain}", "--out", "{folder}"], "--out"),
    (["sample", "{chain}", "--out", "{plainfile}/x.npz"], "--out"),
    (["sample", "{chain}", "--out", "{dir}/" + "n" * 300 + ".npz"], "--out"),
    (["sample", "{chain}", "--out", "{chain}"], "--out"),
    (["sample", "{chain}", "--out", "{readonly}/x.npz"], "not writable"),
    (["mcmc", "{fredkin}", "--steps", "10", "--walkers", "2", "--burn-in", "0", "--T", "0.5", "--out", "{fredkin}"], "--out"),
    (["mcmc", "{fredkin}", "--steps", "10", "--walkers", "2", "--burn-in", "0", "--T", "0.5", "--out", "{dir}/x.csv"], "--out"),
    (["mcmc", "{fredkin}", "--steps", "10", "--walkers", "2", "--burn-in", "0", "--T", "0.5", "--plot",
      "{readonly}/p.png"], "--plot"),
    (["validate", "{chain}", "--steps", "2", "--plot", "{readonly}/p.png"], "--plot"),
    (["train", "{chain}", "--data", "{data}", "--epochs", "1", "--plot", "{readonly}/p.png"], "--plot"),
    (["train", "{chain}", "--data", "{data}", "--checkpoint", "{folder}", "--resume"], "--checkpoint"),
    # memory estimates refuse before allocating
    (["sample", "-n", "100000000000", "--out", "{dir}/o.npz"], "100000000000 samples"),
    (["sample", "{chain}", "--mode", "diffusion", "--steps", "1000000000", "--max-memory", "1G", "--out", "{dir}/o.npz"],
     "time grid of 1000000000 steps"),
    (["info", "--set", "model.width=24"], "ising_cylinder"),
    (["info", str(ROOT / "models" / "potts_cylinder.toml"), "--set", "model.q=200"], "potts_cylinder"),
    (["sample", str(ROOT / "models" / "fredkin.toml"), "--set", "model.n_sites=100000", "--out", "{dir}/o.npz"], "fredkin"),
    (["sample", str(ROOT / "models" / "ising_chain.toml"), "--set", "model.n_sites=100000", "--mode", "diffusion",
      "--max-memory", "4G", "--out", "{dir}/o.npz"], "samples of 100000 sites"),
    (["info", "{chain}", "--set", "model.beta=1e300"], "beta"),
    (["validate", "{chain}", "--steps", "1000000000", "--max-memory", "1G"], "time grid of 1000000000 steps"),
    (["validate", "{chain}", "--steps", "2,1000000000", "--max-memory", "1G"], "time grid of 1000000000 steps"),
    (["validate", str(ROOT / "models" / "ising_chain.toml"), "--set", "model.n_sites=100000", "-n", "100000", "--steps",
      "4", "--max-memory", "4G"], "validating euler with --n-samples 100000"),
    (["mcmc", "{fredkin}", "--walkers", "4", "--steps", "10000000000", "--burn-in", "0", "--T", "0.5", "--max-memory",
      "4G"], "the record of 10000000000 steps"),
    (["mcmc", "{fredkin}", "--walkers", "1000000000", "--steps", "10", "--max-memory", "4G"], "1000000000 samples"),
    # train
    (["train", "{chain}", "--data", "{data}", "--epochs", "-3"], "--epochs"),
    (["train", "{chain}", "--data", "{data}", "--chi-max", "0"], "--chi-max"),
    (["train", "{chain}", "--data", "{data}", "--lr", "0"], "--lr"),
    (["train", "{chain}", "--data", "{data}", "--chi-max", "1000000"], "training an MPS of bond 1000000"),
    (["train", "{chain}", "--data", "{dir}/missing.npz"], "--data"),
    (["train", "{chain}", "--data", "{ckpt}"], "checkpoint"),
    (["train", "{chain}", "--data", "{folder}"], "folder"),
    (["train", "{fredkin}", "--data", "{data}"], "--data"),
    (["train", "{chain}", "--data", "{data}", "--checkpoint", "{dir}/ck.txt"], "--checkpoint"),
    (["train", "{chain}", "--data", "{data}", "--checkpoint", "{data}"], "--checkpoint"),
    (["train", "{chain}", "--data", "{data}", "--plot", "{plainfile}/p.png"], "--plot"),
    # Dask: a scheduler that refuses connections fails at once
    (["sample", "{chain}", "-n", "10", "--scheduler", "tcp://127.0.0.1:9", "--out", "{dir}/o.npz"], "scheduler"),
]


@pytest.mark.parametrize("argv, fragment", CLI_CASES, ids=[" ".join(c[0])[:60] for c in CLI_CASES])
def test_cli_bad_input_exits_2_naming_the_argument(argv, fragment, files, capsys):
    for key, value in files.items():
        argv = [a.replace("{" + key + "}", str(value)) for a in argv]
    before = {p.name: p.stat().st_mtime_ns for p in files["dir"].iterdir()}
    code, out, err = run(argv, capsys)
    assert code == 2, (argv, out, err)
    assert fragment in err, err
    assert "Traceback" not in err
    assert {p.name: p.stat().st_mtime_ns for p in files["dir"].iterdir()} == before  # nothing written or changed


def test_memory_refusal_gives_the_estimate_and_the_limit(capsys):
    start = time.perf_counter()
    code, _, err = run(["info", "--set", "model.width=30"], capsys)
    assert time.perf_counter() - start < 5
    assert code == 2 and "ising_cylinder" in err and "width=30" in err
    assert "would need about" in err and "TiB" in err and "the limit is" in err


# ---- API: bad input -> ValueError naming the argument --------------------------------------------------
def _chain():
    return tnddm.lattice.IsingChain(n_sites=6, beta=0.5)


def _ddm():
    P = _chain().mps()
    return tnddm.Diffusion(P, tnddm.noise.Flip(rate=1.0))


def _bad_meta_checkpoint(tmp_path):
    import hashlib

    path = tmp_path / "list_meta.npz"
    meta_text = json.dumps([1, 2, 3])
    h = hashlib.sha256(meta_text.encode()).hexdigest()  # a valid digest of the (empty) arrays and the metadata
    with open(path, "wb") as fh:
        np.savez(fh, __metadata__=np.array(meta_text), __sha256__=np.array(h))
    return path


API_CASES = [
    ("sample batch_size=-1", lambda t: _chain().mps().sample(5, seed=0, batch_size=-1), ValueError, "batch_size"),
    ("sample batch_size=2.5", lambda t: _chain().mps().sample(5, seed=0, batch_size=2.5), ValueError, "batch_size"),
    ("dense sample batch_size=0", lambda t: tnddm.ProbMPS.random(4, 2, seed=0).sample(5, batch_size=0), ValueError,
     "batch_size"),
    ("denoise batch_size=-1", lambda t: _ddm().denoise(np.zeros((4, 6), int), 0.5, seed=0, batch_size=-1), ValueError,
     "batch_size"),
    ("sparse zero tilts", lambda t: _chain().mps().sample(3, seed=0, tilts=np.zeros((6, 2))), ValueError, "tilts"),
    ("sparse per-sample zero tilts",
     lambda t: _chain().mps().sample(3, seed=0, tilts=np.concatenate([np.ones((2, 6, 2)), np.zeros((1, 6, 2))])),
     ValueError, "tilts"),
    ("fredkin tilts forbidding every Dyck path",
     lambda t: tnddm.lattice.Fredkin(n_sites=6, c=0.5).mps().sample(3, seed=0, tilts=np.tile([1.0, 0.0], (6, 1))),
     ValueError, "tilted"),
    ("dense zero tilts", lambda t: tnddm.ProbMPS.random(4, 2, seed=0).sample(3, tilts=np.zeros((4, 2))), ValueError,
     "tilts"),
    ("string tilts", lambda t: _chain().mps().sample(3, tilts=np.full((6, 2), "a")), ValueError, "tilts"),
    ("X strings", lambda t: _chain().mps().log_prob(np.array([["a"] * 6])), ValueError, "X"),
    ("X complex", lambda t: _chain().mps().log_prob(np.zeros((2, 6), complex)), ValueError, "X"),
    ("X None", lambda t: _chain().mps().log_prob(None), ValueError, "X"),
    ("X ragged", lambda t: _chain().mps().log_prob([[0, 1], [0]]), ValueError, "X"),
    ("model log_prob strings", lambda t: _chain().log_prob([["0"] * 6]), ValueError, "X"),
    ("t=[0.5]", lambda t: _ddm().denoise(np.zeros((2, 6), int), [0.5], seed=0), ValueError, "t"),
    ("marginal t='abc'", lambda t: _ddm().marginal("abc"), ValueError, "t"),
    ("generate steps=2.5", lambda t: _ddm().generate(5, 0.5, 2.5), ValueError, "steps"),
    ("generate time grid", lambda t: _grid_refused(), MemoryLimitError, "time grid"),
    ("IsingChain beta=1e300", lambda t: tnddm.lattice.IsingChain(n_sites=4, beta=1e300), ValueError, "beta"),
    ("IsingChain beta=True", lambda t: tnddm.lattice.IsingChain(n_sites=4, beta=True), ValueError, "beta"),
    ("IsingChain beta='abc'", lambda t: tnddm.lattice.IsingChain(n_sites=4, beta="abc"), ValueError, "beta"),
    ("IsingChain n_sites=2.5", lambda t: tnddm.lattice.IsingChain(n_sites=2.5, beta=0.5), ValueError, "n_sites"),
    ("Ising J=[1]", lambda t: tnddm.lattice.IsingStrip(length=3, width=2, beta=0.5, J=[1]), ValueError, "J"),
    ("from_spec kind=[1]", lambda t: tnddm.lattice.from_spec({"kind": [1]}), ValueError, "model.kind"),
    ("IsingCylinder width 30 mps", lambda t: tnddm.lattice.IsingCylinder(length=16, width=30, beta=0.4).mps(),
     MemoryLimitError, "ising_cylinder"),
    ("Fredkin 1e5 mps", lambda t: tnddm.lattice.Fredkin(n_sites=100000, c=0.5).mps(), MemoryLimitError, "fredkin"),
    ("Potts q=200 mps", lambda t: tnddm.lattice.PottsCylinder(length=10, width=5, q=200, beta=0.5).mps(),
     MemoryLimitError, "potts_cylinder"),
    ("validate time_grid 1e10", lambda t: tnddm.validate.time_grid(10**10, 1.0), MemoryLimitError, "time grid"),
    ("validate sample n=1e9", lambda t: tnddm.validate.sample("euler", _ddm(), 10**9, [1.0, 0.5, 0.0]),
     MemoryLimitError, "sampler euler: 1000000000 samples"),
    ("validate sample keep_path", lambda t: _limited("64M", lambda: tnddm.validate.sample(
        "euler", _ddm(), 10**5, tnddm.validate.time_grid(1000, 1.0), keep_path=True)), MemoryLimitError, "with their paths"),
    ("validate exact process", lambda t: _limited("1M", lambda: tnddm.validate.ExactProcess(_ddm())), MemoryLimitError,
     "exact process"),
    ("validate step matrices", lambda t: _step_matrix_refused(), MemoryLimitError, "step matrix on 64 x 64"),
    ("validate reverse kernel", lambda t: _limited("16K", tnddm.validate.ExactProcess(_ddm()).reverse_kernel, 1.0, 0.5),
     MemoryLimitError, "reverse kernel"),
    ("validate path KL n=1e9", lambda t: tnddm.validate.path_kl_exact_paths(("euler",), None, _ddm(), [1.0, 0.0], 10**9),
     MemoryLimitError, "path KL"),
    ("validate sample n=-1", lambda t: tnddm.validate.sample("euler", _ddm(), -1, [1.0, 0.0]), ValueError, "n must"),
    ("mcmc record of 1e10 steps", lambda t: _mh().run(10**10, 4, burn_in=0), MemoryLimitError, "the record of"),
    ("finite_range too large", lambda t: tnddm.lattice.finite_range(40, 2, 36, lambda i, w: np.zeros(len(w))),
     MemoryLimitError, "finite-range automaton"),
    ("sample n=1e11", lambda t: _chain().mps().sample(10**11, seed=0), MemoryLimitError, "100000000000 samples"),
    ("checkpoint metadata is a JSON list", lambda t: load_checkpoint(_bad_meta_checkpoint(t)), ValueError,
     "not a JSON object"),
    ("checkpoint path is a folder", lambda t: load_checkpoint(t), ValueError, "is a folder"),
    ("missing checkpoint", lambda t: load_model(t / "nope.npz"), ValueError, "does not exist"),
    ("samples from a checkpoint", lambda t: load_samples(_saved_checkpoint(t)), ValueError, "no array 'samples'"),
    ("output suffix", lambda t: check_output_path(t / "x.csv", (".npz",)), ValueError, "--out"),
    ("output is an input", lambda t: check_output_path(t / "c.npz", (".npz",), [t / "c.npz"]), ValueError, "input"),
    ("max_memory string", lambda t: check_allocation(10, "x", max_memory="lots"), ValueError, "max_memory"),
]


def _limited(limit, call, *args):
    with memory_limit(limit):
        return call(*args)


def _step_matrix_refused():
    from tnddm.validate.metrics import step_matrices

    ddm = _ddm()
    proc = tnddm.validate.ExactProcess(ddm)
    with memory_limit("10K"):
        next(step_matrices("euler", tnddm.validate.ExactOracle(ddm), [1.0, 0.5], proc))


def _mh():
    from tnddm.mcmc import MetropolisHastings

    model = tnddm.lattice.Fredkin(n_sites=6, c=0.5)
    return MetropolisHastings(model, model.mps())


def _grid_refused():
    with memory_limit("1M"):
        _ddm().generate(2, 0.5, 10**6)


def _saved_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    save_checkpoint(path, {"a": np.zeros(3)}, {"kind": "test"})
    return path


@pytest.mark.parametrize("name, call, exc, fragment", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input_raises_naming_the_argument(name, call, exc, fragment, tmp_path):
    with pytest.raises(exc) as info:
        call(tmp_path)
    assert fragment in str(info.value), str(info.value)
    assert isinstance(info.value, ValueError)  # MemoryLimitError is a ValueError too: the CLI exits 2


def test_valid_inputs_still_work():
    """The checks do not reject what is valid: float-valued integer X, numpy scalars, positive tilts."""
    P = _chain().mps()
    X, logp = P.sample(20, seed=0, batch_size=np.int64(7))
    np.testing.assert_array_equal(P.log_prob(X.astype(float)), P.log_prob(X))
    np.testing.assert_allclose(P.log_prob(X), logp, rtol=1e-6)  # the sampler's own log q (float32 tables)
    ddm = _ddm()
    Xs, lq = ddm.denoise(X, np.float64(0.5), seed=1, batch_size=8)
    np.testing.assert_allclose(lq, ddm.log_transition(Xs, X, 0.5), rtol=1e-10)
    Xt, _ = P.sample(5, seed=0, tilts=np.tile([0.0, 1.0], (6, 1)))
    assert np.all(Xt == 1)  # tilts that pin every site still sample the pinned configuration
    assert parse_size("1.5G") == int(1.5 * 2**30) and parse_size("500MB") == 500 * 10**6
    with memory_limit("1K"):
        with pytest.raises(MemoryLimitError, match="limit is 1 KiB"):
            check_allocation(2048, "two KiB")
    assert check_allocation(2048, "two KiB", max_memory=4096) == 2048


# ---- valid MPS with extreme cores ---------------------------------------------------------------------------
@pytest.mark.parametrize("exponent", [1020, -1070])
def test_mps_with_cores_near_1e308_or_subnormal_is_a_valid_distribution(exponent):
    """Cores 2^1020 (~1e307: a contraction step overflowed) or 2^-1070 (subnormal: steps lost their digits)
    give the same law, log-probabilities and samples as the unscaled cores, and log Z shifted exactly."""
    import warnings

    rng = np.random.default_rng(0)
    cores = [rng.integers(1, 8, (1 if i == 0 else 3, 2, 1 if i == 5 else 3)).astype(float) for i in range(6)]
    X = np.array([[0, 1, 0, 1, 1, 0], [1, 1, 1, 1, 1, 1]])
    w = np.tile([0.3, 0.7], (6, 1))
    shift = 6 * exponent * np.log(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or underflow warnings either
        for make in (tnddm.ProbMPS, tnddm.BornMPS):
            ref = make(cores)
            scale = exponent if make is tnddm.ProbMPS else exponent // 2  # Born weights are squares
            P = make([np.ldexp(A, scale) for A in cores])
            np.testing.assert_allclose(P.log_prob(X), ref.log_prob(X), rtol=1e-12)
            np.testing.assert_allclose(P.log_z(), ref.log_z() + (shift if make is tnddm.ProbMPS else
                                                                       12 * scale * np.log(2)), rtol=1e-13)
            Xs, lp = P.sample(50, seed=0)
            Xr, lr = ref.sample(50, seed=0)
            np.testing.assert_array_equal(Xs, Xr)
            np.testing.assert_allclose(lp, lr, rtol=1e-12)
        P, ref = tnddm.ProbMPS([np.ldexp(A, exponent) for A in cores]), tnddm.ProbMPS(cores)
        np.testing.assert_allclose(P.log_contract(w), ref.log_contract(w) + shift, rtol=1e-13)
        np.testing.assert_allclose(P.tilt(w).log_z(), ref.tilt(w).log_z() + shift, rtol=1e-13)
        ddm, ddr = (tnddm.Diffusion(M, tnddm.noise.Flip(rate=1.0)) for M in (P, ref))
        np.testing.assert_allclose(ddm.marginal(0.3).log_prob(X), ddr.marginal(0.3).log_prob(X), rtol=1e-12)
        F = tnddm.lattice.Fredkin(n_sites=8, c=0.5).mps()  # its automaton with small integer weights (exact when scaled)
        weights = [np.where(W > 0, 1.0 + np.arange(W.size).reshape(W.shape) % 5, 0.0) for W in F.weights]
        S, S2 = (tnddm.SparseMPS(F.next_states, [np.ldexp(W, e) for W in weights]) for e in (0, exponent))
        Xf, lf = S.sample(20, seed=0)
        np.testing.assert_array_equal(S2.sample(20, seed=0)[0], Xf)
        np.testing.assert_allclose(S2.log_prob(Xf), lf, rtol=1e-12)
        np.testing.assert_allclose(S2.log_z(), S.log_z() + 8 * exponent * np.log(2), rtol=1e-13)


def test_non_distributions_say_why():
    with pytest.raises(ValueError, match="Z = 0"):
        tnddm.ProbMPS([np.zeros((1, 2, 1)), np.ones((1, 2, 1))]).log_z()
    with pytest.raises(ValueError, match="Z < 0"):
        tnddm.ProbMPS([-np.ones((1, 2, 1)), np.ones((1, 2, 1))], check_nonnegative=False).log_z()


# ---- no data loss -----------------------------------------------------------------------------------------
def test_input_card_survives_out_pointing_at_it(files, capsys):
    toml = files["chain"]
    before = toml.read_bytes()
    code, _, err = run(["sample", toml, "--out", toml], capsys)
    assert code == 2 and "--out" in err and toml.read_bytes() == before
    card = files["dir"] / "card_named.npz"  # a TOML card whose name passes the .npz check
    card.write_bytes(before)
    code, _, err = run(["sample", card, "--out", card], capsys)
    assert code == 2 and "input of this run" in err and card.read_bytes() == before
    code, _, err = run(["train", toml, "--data", files["data"], "--checkpoint", files["data"]], capsys)
    assert code == 2 and "input of this run" in err
    mcmc = ["mcmc", "--steps", "10", "--walkers", "2", "--burn-in", "0", "--T", "0.5"]
    for path in (toml, card):
        code, _, err = run([mcmc[0], path, *mcmc[1:], "--out", path], capsys)
        assert code == 2 and "--out" in err and path.read_bytes() == before, err
    # the same file under another name (a symlink) is an input too
    link = files["dir"] / "link.npz"
    link.symlink_to(card)
    with pytest.raises(ValueError, match="input of this run"):
        check_output_path(link, (".npz",), inputs=[card])
    assert card.read_bytes() == before


def test_mismatched_resume_leaves_the_checkpoint_byte_identical(files, tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    code, _, err = run(["train", files["chain"], "--data", files["data"], "--epochs", "1", "--checkpoint", ck], capsys)
    assert code == 0, err
    before = ck.read_bytes()
    other = tmp_path / "chain8.toml"
    other.write_text('[model]\nkind = "ising_chain"\nn_sites = 8\nbeta = 0.5\n[train]\nkl_samples = 0\n')
    data8 = tmp_path / "d8.npz"
    m8 = tnddm.lattice.IsingChain(n_sites=8, beta=0.5)
    X8, l8 = m8.sample(50, seed=0)
    save_samples(data8, X8, l8, {"card": {"model": m8.to_spec()}})
    warm = tmp_path / "warm.toml"
    warm.write_text('[model]\nkind = "ising_chain"\nn_sites = 6\nbeta = 0.7\n[train]\nkl_samples = 0\n')
    data_warm = tmp_path / "dw.npz"
    mw = tnddm.lattice.IsingChain(n_sites=6, beta=0.7)
    Xw, lw = mw.sample(50, seed=0)
    save_samples(data_warm, Xw, lw, {"card": {"model": mw.to_spec()}})
    cases = [
        (["train", other, "--data", data8, "--epochs", "3", "--checkpoint", ck, "--resume"], "6 sites"),
        (["train", warm, "--data", data_warm, "--epochs", "3", "--checkpoint", ck, "--resume"], "beta"),
        (["train", files["chain"], "--data", files["data"], "--epochs", "3", "--checkpoint", ck, "--resume",
          "--method", "sweep"], "--method"),
        (["train", files["chain"], "--data", files["data"], "--epochs", "3", "--checkpoint", ck, "--resume",
          "--lr", "5"], "--lr"),
        (["train", files["chain"], "--data", files["data"], "--epochs", "3", "--checkpoint", ck, "--resume",
          "--seed", "4"], "--seed"),
        (["train", files["chain"], "--loop", "--rounds", "3", "--checkpoint", ck, "--resume"], "loop"),
    ]
    for argv, fragment in cases:
        code, _, err = run(argv, capsys)
        assert code == 2 and fragment in err, (argv, err)
        assert ck.read_bytes() == before, argv
    # the same flags as the original run resume fine
    code, out, err = run(["train", files["chain"], "--data", files["data"], "--epochs", "2", "--checkpoint", ck,
                          "--resume", "--seed", "0", "--method", "adam", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["epochs"] == 2 and json.loads(out)["resumed"] is True


# ---- zip bomb ---------------------------------------------------------------------------------------------
def _zip_bomb(path, name="samples.npy", gigabytes=15):
    """An .npz whose member declares `gigabytes` GB of zeros in ~1 MB of deflate per GB (no CRC: never read)."""
    n = gigabytes * 10**9 // 8
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0))
    header["shape"] = (n,)
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    head = buf.getvalue()
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(b"\0" * 2**20) + co.flush(zlib.Z_FULL_FLUSH)
    nblocks = n * 8 // 2**20
    tail = co.compress(b"\0" * (n * 8 - nblocks * 2**20)) + co.flush()
    usize = len(head) + n * 8
    csize = len(first) + nblocks * len(block) + len(tail)
    fname = name.encode()
    extra = struct.pack("<HHQQ", 1, 16, usize, csize)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(fname),
                             len(extra)) + fname + extra)
        fh.write(first)
        for _ in range(nblocks):
            fh.write(block)
        fh.write(tail)
        cd_offset = fh.tell()
        cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(fname),
                         len(extra), 0, 0, 0, 0, 0) + fname + extra
        fh.write(cd)
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), cd_offset, 0))
    return path


def test_zip_bomb_is_refused_fast_and_small(tmp_path):
    bomb = _zip_bomb(tmp_path / "bomb.npz")
    assert bomb.stat().st_size < 20 * 2**20
    import zipfile

    assert zipfile.ZipFile(bomb).infolist()[0].file_size > 15 * 10**9 - 1  # it really declares 15 GB
    script = textwrap.dedent(f"""
        import json, resource, time
        from tnddm.io import load_model, load_samples
        from tnddm.cli import main
        out = {{}}
        for name, call in (("load_model", lambda: load_model({str(bomb)!r})),
                           ("load_samples", lambda: load_samples({str(bomb)!r}))):
            t = time.perf_counter()
            try:
                call()
                out[name] = "loaded"
            except MemoryError as exc:
                out[name] = ["refused", isinstance(exc, ValueError), str(exc), time.perf_counter() - t]
        t = time.perf_counter()
        try:
            main(["train", {str(tmp_path / 'c.toml')!r}, "--data", {str(bomb)!r}])
        except SystemExit as exc:
            out["train"] = [exc.code, time.perf_counter() - t]
        # peak resident memory of this process image (VmHWM; ru_maxrss would count the forking pytest process)
        with open("/proc/self/status") as fh:
            out["maxrss_mb"] = [int(l.split()[1]) for l in fh if l.startswith("VmHWM:")][0] / 1024
        print(json.dumps(out))
    """)
    (tmp_path / "c.toml").write_text('[model]\nkind = "ising_chain"\nn_sites = 6\nbeta = 0.5\n')
    env = {**ENV, "TNDDM_MAX_MEMORY": "4G"}  # a 4 GB machine: the 15 GB the bomb declares cannot fit
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for name in ("load_model", "load_samples"):
        status, is_value_error, message, seconds = out[name]
        assert status == "refused" and is_value_error and "bomb.npz" in message and "GiB" in message, out
        assert seconds < 5, out
    assert out["train"][0] == 2 and out["train"][1] < 5, out
    assert out["maxrss_mb"] < 500, out


def test_npy_header_larger_than_its_member_is_corrupt(tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    header = np.lib.format.header_data_from_array_1_0(np.zeros((3, 4), np.int8))
    header["shape"] = (3_000_000, 4)  # the header lies: 12 MB declared, 12 bytes stored
    np.lib.format.write_array_header_1_0(buf, header)
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("samples.npy", buf.getvalue() + bytes(12))
        zf.writestr("metadata.npy", b"")
    with pytest.raises(ValueError, match="corrupted: array 'samples' declares 12000000 bytes"):
        load_samples(path)


# ---- temporary files of killed writes ---------------------------------------------------------------------
def test_stale_temporaries_are_cleaned_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from tnddm.io.files import _HOST

    stale = tmp_path / f".out.npz.{_HOST}-{dead.pid}.abc123{TMP_SUFFIX}"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".out.npz.{_HOST}-{os.getpid()}.def456{TMP_SUFFIX}"
    live.write_bytes(b"y")
    foreign = tmp_path / ".out.npz.abcdefgh.tmp"  # not ours: never touched
    foreign.write_bytes(b"z")
    atomic_write(tmp_path / "other.txt", lambda tmp: Path(tmp).write_text("ok"))
    names = {p.name for p in tmp_path.iterdir()}
    assert stale.name not in names and live.name in names and foreign.name in names
    assert (tmp_path / "other.txt").read_text() == "ok"
    assert clean_stale_temporaries(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_write_leaves_no_temporary_after_sigterm_or_next_write(tmp_path, sig):
    target = tmp_path / "big.npz"
    target.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import time
        from tnddm.io.files import atomic_write
        def slow(tmp):
            with open(tmp, "wb") as fh:
                fh.write(b"partial" * 1000)
                fh.flush()
                print("writing", flush=True)
                time.sleep(60)
        atomic_write({str(target)!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "writing"
    assert any(p.name.endswith(TMP_SUFFIX) for p in tmp_path.iterdir())
    proc.send_signal(sig)
    code = proc.wait(timeout=30)
    assert target.read_bytes() == b"old"
    if sig == signal.SIGTERM:
        assert code == 128 + signal.SIGTERM
        assert [p.name for p in tmp_path.iterdir()] == ["big.npz"]  # removed like on Ctrl-C
    else:
        assert any(p.name.endswith(TMP_SUFFIX) for p in tmp_path.iterdir())
        save_samples(tmp_path / "next.npz", np.zeros((1, 2)), np.zeros(1), {})  # the next write in the folder cleans
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz", "next.npz"]


# ---- workers never change the samples; tasks are recorded -------------------------------------------------
class _FakeClient:
    """Runs tasks in-process; nthreads as a real cluster of `threads` threads would report."""

    def __init__(self, threads):
        self.threads = threads

    def nthreads(self):
        return {f"w{i}": 1 for i in range(self.threads)}

    def scatter(self, obj, **kw):
        return obj

    def submit(self, fn, *args, **kw):
        return fn(*args)

    def gather(self, futures):
        return list(futures)


def test_workers_do_not_change_samples_and_tasks_are_recorded(files, tmp_path, capsys, monkeypatch):
    import contextlib

    import tnddm.distributed as dist

    monkeypatch.setattr(dist, "_worker_threads", lambda: None)
    P = _chain().mps()
    a = dist.sample(P, 3000, seed=5, client=_FakeClient(1))
    b = dist.sample(P, 3000, seed=5, client=_FakeClient(16))
    np.testing.assert_array_equal(a[0], b[0])
    assert dist.default_tasks(3) == 1 and dist.default_tasks(3000) == 3 and dist.default_tasks(10**9) == 1024
    outs = []
    for workers in (1, 2):
        @contextlib.contextmanager
        def fake(address=None, n_workers=None, **kw):
            yield _FakeClient(n_workers or 1)

        monkeypatch.setattr(dist, "dask_client", fake)
        out = tmp_path / f"w{workers}.npz"
        code, _, err = run(["sample", files["chain"], "-n", "3", "--workers", str(workers), "--out", out], capsys)
        assert code == 0, err
        outs.append(load_samples(out))
    np.testing.assert_array_equal(outs[0]["samples"], outs[1]["samples"])
    assert outs[0]["metadata"]["dask"]["tasks"] == outs[1]["metadata"]["dask"]["tasks"] == 1


def test_local_dask_cluster_listens_on_localhost_only():
    from tnddm.distributed import dask_client

    with dask_client(n_workers=1) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        link = client.dashboard_link or ""
        assert link == "" or "127.0.0.1" in link


# ---- valid JSON from every --json -------------------------------------------------------------------------
def _strict_json(text):
    def bad(name):
        raise ValueError(f"invalid JSON constant {name}")

    return json.loads(text, parse_constant=bad)


def test_json_output_is_valid_json_everywhere(files, tmp_path, capsys):
    from tnddm.cli.common import emit_summary

    emit_summary({"a": float("nan"), "b": [np.float64("inf"), 1.0], "c": np.array([np.nan, 2.0]), "d": {"e": -math.inf}},
                 True)
    got = _strict_json(capsys.readouterr().out)
    assert got == {"a": None, "b": [None, 1.0], "c": [None, 2.0], "d": {"e": None}}
    commands = {
        "sample": ["sample", files["chain"], "-n", "20", "--out", tmp_path / "s.npz"],
        "info": ["info", files["chain"], "--n-samples", "5"],
        "scan": ["scan", files["chain"], "--set", "model.beta=0.2,0.4", "--csv", tmp_path / "s.csv", "--plot", tmp_path / "s.png"],
        "train": ["train", files["chain"], "--data", files["data"], "--epochs", "1", "--set", "train.kl_samples=2"],
        "validate": ["validate", files["chain"], "--sampler", "euler", "--steps", "2"],
        "mcmc": ["mcmc", files["fredkin"], "--steps", "20", "--walkers", "4", "--burn-in", "0", "--T", "0.5"],
    }
    from tnddm.cli import cli

    assert {name for name, c in cli.commands.items() if any(p.name == "as_json" for p in c.params)} <= set(commands)
    for name, argv in commands.items():
        code, out, err = run(argv + ["--json"], capsys)
        assert code == 0, (name, err)
        data = _strict_json(out)
        assert isinstance(data, dict) and data, name


def _wait_until_sigterm_is_caught(pid, timeout=120.0):
    """Poll /proc/PID/status until the process has a SIGTERM handler (bit 15 of SigCgt)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status") as fh:
                caught = int(next(line for line in fh if line.startswith("SigCgt:")).split()[1], 16)
        except (OSError, StopIteration):
            return
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} installed no SIGTERM handler within {timeout} s")


def test_cli_sigterm_unwinds_with_status_143_and_no_temporary(tmp_path):
    out = tmp_path / "s.npz"
    proc = subprocess.Popen([sys.executable, "-m", "tnddm", "sample", str(ROOT / "models" / "fredkin.toml"), "-n",
                             "2000", "--steps", "1000000", "--out", str(out)], env=ENV, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE)  # a million denoising steps: still running when the signal comes
    _wait_until_sigterm_is_caught(proc.pid)  # the CLI's handler is installed (imports can take seconds on a busy machine)
    time.sleep(0.5)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    assert code == 128 + signal.SIGTERM, proc.stderr.read()[-2000:]  # not killed by the signal: unwound like Ctrl-C
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(TMP_SUFFIX)] == []


def test_every_shipped_card_and_every_mcmc_key_passes_the_schema():
    from tnddm.io import check_card, load_card

    cards = sorted((ROOT / "models").glob("*.toml")) + [ROOT / "tnddm" / "cards" / "default.toml"]
    assert len(cards) >= 6
    for path in cards:
        load_card(path)
    mcmc = {"scheme": "mixed", "T": [0.1, 0.3], "chi": 8, "truncation": "born", "steps": 10, "burn_in": "auto",
            "max_steps": 100, "max_seconds": 2.5, "walkers": 4, "seed": 1, "init": "exact", "proposal": "p.npz",
            "chi_boundary": 4, "target_acceptance": 0.4, "adapt": True, "estimator": "mh", "exact": False,
            "strict": True, "n_samples": 100}
    check_card({"model": {"kind": "fredkin", "n_sites": 6, "c": 0.5}, "mcmc": mcmc}, "test")
    check_card({"model": {"kind": "fredkin", "n_sites": 6, "c": 0.5}, "mcmc": {"T": 0.5, "burn_in": 10}}, "test")
    for key, bad in (("burn_in", "later"), ("T", "hot"), ("adapt", 1), ("walkers", 2.0), ("chi", True)):
        with pytest.raises(ValueError, match=f"mcmc.{key}"):
            check_card({"model": {"kind": "fredkin", "n_sites": 6, "c": 0.5}, "mcmc": {key: bad}}, "test")


def test_validate_checks_n_samples_and_plot_before_work(tmp_path, capsys):
    """validate: -n 0 and a wrongly named or input-overwriting --plot are refused (exit 2) before any metric runs."""
    card = str(tmp_path / "card.toml")
    (tmp_path / "card.toml").write_text('[model]\nkind = "ising_chain"\nn_sites = 4\nbeta = 0.5\n')
    for args, needle in ((["-n", "0"], "--n-samples"), (["--plot", str(tmp_path / "x.txt")], "--plot"),
                         (["--plot", card], "--plot")):
        code, _, err = run(["validate", card, *args], capsys)
        assert code == 2 and needle in err, (args, code, err)
    assert not (tmp_path / "x.txt").exists()


def test_public_memory_limit_refuses_before_allocating():
    """tnddm.memory_limit (public API) sets the limit for a block; the error names the estimate and the limit."""
    import tnddm

    with tnddm.memory_limit("1M"):
        with pytest.raises(tnddm.MemoryLimitError, match="MiB; the limit is 1 MiB"):
            tnddm.lattice.IsingCylinder(8, 12, 0.4).mps()
    assert tnddm.lattice.IsingCylinder(3, 3, 0.4).mps().n_sites == 9  # outside the block: no limit applied
