"""Every code block and command of README.md and docs/**/*.md runs, and prints what the page shows.

One test per page (so xdist spreads the pages): its ```python blocks and the ``tnddm`` / ``python`` lines of
its ```console / ```bash blocks (and of indented blocks of such commands) run in page order, its ```toml model
cards load (tnddm.io.load_card), in a temporary directory (``models``, ``examples`` and
``benchmarks`` linked into it), the python blocks sharing one namespace, as a reader would run them.

Output checks, where a page shows output:

- a ```text block after a python block shows that block's output; after prose saying "Output of `CMD`" it
  shows what CMD prints, and after "Output of the first (last) command" the output of the previous console
  block's first (last) command;
- in a console block, ``$ CMD`` lines are followed by exactly what CMD prints (exit status 2 when it
  prints ``error: ...``);
- a ``# prints TEXT`` comment on a python line: the block prints TEXT (in order with the other such comments).

Shown lines match printed lines token by token; ``...`` in a line stands for any text and a line ``...``
for omitted lines (a shown block may also start after the first printed lines and stop before the last).
Numbers must be equal as written, except in the outputs of ``STRUCTURE_ONLY`` (timings, chains run
against a time budget), where any number matches.

Commands that take minutes run in a reduced form (``REDUCE``; each page says "reduced in the tests" next
to the block); ``python examples/NAME.py`` lines run in tests/test_examples.py in their ``--quick`` form;
``tnddm`` / ``python`` lines that are not run (installation, a cluster address, placeholders) are listed in
``NOT_RUN`` with the reason; other lines (pip, apt-get, cp) are not commands of the project and are skipped.
"""
from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

# Reduced forms: (page, text as written, text run by the tests). Every entry must be used; the page says
# "reduced in the tests" right after the block.
REDUCE: list[tuple[str, str, str]] = [
    # docs/cli.md
    ("docs/cli.md", "tnddm <command> --help", "tnddm sample --help"),
    ("docs/cli.md", "model.beta=0.3:0.6:16 --set model.width=4,6,8", "model.beta=0.3:0.6:3 --set model.width=3,4"),
    ("docs/cli.md", "model.c=0.3:0.7:9 --set model.n_sites=32,64", "model.c=0.3:0.7:3 --set model.n_sites=16,32"),
    ("docs/cli.md", "tnddm info models/ising_cylinder.toml --n-samples 20000",
     "tnddm info models/ising_cylinder.toml --n-samples 2000"),
    ("docs/cli.md", "--chi 4 --plot scan.png", "--chi 4 --plot scan.png --set model.n_sites=16 --max-seconds 1"),
    ("docs/cli.md", "tnddm mcmc models/ising_cylinder.toml --strict",
     "tnddm mcmc models/ising_cylinder.toml --strict --set model.width=4 --chi 8"),
    # docs/observables.md
    ("docs/observables.md", "model.beta=0.3:0.6:16 --set model.width=4,6,8 --set model.length=16",
     "model.beta=0.3:0.6:3 --set model.width=3,4 --set model.length=6"),
    ("docs/observables.md", "model.c=0.3:0.7:9 --set model.n_sites=32,64", "model.c=0.3:0.7:3 --set model.n_sites=16,32"),
    ("docs/observables.md", "--observables --n-samples 20000", "--observables --n-samples 2000"),
    ("docs/observables.md", "tnddm info models/ising_cylinder.toml --observables",
     "tnddm info models/ising_cylinder.toml --observables --set model.width=4"),
    # docs/beyond_exact.md: 14 x 14 and a 60 s budget (no exact MPS at 14 x 14 either)
    ("docs/beyond_exact.md", "tnddm mcmc models/ising_grid_64.toml --chi-boundary 8 --json",
     "tnddm mcmc models/ising_grid_64.toml --chi-boundary 8 --json --set model.length=14 --set model.width=14 "
     "--max-seconds 60"),
    # docs/tutorials/validate.md
    ("docs/tutorials/validate.md", "--steps 8,16,32,64 --plot kl.png", "--steps 8,16 --plot kl.png"),
    # docs/tutorials/sampling.md: 1000 samples by diffusion (about 3 s of CPU per 1000)
    ("docs/tutorials/sampling.md", "-n 10000 --out ising.npz", "-n 1000 --out ising.npz"),
    # docs/tutorials/montecarlo.md
    ("docs/tutorials/montecarlo.md", "tnddm mcmc models/ising_cylinder.toml  ",
     "tnddm mcmc models/ising_cylinder.toml --set model.width=4 --chi 8  "),
    ("docs/tutorials/montecarlo.md", "--estimator is --n-samples 100000",
     "--estimator is --n-samples 5000 --set model.width=4 --chi 8"),
    # docs/validation.md
    ("docs/validation.md", "python -m benchmarks.validation_scale --budget 600",
     "python -m benchmarks.validation_scale --quick --budget 2"),
    # docs/distributed.md: 10^4 samples (10^6 in the page), 20 MH steps of 32 walkers (200 of 256)
    ("docs/distributed.md", "10**6, seed=0, tasks=16", "10**4, seed=0, tasks=16"),
    ("docs/distributed.md", "n_steps=200, n_walkers=256", "n_steps=20, n_walkers=32"),
    # docs/learning.md: the loop for 2 (then 3, resumed) rounds at chi = 4 on a 4 x 3 cylinder; 2,000 samples and
    # 1-2 epochs at chi <= 8 for the data runs
    ("docs/learning.md", "--loop --chi-max 16 --rounds 200",
     "--loop --chi-max 4 --rounds 2 --set model.length=4 --set model.width=3"),
    ("docs/learning.md", "--loop --chi-max 16 --rounds 400",
     "--loop --chi-max 4 --rounds 3 --set model.length=4 --set model.width=3"),
    ("docs/learning.md", "-n 20000 --out samples.npz", "-n 2000 --out samples.npz"),
    ("docs/learning.md", "--chi-max 32 --epochs 20", "--chi-max 8 --epochs 2"),
    ("docs/learning.md", "--chi-max 32 --epochs 4", "--chi-max 8 --epochs 1"),
    ("docs/learning.md", "--holdout 0.2 --epochs 8", "--holdout 0.2 --epochs 2"),
]

