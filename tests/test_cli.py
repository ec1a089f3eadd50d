"""The tnddm command: help, sample/info outputs, JSON summaries, exit codes, card errors."""
import json

import numpy as np
import pytest

from tnddm.cli import SUBCOMMANDS, cli
from tnddm.io import load_samples

from .helpers import run_cli

run = run_cli  # (exit code, stdout, stderr) of an in-process CLI call


def test_every_subcommand_has_complete_help(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for name in cli.commands:
        assert name in out
    for name, command in cli.commands.items():
        code, out, _ = run([name, "--help"], capsys)
        assert code == 0, name
        assert "Usage:" in out
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts} has no help text"
    assert {"sample", "info"} <= set(cli.commands) <= set(SUBCOMMANDS)


def test_sample_writes_exact_samples_and_metadata(tmp_path, capsys):
    out = tmp_path / "s.npz"
    code, stdout, stderr = run(["sample", "-n", "300", "--seed", "3", "--mode", "diffusion", "--T", "0.7", "--steps", "2",
                                "--set", "model.length=6", "--set", "model.width=3", "--json", "--out", str(out)], capsys)
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["n_samples"] == 300
    data = load_samples(out)
    assert data["samples"].shape == (300, 18)
    from tnddm.lattice import from_spec

    model = from_spec(data["metadata"]["card"]["model"])
    np.testing.assert_allclose(data["log_prob"], model.mps().log_prob(data["samples"]), rtol=1e-10)
    assert data["metadata"]["seed"] == 3
    assert stderr == ""  # no progress bar when stderr is not a terminal
    code, _, _ = run(["sample", "-n", "300", "--seed", "3", "--mode", "diffusion", "--T", "0.7", "--steps", "2",
                      "--set", "model.length=6", "--set", "model.width=3", "--out", str(tmp_path / "t.npz")], capsys)
    np.testing.assert_array_equal(load_samples(tmp_path / "t.npz")["samples"], data["samples"])


def test_info_prints_exact_observables(capsys):
    code, stdout, _ = run(["info", "--set", "model.length=4", "--set", "model.width=3", "--json"], capsys)
    assert code == 0
    info = json.loads(stdout)
    from tnddm.lattice import from_spec

    model = from_spec(info["model"])
    assert np.isclose(info["log_z"], model.log_z())


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[model]\nkind = 'no_such_model'\n", "kind"),
        ("[model\nkind = 1", "not valid TOML"),
        ("[noise]\nkind = 'flip'\n", "missing table [model]"),
        ("[model]\nkind = 'fredkin'\nn_sites = 8\n[samples]\nn = 3\n", "unknown table [samples]"),
    ],
)
def test_malformed_card_names_the_file_and_field(tmp_path, capsys, text, fragment):
    card = tmp_path / "bad.toml"
    card.write_text(text)
    code, _, err = run(["info", str(card)], capsys)
    assert code == 2
    assert fragment in err
    if "kind" != fragment:
        assert str(card) in err


def test_bad_options_exit_with_usage_error(capsys):
    code, _, err = run(["sample", "--mode", "sideways"], capsys)
    assert code == 2
    assert "sideways" in err
    code, _, err = run(["sample", "-n", "0", "--out", "x.npz"], capsys)
    assert code == 2 and "n-samples" in err
    code, _, err = run(["sample", "no/such/card.toml"], capsys)
    assert code == 2 and "does not exist" in err


def test_train_loop_trains_a_born_mps(tmp_path, capsys):
    """`tnddm train --loop --method born`: the checkpoint holds a Born MPS (tnddm.io.load_model reads it as one and
    `tnddm mcmc --proposal` takes it), and its NLL fell: on the loop's fixed set of exact samples of the target
    (the KL of round 4 below that of round 1; KL = NLL - H on one fixed set) and below the NLL of the initial
    uniform state, N log 2, on fresh exact samples. Control: the same run with --method adam gives a 1-norm MPS."""
    import tnddm
    from tnddm.io.checkpoint import load_checkpoint, load_model
    from tnddm.lattice import IsingChain

    N = 10
    card = tmp_path / "chain.toml"
    card.write_text(f'[model]\nkind = "ising_chain"\nn_sites = {N}\nbeta = 0.5\nh = 0.1\n\n'
                    '[train]\nchi_max = 4\nwalkers = 64\nlocal_sweeps = 2\nkl_samples = 500\n')
    ck = tmp_path / "born_loop.npz"
    code, out, err = run(["train", str(card), "--loop", "--method", "born", "--rounds", "4", "--checkpoint", str(ck),
                          "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["mode"] == "loop" and summary["rounds"] == 4 and summary["method"] == "born_sweep"
    P, meta = load_model(ck)
    assert isinstance(P, tnddm.BornMPS) and meta["trainer"]["form"] == "born"
    history = load_checkpoint(ck)[1]["history"]
    kl, err_kl = history["kl"], history["kl_stderr"]
    assert len(kl) == 4 and kl[-1] < kl[0] - 0.3 and kl[0] - kl[-1] > 3 * np.hypot(err_kl[0], err_kl[-1]), history
    X, _ = IsingChain(N, 0.5, h=0.1).sample(2000, seed=5)
    assert -P.log_prob(X).mean() < N * np.log(2) - 0.15  # the loop starts from the uniform product state
    code, out, err = run(["mcmc", str(card), "--proposal", str(ck), "--burn-in", "0", "--steps", "5", "--walkers", "8",
                          "--no-exact", "--json"], capsys)
    assert code == 0 and json.loads(out)["proposal_bond"] == max(P.bond_dims), err
    # control: the 1-norm loop writes a ProbMPS
    code, _, err = run(["train", str(card), "--loop", "--rounds", "1", "--checkpoint", str(tmp_path / "adam.npz")], capsys)
    assert code == 0, err
    Q, _ = load_model(tmp_path / "adam.npz")
    assert type(Q) is tnddm.ProbMPS
