"""Every ```python block of docs/tutorials/montecarlo.md runs, in order, in one namespace (as a reader
would run them), and its own assertions hold (converged default run within 4 standard errors of the
exact value, the deliberately bad run flagged not converged)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "tutorials" / "montecarlo.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_page_has_the_promised_sections_and_blocks():
    text = PAGE.read_text()
    blocks = python_blocks(text)
    assert len(blocks) >= 6
    for needle in ("summary(exact=", "converged", 'T="auto"', "importance_sampling", "save_model",
                   "## When a chain does not converge", "--strict"):
        assert needle in text, needle


def test_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # blocks may write files (the checkpoint)
    namespace: dict = {"__name__": "__main__"}
    for k, block in enumerate(python_blocks(PAGE.read_text())):
        try:
            exec(compile(block, f"{PAGE.name}[python block {k}]", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            pytest.fail(f"python block {k} of {PAGE.name} failed: {exc!r}\n{block}")
    out = capsys.readouterr().out
    assert "converged True" in out and "frozen T" in out
