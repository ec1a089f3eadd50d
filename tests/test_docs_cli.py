"""docs/cli.md, section "Limits and checks": every console command runs and prints what the page shows
(exit status 2 and the error line; "..." in a shown line stands for machine-dependent text such as the
available memory), and every python block runs and prints what its trailing comment says."""
import re
from pathlib import Path

import pytest

from tnddm.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def shown_commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, shown output lines) for every '$ tnddm ...' line of the console blocks."""
    out = []
    for block in blocks(text, "console"):
        for line in block.strip().splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return out


def test_section_documents_max_memory_card_schema_and_tasks():
    text = section("Limits and checks")
    for needle in ("--max-memory", "TNDDM_MAX_MEMORY", "available memory", "unknown key", "CARD_SCHEMA",
                   "default number of tasks", "never on the workers", "status 2"):
        assert needle in text, needle
    assert len(shown_commands(text)) >= 4 and blocks(text, "python")


@pytest.mark.parametrize("command, shown", shown_commands(section("Limits and checks")),
                         ids=[c for c, _ in shown_commands(section("Limits and checks"))])
def test_console_commands_print_what_the_page_shows(command, shown, tmp_path, monkeypatch, capsys):
    import shlex

    (tmp_path / "models").symlink_to(ROOT / "models")
    monkeypatch.chdir(tmp_path)  # the commands' own paths (models/..., fk.npz) resolve here
    args = shlex.split(command)
    assert args[0] == "tnddm"
    try:
        main(args[1:])
        code = 0
    except SystemExit as exc:
        code = exc.code
    got = capsys.readouterr()
    printed = (got.out + got.err).strip().splitlines()
    assert code == (2 if shown[0].startswith("error:") else 0), (command, printed)
    assert len(printed) == len(shown), (command, printed)
    for line, want in zip(printed, shown):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        assert re.fullmatch(pattern, line), (command, line, want)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # refused: nothing written


def test_python_blocks_print_what_their_comments_say(capsys):
    for k, block in enumerate(blocks(section("Limits and checks"), "python")):
        namespace = {"__name__": "__main__"}
        exec(compile(block, f"cli.md[Limits and checks, python block {k}]", "exec"), namespace)
        printed = capsys.readouterr().out.strip().splitlines()
        expected = [m.group(1).strip() for m in re.finditer(r"^print\(.*\)\s*#\s*(.*)$", block, flags=re.M)]
        assert printed == expected, (block, printed)
