"""The README's quickstart code blocks and CLI commands, run verbatim."""
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_has_the_two_setup_commands_first():
    first = blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert "pip install" in first[0] and "tnddm sample" in first[0]
    assert "pip install" in first[1] and "pytest" in first[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert first[1].split("&&")[-1].strip() in ci  # CI runs exactly the README's test command


@pytest.mark.parametrize("code", blocks("python"))
def test_python_quickstart_runs(code):
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.parametrize("line", [ln for b in blocks("console") for ln in b.strip().splitlines()])
def test_cli_quickstart_runs(line, tmp_path):
    shutil.copytree(ROOT / "models", tmp_path / "models")
    args = shlex.split(line)
    assert args[0] == "tnddm"
    proc = subprocess.run([sys.executable, "-m", "tnddm.cli", *args[1:]], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
