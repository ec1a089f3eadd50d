"""The code passes ruff with the project's configuration ([tool.ruff] in pyproject.toml)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_is_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_catches_an_unused_import(tmp_path):
    """Negative control: the same configuration rejects a file with an unused import."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "F401" in res.stdout
