"""docs/observables.md: every ```python block runs, in order, in one namespace (as a reader would run them),
with its own assertions (estimates within 4 standard errors); every console command runs in a reduced form
(smaller lattices, fewer samples and grid points: REDUCE below) and succeeds."""
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "observables.md"
REDUCE = {"0.3:0.6:16": "0.3:0.6:3", "model.width=4,6,8": "model.width=3,4", "model.length=16": "model.length=6",
          "20000": "2000", "5000": "500", "0.3:0.7:9": "0.3:0.7:3", "model.n_sites=32,64": "model.n_sites=16,32"}


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", PAGE.read_text(), flags=re.S | re.M)


def test_python_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # blocks write snapshots.png and scan.png
    namespace: dict = {"__name__": "__main__"}
    found = blocks("python")
    assert len(found) >= 6
    for k, block in enumerate(found):
        try:
            exec(compile(block, f"{PAGE.name}[python block {k}]", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            pytest.fail(f"python block {k} of {PAGE.name} failed: {exc!r}\n{block}")
    out = capsys.readouterr().out
    assert "correlation_length" in out and "specific_heat" in out
    assert (tmp_path / "snapshots.png").exists() and (tmp_path / "scan.png").exists()
    assert namespace["chain_report"].max_abs_z < 4 and namespace["rep"].max_abs_z < 4


def test_console_commands_run_in_reduced_form(tmp_path, monkeypatch, capsys):
    from tnddm.cli import main

    monkeypatch.chdir(ROOT)
    lines = [ln for b in blocks("console") for ln in b.strip().splitlines()]
    assert len(lines) >= 5
    for line in lines:
        for full, small in REDUCE.items():
            line = line.replace(full, small)
        if line == "tnddm info models/ising_cylinder.toml --observables":
            line += " --set model.width=4"  # reduced: a 16 x 4 cylinder
        args = shlex.split(line)
        assert args[0] == "tnddm"
        if args[1] == "scan":
            args += ["--csv", str(tmp_path / "scan.csv"), "--plot", str(tmp_path / "scan.png")]
        if "--out" in args:
            args[args.index("--out") + 1] = str(tmp_path / "out.npz")
        try:
            main(args[1:])
        except SystemExit as exc:
            assert not exc.code, (line, capsys.readouterr().err)
        out = capsys.readouterr().out
        assert "observable" in out or "wrote" in out, (line, out)


def test_page_is_in_the_navigation_and_its_figure_exists():
    assert "observables.md" in (ROOT / "mkdocs.yml").read_text()
    for image in re.findall(r"\]\((observables/[^)]+\.png)\)", PAGE.read_text()):
        assert (ROOT / "docs" / image).exists(), image


def cli_section(title: str) -> str:
    text = (ROOT / "docs" / "cli.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def test_cli_page_sections_run_and_show_what_info_prints(tmp_path, monkeypatch, capsys):
    """docs/cli.md, sections on `info --observables` and `scan`: every console command runs (reduced as above)
    and the shown output of the first info command is what it prints ('...' stands for omitted lines)."""
    from tnddm.cli import main

    monkeypatch.chdir(ROOT)
    outputs = []
    for title in ("Observables: tnddm info --observables", "Parameter scans: tnddm scan"):
        text = cli_section(title)
        for block in re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M):
            for line in block.strip().splitlines():
                for full, small in REDUCE.items():
                    line = line.replace(full, small)
                args = shlex.split(line)[1:]
                if args[0] == "scan":
                    args += ["--csv", str(tmp_path / "scan.csv"), "--plot", str(tmp_path / "scan.png")]
                main(args)
                outputs.append(capsys.readouterr().out)
    shown = re.findall(r"^```text\n(.*?)^```", cli_section("Observables: tnddm info --observables"), flags=re.S | re.M)[0]
    for line in shown.strip().splitlines():
        if line != "...":
            assert line in outputs[0].splitlines(), line
