"""Every example runs in its reduced (--quick) mode and writes its plots and summary."""
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# examples whose quick mode has its own test with stronger assertions (run once, there)
OWN_TEST = {"mcmc_study.py": "tests/test_mcmc_cli.py::test_example_quick_mode_writes_table_and_plots",
            "learning_phases.py": "tests/test_learn.py::test_learning_phases_quick_mode_learns_at_every_phase_point",
            "boundary_study.py": "tests/test_boundary_proposal.py::test_boundary_study_quick_mode",
            "baseline_error_check.py": "tests/test_boundary_proposal.py::test_baseline_error_check_quick_mode"}
# examples/_cli.py is the examples' shared command-line helper, not an example
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if p.name not in OWN_TEST and not p.name.startswith("_"))


def test_examples_left_out_here_have_their_own_test():
    for script, test in OWN_TEST.items():
        path, name = test.split("::")
        assert (ROOT / "examples" / script).is_file() and f"def {name}(" in (ROOT / path).read_text()


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_quick_mode(script, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script, str(tmp_path / "out"), "--quick"])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    written = list((tmp_path / "out").iterdir())
    assert any(p.suffix == ".png" and p.stat().st_size > 0 for p in written), written
    assert any(p.suffix in (".txt", ".md") for p in written), written
