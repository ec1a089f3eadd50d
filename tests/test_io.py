"""Sample files (.npz and HDF5), atomic writes and card overrides."""
import numpy as np
import pytest

from tnddm.io import atomic_write, load_samples, parse_override, save_samples


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_sample_files_round_trip(tmp_path, suffix):
    X = np.random.default_rng(0).integers(0, 2, size=(5, 7))
    path = tmp_path / f"out{suffix}"
    save_samples(path, X, np.arange(5.0), {"seed": 1, "card": {"model": {"kind": "x"}}}, extra={"stat_e": np.ones(5)})
    data = load_samples(path)
    np.testing.assert_array_equal(data["samples"], X)
    np.testing.assert_array_equal(data["log_prob"], np.arange(5.0))
    np.testing.assert_array_equal(data["stat_e"], np.ones(5))
    assert data["metadata"] == {"seed": 1, "card": {"model": {"kind": "x"}}}


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def broken(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary file left behind


def test_overrides_and_bad_output_suffix(tmp_path):
    card = {"model": {"kind": "fredkin", "n_sites": 8}}
    assert parse_override(card, "model.c=0.3")["model"]["c"] == 0.3
    assert parse_override(card, "noise.kind=mask")["noise"]["kind"] == "mask"
    assert card == {"model": {"kind": "fredkin", "n_sites": 8}}
    with pytest.raises(ValueError, match="table.field=value"):
        parse_override(card, "beta=3")
    with pytest.raises(ValueError, match="unknown table"):
        parse_override(card, "modle.beta=3")
    with pytest.raises(ValueError, match="must end in"):
        save_samples(tmp_path / "x.csv", np.zeros((1, 1)), np.zeros(1), {})
