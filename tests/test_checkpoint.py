"""Checkpoints: round trip, integrity errors, atomic writes, and bit-for-bit resume of training."""
from __future__ import annotations

import numpy as np
import pytest

import tnddm
from tnddm.io.checkpoint import load_checkpoint, load_model, save_checkpoint, save_model
from tnddm.lattice import BETA_C, IsingChain
from tnddm.learn import Trainer, TrainingLoop


def _state():
    arrays = {"core_0000": np.arange(6.0).reshape(1, 2, 3), "walkers": np.array([[0, 1], [1, 1]], dtype=np.int8)}
    meta = {"kind": "test", "rng_state": np.random.default_rng(3).bit_generator.state, "x": [1.5, 2]}
    return arrays, meta


def test_round_trip_keeps_arrays_metadata_and_version(tmp_path):
    arrays, meta = _state()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, arrays, meta)
    got, gmeta = load_checkpoint(path)
    assert set(got) == set(arrays)
    for k in arrays:
        assert got[k].dtype == arrays[k].dtype and np.array_equal(got[k], arrays[k])
    assert gmeta["x"] == [1.5, 2] and gmeta["rng_state"] == meta["rng_state"]
    assert gmeta["tnddm_version"] == tnddm.__version__


def test_model_round_trip(tmp_path):
    P = tnddm.ProbMPS.random(5, 3, seed=1)
    save_model(tmp_path / "m.npz", P, {"note": "random"})
    Q, meta = load_model(tmp_path / "m.npz")
    assert meta["note"] == "random"
    X, _ = P.sample(20, seed=0)
    np.testing.assert_array_equal(P.log_prob(X), Q.log_prob(X))


def test_truncated_checkpoint_raises_naming_file(tmp_path):
    arrays, meta = _state()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, arrays, meta)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"ck\.npz.*(corrupted or truncated)"):
        load_checkpoint(path)


def test_corrupted_byte_is_detected(tmp_path):
    arrays = {"core_0000": np.linspace(0, 1, 4000).reshape(20, 2, 100)}
    path = tmp_path / "ck.npz"
    save_checkpoint(path, arrays, {"kind": "test"})
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the array data
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"ck\.npz.*(corrupted|integrity)"):
        load_checkpoint(path)


def test_checksum_catches_consistent_tampering(tmp_path):
    """An archive rewritten with a changed array but the old digest fails the SHA-256 check."""
    arrays, meta = _state()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, arrays, meta)
    with np.load(path) as fh:
        data = {k: fh[k] for k in fh.files}
    data["core_0000"] = data["core_0000"] + 1.0
    with open(path, "wb") as fh:
        np.savez(fh, **data)
    with pytest.raises(ValueError, match="SHA-256"):
        load_checkpoint(path)


def test_not_a_checkpoint_and_missing_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a tnddm checkpoint"):
        load_checkpoint(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match=r"\.npz"):
        save_checkpoint(tmp_path / "x.txt", {"a": np.zeros(1)})


def test_interrupted_write_leaves_previous_checkpoint(tmp_path, monkeypatch):
    arrays, meta = _state()
    path = tmp_path / "ck.npz"
    save_checkpoint(path, arrays, meta)
    before = path.read_bytes()

    def failing_savez(fh, **kw):
        fh.write(b"PK\x03\x04 partial data")
        raise KeyboardInterrupt("interrupted while writing")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"core_0000": np.zeros((1, 2, 1))}, {"kind": "new"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # no temporary file left behind
    got, gmeta = load_checkpoint(path)
    assert gmeta["kind"] == "test"


@pytest.mark.parametrize("method", ["adam", "sweep"])
def test_trainer_resume_equals_uninterrupted(tmp_path, method):
    target = tnddm.ProbMPS.random(6, 3, seed=4)
    X, _ = target.sample(600, seed=5)
    init = tnddm.ProbMPS.random(6, 3 if method == "adam" else 1, seed=6)
    opts = dict(method=method, lr=0.05, batch_size=128, chi_max=3, seed=7)
    full = Trainer(init, **opts)
    full.fit(X, 4)
    part = Trainer(init, **opts)
    part.fit(X, 2)
    path = tmp_path / "tr.npz"
    save_checkpoint(path, *part.state())
    del part
    resumed = Trainer.from_state(*load_checkpoint(path))
    resumed.fit(X, 2)
    assert resumed.epoch == full.epoch == 4
    for A, B in zip(full.cores, resumed.cores):
        assert A.shape == B.shape and np.array_equal(A, B)
    assert full.history["nll"] == resumed.history["nll"]


def test_loop_resume_equals_uninterrupted(tmp_path):
    model = IsingChain(n_sites=8, beta=BETA_C)

    def make():
        tr = Trainer(tnddm.ProbMPS.random(8, 2, seed=1), lr=0.05, batch_size=64, seed=2)
        return TrainingLoop(model, tr, walkers=32, mh_steps=2, buffer_rounds=2, anneal={"start": 0.0, "rounds": 3},
                            kl_samples=100, seed=3)

    full = make()
    full.run(4)
    part = make()
    part.run(2)
    path = tmp_path / "loop.npz"
    save_checkpoint(path, *part.state())
    resumed = TrainingLoop.from_state(*load_checkpoint(path))
    resumed.run(2)
    assert resumed.round == 4
    np.testing.assert_array_equal(full.walkers, resumed.walkers)
    for A, B in zip(full.trainer.cores, resumed.trainer.cores):
        assert np.array_equal(A, B)
    for key in ("acceptance", "nll", "kl", "parameter"):
        assert full.history[key] == resumed.history[key]
    P, meta = load_model(path)  # a loop checkpoint also loads as a model
    assert P.n_sites == 8 and meta["kind"] == "loop"