# Lines of console / bash blocks that the tests do not run, with the reason.
NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -q -e . && tnddm sample --out samples.npz":
        "installation: .ci/run installs the project this way; `tnddm sample` runs in docs/cli.md",
    "command -v chromium >/dev/null || { [ \"$(id -u)\" = 0 ] || SUDO=sudo; ${SUDO:-} apt-get update -qq && "
    "${SUDO:-} apt-get install -y -qq chromium; }; "
    "python3 -m venv .venv && . .venv/bin/activate && pip install -q -e '.[test]' && python -m pytest -q -n 2":
        "the test suite itself (.ci/run runs exactly this command: test_readme_setup_commands)",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]'": "installation",
    "tnddm sample --workers 2 --tasks 16 -n 1000000 --out samples.npz":
        "a second local cluster (about 45 s of CPU to start); tests/test_distributed.py runs tnddm sample on a "
        "local cluster and on a scheduler address",
    "tnddm sample --scheduler tcp://scheduler-host:8786 --tasks 64 -n 10000000 --out samples.h5":
        "needs a running Dask scheduler; the same code path with a local cluster is the line above",
    # docs/benchmarks.md: benchmarks of minutes, run by their own commands
    "python -m benchmarks --out benchmarks/results": "the whole benchmark suite (about 7 minutes); its parts run below",
    "python -m benchmarks.exact_speed": "a benchmark of about 1.5 minutes",
    "python -m benchmarks.wolff": "a benchmark (the Wolff baseline of benchmarks.exact_speed)",
    "python -m benchmarks.wide_cylinder": "a benchmark of a 40 x 20 cylinder (tens of GiB)",
    "python -m benchmarks.compression": "a benchmark of minutes",
}

# (page, command): outputs checked for their text only (numbers vary: timings, time budgets).
STRUCTURE_ONLY = {("docs/cli.md", "tnddm mcmc models/fredkin.toml")}

# ```text blocks that show no command's output (checked elsewhere, named here).
UNATTACHED_TEXT = {
    ("docs/cli.md", "warning: not converged"): "the stderr warning of a run that has not converged "
                                                "(tests/test_mcmc_trust.py checks the CLI prints it)",
}


@dataclass
class Step:
    kind: str  # "python" | "command" | "toml"
    code: str
    line: int  # line of the page where the block or command is
    shown: list[str] | None = None  # output the page shows
    shown_where: str = ""
    exit_code: int = 0
    prints: list[str] = field(default_factory=list)  # "# prints" expectations (python)


COMMAND_START = re.compile(r"(?:[A-Z_]+=\S+ )*(?:python|tnddm) ")


