"""Command-line setup shared by the example scripts: the OUT folder, --quick and --seed.

Every example runs as `python examples/NAME.py OUT [--quick] [options]`, writes its results into OUT (created
if missing) and has a --quick mode of seconds that the tests run.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def example_parser(doc: str, quick: str, out: str | None = None, seed: bool = False,
                   summary: bool = False) -> argparse.ArgumentParser:
    """The parser every example starts from.

    Args:
        doc: the script's module docstring (the --help text).
        quick: what --quick makes small.
        out: help text of the OUT folder.
        seed: add --seed (int, default 0).
        summary: show only the docstring's first line in --help (else the whole docstring, as written).
    """
    if summary:
        ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    else:
        ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help=out)
    ap.add_argument("--quick", action="store_true", help=quick)
    if seed:
        ap.add_argument("--seed", type=int, default=0)
    return ap


def parse_example_args(ap: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse the command line (argv: a list, or None for sys.argv) and create the OUT folder (args.out, a Path)."""
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args
