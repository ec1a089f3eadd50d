"""docs/beyond_exact.md: every ```python block runs (in one namespace, as a reader would run them) and
every console command runs with a reduced budget (marked below); its table carries its command."""
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "beyond_exact.md"


def test_python_blocks_run(capsys):
    namespace: dict = {"__name__": "__main__"}
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)
    assert len(blocks) >= 2
    for k, block in enumerate(blocks):
        exec(compile(block, f"{PAGE.name}[python block {k}]", "exec"), namespace)
    chain = namespace["chain"]
    assert chain.acceptance() > 0.5 and chain.converged


def test_console_commands_run_in_reduced_form(tmp_path):
    """Reduced form: --set model.length/width=14 and --max-seconds 60 so each command takes seconds (14 x 14 has
    no exact MPS either, so the summary says that no exact values exist)."""
    shutil.copytree(ROOT / "models", tmp_path / "models")
    lines = [ln for b in re.findall(r"^```console\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)
             for ln in b.strip().splitlines()]
    assert lines
    for line in lines:
        args = shlex.split(line)
        assert args[:2] == ["tnddm", "mcmc"]
        reduced = [*args[2:], "--set", "model.length=14", "--set", "model.width=14", "--max-seconds", "60"]
        proc = subprocess.run([sys.executable, "-m", "tnddm.cli", "mcmc", *reduced], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "none: the model has no exact MPS" in proc.stdout
        assert '"converged": true' in proc.stdout or "converged     : True" in proc.stdout, proc.stdout


def test_study_table_has_its_command():
    text = PAGE.read_text()
    assert "python examples/boundary_study.py" in text and "| system | method | chi_b |" in text
