"""Every example runs in its reduced (--quick) mode and writes its plots and summary."""
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_quick_mode(script, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script, str(tmp_path / "out"), "--quick"])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    written = list((tmp_path / "out").iterdir())
    assert any(p.suffix == ".png" and p.stat().st_size > 0 for p in written), written
    assert any(p.suffix in (".txt", ".md") for p in written), written
