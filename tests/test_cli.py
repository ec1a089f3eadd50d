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