def fences(text: str):
    """(lang, body, line, start, end) of every fenced block, and of every indented (4-space) block whose
    lines are commands (``python ...`` / ``tnddm ...``), which counts as a console block."""
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    inside = [(start, end) for *_, start, end in found]
    for m in re.finditer(r"(?:(?<=\n\n)|\A)((?:    \S[^\n]*\n)+)", text):
        lines = [ln[4:] for ln in m.group(1).splitlines()]
        if all(COMMAND_START.match(ln) for ln in lines) and not any(a <= m.start() < b for a, b in inside):
            found.append(("console", "\n".join(lines) + "\n", m.start(), m.end()))
    for lang, body, start, end in sorted(found, key=lambda f: f[2]):
        indented = not text.startswith("```", start)
        yield lang, body, text.count("\n", 0, start) + (0 if indented else 1), start, end


def reduce(page: str, code: str, used: set) -> str:
    for k, (p, full, small) in enumerate(REDUCE):
        if p == page and full in code:
            code = code.replace(full, small)
            used.add(k)
    return code


def steps_of(page: str, used: set | None = None) -> list[Step]:
    """The page's runnable steps in page order, with the output each one must show."""
    used = set() if used is None else used
    text = (ROOT / page).read_text()
    steps: list[Step] = []
    prev_end, prev = 0, None  # previous fence: (lang, its first step, its last step)
    for lang, body, line, start, end in fences(text):
        prose = text[prev_end:start]
        if lang == "python":
            prints = [m.group(1).strip() for m in re.finditer(r"#\s*prints\s+(.*)$", body, flags=re.M)]
            steps.append(Step("python", reduce(page, body, used), line, prints=prints))
            prev = (lang, steps[-1], steps[-1])
        elif lang in ("console", "bash", "sh", "shell"):
            first = None
            for k, raw in enumerate(body.splitlines()):
                ln = raw.strip()
                if not ln or ln.startswith("#"):
                    continue
                if ln.startswith("$ "):
                    ln = ln[2:]
                elif steps and steps[-1].shown is not None and steps[-1].shown_where == "$" and steps[-1].line > line:
                    steps[-1].shown.append(raw.rstrip())  # output line of the previous `$ CMD`
                    if raw.startswith("error:"):
                        steps[-1].exit_code = 2
                    continue
                if re.sub(r"\s+#.*$", "", ln) in NOT_RUN:
                    continue
                if not COMMAND_START.match(ln) and not re.search(r"\b(tnddm|python3?) ", ln):
                    continue  # not a tnddm / python command (apt-get, pip, cp, ...)
                step = Step("command", reduce(page, ln, used), line + 1 + k)
                if raw.strip().startswith("$ "):
                    step.shown, step.shown_where = [], "$"
                steps.append(step)
                first = first or step
            prev = (lang, first, steps[-1] if first else None)
        elif lang == "toml":
            steps.append(Step("toml", body, line))
            prev = (lang, None, None)
        elif lang == "text":
            shown = body.rstrip("\n").splitlines()
            source = None
            m = re.findall(r"Output of `([^`]+)`", prose)
            if m:
                source = Step("command", reduce(page, m[-1], used), line)
                steps.append(source)
            elif prev is not None and prev[1] is not None and prev[0] == "python":
                source = prev[1]
            elif prev is not None and prev[1] is not None and re.search(r"Output of the (first|last) command", prose):
                which = re.search(r"Output of the (first|last) command", prose).group(1)
                source = prev[1] if which == "first" else prev[2]
            elif not any(p == page and shown[0].startswith(s) for p, s in UNATTACHED_TEXT):
                raise AssertionError(f"{page}:{line}: a ```text block that shows no command's output: say whose "
                                     f"output it is ('Output of `CMD`') or list it in UNATTACHED_TEXT")
            if source is not None:
                source.shown, source.shown_where = shown, f"```text block at line {line}"
            prev = (lang, None, None)
        prev_end = end
    return steps


def tokens(line: str) -> list[str]:
    out, pos = [], 0
    for m in NUMBER.finditer(line):
        out += line[pos:m.start()].split()
        out.append(("#", m.group()))
        pos = m.end()
    return out + line[pos:].split()


def line_matches(shown: str, printed: str, structure_only: bool) -> bool:
    if "..." in shown.strip() and shown.strip() != "...":
        pattern = ".*".join(re.escape(part) for part in shown.strip().split("..."))
        return re.fullmatch(pattern, printed.strip()) is not None
    a, b = tokens(shown), tokens(printed)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, tuple) != isinstance(y, tuple):
            return False
        if isinstance(x, tuple):
            if not structure_only and float(x[1]) != float(y[1]):
                return False
        elif x != y:
            return False
    return True


