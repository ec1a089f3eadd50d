"""The `tnddm` command: one click group, one module per subcommand (tnddm/cli/<name>.py)."""
from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

SUBCOMMANDS = ("sample", "info", "scan", "mcmc", "train", "validate")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tnddm")
def cli():
    """tnddm: exact discrete diffusion on lattices with tensor networks.

    Every command takes a model card (TOML; see models/ and `tnddm info`); without one it uses
    the built-in default card (Ising 8 x 16 cylinder at beta_c). Exit codes: 0 success,
    2 bad input (unknown option, malformed card, invalid parameter), 1 unexpected failure.
    """


for _name in SUBCOMMANDS:
    cli.add_command(importlib.import_module(f".{_name}", __name__).command, name=_name)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: atomic writes remove their temporary files


def main(argv=None):
    """Entry point: bad input (ValueError) becomes a one-line message and exit code 2; SIGTERM unwinds cleanly."""
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except (ValueError, OSError):  # pragma: no cover
            previous = None
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv):
    try:
        return cli.main(args=argv, prog_name="tnddm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ValueError as exc:  # also tnddm's MemoryLimitError: refused before allocating
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except MemoryError as exc:
        click.echo(f"error: out of memory ({exc or 'allocation failed'}); lower the sizes or use --max-memory", err=True)
        sys.exit(1)