def check_shown(shown: list[str], printed: list[str], structure_only: bool, whole: bool) -> str | None:
    """None if `printed` shows `shown` (a contiguous part of it unless whole; a line '...' skips lines)."""
    printed = [p for p in printed if p.strip()]
    shown = [s for s in shown if s.strip()]
    i, gap = 0, not whole
    for s in shown:
        if s.strip() == "...":
            gap = True
            continue
        while i < len(printed) and not line_matches(s, printed[i], structure_only):
            if not gap:
                return f"expected {s!r}, printed {printed[i]!r}"
            i += 1
        if i == len(printed):
            return f"expected {s!r}: not printed (in order)"
        i, gap = i + 1, False
    if whole and i != len(printed):
        return f"printed more than shown: {printed[i:]}"
    return None


def run_command(step: Step, cwd: Path) -> tuple[int, str, str]:
    args = shlex.split(step.code, comments=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    while args and re.fullmatch(r"[A-Z_]+=\S*", args[0]):
        key, value = args.pop(0).split("=", 1)
        env[key] = value
    if args[0] == "python" and len(args) > 1 and args[1].startswith("examples/"):
        return -1, "", ""  # run by tests/test_examples.py in its --quick form (checked in test_examples_lines)
    assert "&&" not in args and "|" not in args, f"a compound command: reduce it or list it in NOT_RUN: {step.code}"
    if args[0] == "tnddm":
        from tnddm.cli import main

        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                ret = main(args[1:])
                code = ret if isinstance(ret, int) else 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return code, out.getvalue(), err.getvalue()
    if args[0] == "python":
        proc = subprocess.run([sys.executable, *args[1:]], cwd=cwd, capture_output=True, text=True, env=env,
                              timeout=600)
        return proc.returncode, proc.stdout, proc.stderr
    raise AssertionError(f"not a tnddm or python command (run it, or list it in NOT_RUN): {step.code}")


# Stronger checks of a page's results, beyond "runs and prints what is shown" (namespace, all output, cwd).
def _montecarlo(ns, out, cwd, text):
    assert "converged True" in out and "frozen T" in out
    for needle in ("summary(exact=", 'T="auto"', "importance_sampling", "save_model",
                   "## When a chain does not converge", "--strict"):
        assert needle in text, needle


def _beyond_exact(ns, out, cwd, text):
    assert ns["chain"].acceptance() > 0.5 and ns["chain"].converged
    assert out.count("none: the model has no exact MPS") == 2, out
    assert "python examples/boundary_study.py" in text and "| system | method | $\\chi_b$ |" in text
    assert "python examples/baseline_error_check.py" in text and "| chain | $E/N$ |" in text


def _observables(ns, out, cwd, text):
    assert "correlation_length" in out and "specific_heat" in out
    assert (cwd / "snapshots.png").exists() and (cwd / "scan.png").exists()
    assert ns["chain_report"].max_abs_z < 4 and ns["rep"].max_abs_z < 4


def _sampling(ns, out, cwd, text):
    import numpy as np

    assert np.isfinite(ns["auto"].log_z) and ns["X"].shape == (100, 20)
    assert not (ns["X"][:, 1:] & ns["X"][:, :-1]).any()  # hard core: no two neighbours occupied


def _cli(ns, out, cwd, text):
    start = text.index("\n## Limits and checks\n")
    limits = text[start:text.find("\n## ", start + 1) if text.find("\n## ", start + 1) >= 0 else len(text)]
    for needle in ("--max-memory", "TNDDM_MAX_MEMORY", "available memory", "unknown key", "CARD_SCHEMA",
                   "default number of tasks", "never on the workers", "status 2"):
        assert needle in limits, needle
    assert limits.count("\n$ tnddm") >= 4 and "```python" in limits


def _learning(ns, out, cwd, text):
    for name in ("run.npz", "curves.png", "samples.npz"):
        assert (cwd / name).is_file(), name
    assert re.search(r"^resumed\s*:\s*True$", out, flags=re.M), "the second loop command resumes from run.npz"
    assert len(re.findall(r"^kl\s*:", out, flags=re.M)) == 5, "every train command reports KL(pi || P_theta)"


EXTRA = {"docs/cli.md": _cli, "docs/learning.md": _learning, "docs/tutorials/montecarlo.md": _montecarlo, "docs/beyond_exact.md": _beyond_exact,
         "docs/observables.md": _observables, "docs/tutorials/sampling.md": _sampling}

RUNNABLE = [p for p in PAGES if steps_of(p)]


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_blocks_run_and_print_what_is_shown(page, tmp_path, monkeypatch):
    for name in ("models", "examples", "benchmarks"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    log = []
    for step in steps_of(page):
        where = f"{page}:{step.line}"
        started = time.process_time(), time.perf_counter()
        if step.kind == "toml":  # a model card: it loads and passes the card schema
            from tnddm.io import load_card

            card = tmp_path / f"card_{step.line}.toml"
            card.write_text(step.code)
            load_card(card)
            continue
        if step.kind == "python":
            buf = io.StringIO()
            try:
                with redirect_stdout(buf):
                    exec(compile("\n" * step.line + step.code, page, "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"python block at {where} failed: {exc!r}\n{buf.getvalue()}") from exc
            printed, code = buf.getvalue(), 0
            sys.stdout.write(printed)
            problem = check_shown(step.prints, printed.splitlines(), False, whole=False) if step.prints else None
            assert problem is None, f"{where}: '# prints' comment: {problem}\n{printed}"
        else:
            before = sorted(p.name for p in tmp_path.iterdir())
            code, printed, err = run_command(step, tmp_path)
            if code == -1:
                continue
            assert code == step.exit_code, f"{where}: `{step.code}` exited {code}\n{printed}\n{err}"
            if code == 2:  # a refusal writes nothing
                assert sorted(p.name for p in tmp_path.iterdir()) == before, f"{where}: refused but wrote files"
            if step.shown_where == "$":
                printed = printed + err
        log.append(printed)
        print(f"[{where}] {time.process_time() - started[0]:.1f} s CPU, {time.perf_counter() - started[1]:.1f} s",
              file=sys.stderr)
        if step.shown is not None:
            structure = (page, step.code) in STRUCTURE_ONLY
            problem = check_shown(step.shown, printed.splitlines(), structure, whole=step.shown_where == "$")
            assert problem is None, f"{where}: output of `{step.code}` against the {step.shown_where}: {problem}\n{printed}"
    if page in EXTRA:
        EXTRA[page](namespace, "\n".join(log), tmp_path, (ROOT / page).read_text())


def test_every_reduction_is_used_and_marked_on_its_page():
    used: set = set()
    for page in PAGES:
        steps_of(page, used)
    assert used == set(range(len(REDUCE))), [REDUCE[k] for k in set(range(len(REDUCE))) - used]
    for page, full, _ in REDUCE:
        text = (ROOT / page).read_text()
        for lang, body, line, start, end in fences(text):
            if full in body:
                after = " ".join(text[end:end + 800].split("```")[0].split())
                assert "reduced in the tests" in after, f"{page}:{line}: say 'reduced in the tests' after the block"


def test_examples_lines_run_in_test_examples():
    """`python examples/NAME.py ...` lines: NAME.py exists and tests/test_examples.py runs its --quick form."""
    sys.path.insert(0, str(ROOT))
    try:
        from tests.test_examples import EXAMPLES, OWN_TEST
    finally:
        sys.path.remove(str(ROOT))
    for page in PAGES:
        for step in steps_of(page):
            m = re.search(r"python (examples/\S+\.py)", step.code)
            if m:
                assert (ROOT / m.group(1)).is_file(), (page, step.code)
                name = Path(m.group(1)).name
                assert name in EXAMPLES or name in OWN_TEST, (page, step.code)


def test_not_run_lines_exist():
    lines = {re.sub(r"\s+#.*$", "", ln.strip()) for page in PAGES for lang, body, *_ in fences((ROOT / page).read_text())
             for ln in body.splitlines()}
    assert set(NOT_RUN) <= lines, set(NOT_RUN) - lines


def test_no_indented_fences():
    """The runner reads fences at the start of a line; an indented one would be skipped silently."""
    for page in PAGES:
        assert not re.search(r"^[ \t]+```", (ROOT / page).read_text(), flags=re.M), page


def test_readme_setup_commands():
    """The README starts with the setup commands (install and sample; optionally the headless Chromium the docs
    test needs; install the test dependencies and test), and CI runs exactly the README's test command."""
    first = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0].strip().splitlines()
    assert len(first) in (2, 3)
    assert "pip install" in first[0] and "tnddm sample" in first[0]
    assert len(first) == 2 or "chromium" in first[1]
    assert "pip install" in first[-1] and "pytest" in first[-1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert first[-1].split("&&")[-1].strip() in ci and "chromium" in ci


def test_output_matching_negative_controls():
    assert check_shown(["a 1.5", "...", "c 2"], ["x", "a 1.5", "b", "c 2"], False, whole=False) is None
    assert check_shown(["a 1.5", "c 2"], ["a 1.5", "b", "c 2"], False, whole=False) is not None  # no '...'
    assert check_shown(["a 1.5"], ["a 1.6"], False, whole=False) is not None
    assert check_shown(["a 1.5"], ["a 1.6"], True, whole=False) is None
    assert check_shown(["error: x ... y"], ["error: x 12 GiB y", "more"], False, whole=True) is not None
