"""The documentation site: it builds with warnings as errors (mkdocs --strict), its formulas render with the
vendored KaTeX in a real browser (headless Chromium, no network), and the API reference shows every object
once with its parameters and no text swallowed as HTML."""
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_HELP = ("headless Chromium is needed to check that the formulas render: install it with "
                 "`apt-get update && apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), or set "
                 "TNDDM_CHROMIUM to a Chromium or Chrome binary")


def build(site: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    proc = build(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_docs_build_strict(site):
    assert (site / "index.html").is_file()
    assert (site / "api" / "index.html").is_file()


def test_strict_build_fails_on_a_broken_reference(tmp_path):
    """Negative control: the strict build really fails on a warning (a link to a missing page)."""
    proj = tmp_path / "proj"
    shutil.copytree(ROOT / "docs", proj / "docs")
    shutil.copy(ROOT / "mkdocs.yml", proj / "mkdocs.yml")
    index = proj / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[broken](no-such-page.md)\n")
    (proj / "docs" / "api.md").write_text("# API reference\n")  # the generated API is the slow part
    proc = build(tmp_path / "site", cwd=proj)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "no-such-page.md" in proc.stdout + proc.stderr


def test_no_cdn_and_katex_is_shipped():
    config = (ROOT / "mkdocs.yml").read_text()
    assert not re.search(r"https?://", config), "no remote scripts, styles or links in mkdocs.yml"
    for path in ("katex/katex.min.js", "katex/katex.min.css", "katex/contrib/auto-render.min.js", "javascripts/katex.js"):
        assert (ROOT / "docs" / path).is_file() and f"- {path}" in config, path
    fonts = re.findall(r"url\((fonts/[^)]+\.woff2)\)", (ROOT / "docs" / "katex" / "katex.min.css").read_text())
    assert fonts and all((ROOT / "docs" / "katex" / f).is_file() for f in fonts)


def chromium() -> str:
    for candidate in (os.environ.get("TNDDM_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail(CHROMIUM_HELP)


def rendered_dom(browser: str, page: Path, profile: Path) -> str:
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


class _Math(HTMLParser):
    """Collects the text of every .arithmatex element and whether KaTeX rendered it."""

    def __init__(self):
        super().__init__()
        self.stack, self.items = [], []  # items: [raw text outside KaTeX's output, rendered?, katex error?]

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if "arithmatex" in cls.split():
            self.items.append(["", False, False])
            self.stack.append(("math", tag))
        elif self.stack:
            names = cls.split()
            if "katex" in names or "katex-display" in names:
                self.items[-1][1] = True
            if "katex-error" in names:
                self.items[-1][2] = True
            self.stack.append(("katex" if {"katex", "katex-display"} & set(names) else "inner", tag))

    def handle_endtag(self, tag):
        if self.stack and tag not in ("br", "img", "input", "meta", "link", "hr"):
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and not any(kind == "katex" for kind, _ in self.stack):
            self.items[-1][0] += data


def test_formulas_render_in_a_browser(site, tmp_path):
    """Every page with maths: in headless Chromium (file://, so no network), every formula that arithmatex
    marked is typeset by KaTeX, none is a KaTeX error, and no raw \\( or \\[ delimiter is left in the text."""
    browser = chromium()
    pages = [p for p in sorted(site.rglob("index.html")) if 'class="arithmatex"' in p.read_text()]
    assert len(pages) >= 5, pages  # concepts, tutorials, observables, cli, ...
    names = {str(p.parent.relative_to(site)) for p in pages}
    assert {"concepts", "gaussian", "learning", "mcmc_study", "validation", "cli", "observables"} <= names, names
    total = 0
    for page in pages:
        dom = rendered_dom(browser, page, tmp_path / "profile")
        parser = _Math()
        parser.feed(dom)
        name = page.parent.relative_to(site)
        assert parser.items, name
        for raw, rendered, error in parser.items:
            assert rendered and not error, (str(name), raw)
        body = re.sub(r"<(script|style|code|pre)\b.*?</\1>", "", dom, flags=re.S)
        text = re.sub(r'<span class="katex-mathml">.*?</span>', "", body, flags=re.S)
        text = re.sub(r"<[^>]+>", "", text)
        assert "\\(" not in text and "\\[" not in text, (str(name), text[text.find("\\("):][:200])
        total += len(parser.items)
    assert total > 100


def test_formulas_check_fails_without_katex(site, tmp_path):
    """Negative control: the same page without the KaTeX scripts is reported as not rendered."""
    browser = chromium()
    page = site / "concepts" / "index.html"
    copy = tmp_path / "concepts.html"
    copy.write_text(re.sub(r'<script src="[^"]*katex[^"]*"></script>', "", page.read_text()))
    parser = _Math()
    parser.feed(rendered_dom(browser, copy, tmp_path / "profile"))
    assert parser.items and not any(rendered for _, rendered, _ in parser.items)


# Pages whose formulas are all KaTeX: their prose (outside code, maths, links and file names) holds no ASCII maths.
KATEX_PAGES = ["gaussian.md", "learning.md", "mcmc_study.md", "tutorials/sampling.md", "tutorials/validate.md",
               "tutorials/montecarlo.md", "validation.md", "cli.md", "index.md", "observables.md", "distributed.md",
               "models.md", "concepts.md", "benchmarks.md", "validate_any_sampler.md", "beyond_exact.md"]
ASCII_MATH = re.compile(
    r"\b(?:beta(?:_c)?|rho|pi(?:_k)?|alpha|sigma|tau(?:_int)?(?!-leaping)|chi(?:_b|_max)?|eps|epsilon|delta(?!-method)|theta|psi|"
    r"phi|Phi|Psi|xi|eta|kappa|lambda|sqrt|arcsin|exp|int|sum_\w+|prod_\w+|log [A-Z]\b|e\^\w+)\b"
    r"|<=|>=|\+-|\|\||->|~ ?N\(|\b[A-Za-z]_[\w{]|\w\^[\w({-]|\bbar-\w+")


def ascii_maths(text: str) -> list[tuple[int, list[str], str]]:
    """(line, ASCII-maths tokens, line) of the prose of a markdown page: fenced blocks, $$ blocks, inline $...$,
    code spans, indented commands, link targets, arXiv numbers and file names removed first."""
    text = re.sub(r"^```.*?^```", lambda m: "\n" * m.group().count("\n"), text, flags=re.S | re.M)
    text = re.sub(r"\$\$.*?\$\$", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    found = []
    for k, line in enumerate(text.splitlines(), 1):
        if re.match(r"\s{4,}(?:python|tnddm) ", line):
            continue
        prose = re.sub(r"`[^`]*`|\$[^$]*\$|!\[[^\]]*\]\([^)]*\)", "", line)
        prose = re.sub(r"\]\([^)]*\)", "]", prose)
        prose = re.sub(r"arXiv:\S+|https?://\S+|\S+\.(?:md|py|png|npz|json|toml)\b", "", prose)
        hits = [m.group() for m in ASCII_MATH.finditer(prose)]
        if hits:
            found.append((k, hits, line.strip()))
    return found


@pytest.mark.parametrize("page", KATEX_PAGES)
def test_formulas_are_katex_not_ascii(page):
    """sum_x, e^lr, beta_c, tau_int, ||q - pi||, <= ... are written as $...$ maths (rendered by KaTeX), identifiers in
    backticks."""
    text = (ROOT / "docs" / page).read_text()
    found = ascii_maths(text)
    assert not found, "\n".join(f"docs/{page}:{k}: {hits}: {line}" for k, hits, line in found)
    headings = re.findall(r"^#+ .*\$.*$", text, flags=re.M)
    assert not headings, f"maths in a heading shows as raw TeX in the table of contents: {headings}"


def test_ascii_maths_check_negative_control():
    page = ("The loss is NLL = -(1/n) sum_s log W(x^s), steps e^lr, at beta_c with tau_int <= 2 and ||q - pi||_2.\n"
            "Written right: $\\sum_s \\log W(x^s)$, `chi_max`, `tau_int`, [a](x_y.md), arXiv:2407.11133, "
            "Tweedie tau-leaping.\n")
    found = ascii_maths(page)
    assert [k for k, _, _ in found] == [1]
    assert {"sum_s", "e^lr", "beta_c", "tau_int", "<=", "||"} <= set(found[0][1]), found


HTML_TAGS = set("""html head body div span p a code pre h1 h2 h3 h4 h5 h6 ul ol li table thead tbody tfoot tr th td em
strong b i br hr img nav header footer main article section aside label input form button script style link meta title
svg path details summary small sup sub blockquote dl dt dd abbr kbd mark time use g template noscript figure figcaption
del ins s u var samp cite q wbr colgroup col caption source picture""".split())


def test_api_reference_shows_every_parameter_once(site):
    page = (site / "api" / "index.html").read_text()

    class Tags(HTMLParser):
        unknown: list = []

        def handle_starttag(self, tag, attrs):
            if tag not in HTML_TAGS:
                self.unknown.append((tag, self.getpos()))

    tags = Tags()
    tags.unknown = []
    tags.feed(page)
    assert not tags.unknown, f"docstring text swallowed as HTML tags (escape '<' in code spans): {tags.unknown[:10]}"
    ids = re.findall(r'<h[2-5] id="(tnddm\.[\w.]+)"', page)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates
    documented = {i.rsplit(".", 1)[-1] for i in ids}
    for name in ("IsingCylinder", "Fredkin", "Diffusion", "Flip", "MetropolisHastings", "Chain", "estimate",
                 "exact_reference", "finite_range"):
        assert name in documented, name
    for obj, params in {"tnddm.lattice.IsingCylinder": ("length", "width", "beta", "J", "h"),
                        "tnddm.lattice.Fredkin": ("n_sites", "c"),
                        "tnddm.noise.Flip": ("rate", "d", "schedule"),
                        "tnddm.diffusion.Diffusion.denoise": ("Y", "t", "s", "seed", "return_log_prior"),
                        "tnddm.observables.estimate": ("model", "X", "names")}.items():
        start = page.index(f'id="{obj}"')
        section = page[start:page.find('class="doc doc-heading"', start + 200)]
        table = re.sub(r"<[^>]+>", " ", section.split("Parameters:", 1)[-1]) if "Parameters:" in section else ""
        for p in params:
            assert re.search(rf"\b{re.escape(p)}\b", table), (obj, p)
    assert "&lt;prod_i f_i(x_i)&gt;" in page  # expect_product's formula is shown, not swallowed


def test_every_shipped_figure_is_used_and_every_used_figure_exists():
    import posixpath

    shipped = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.png")}
    used = set()
    for page in (ROOT / "docs").rglob("*.md"):
        folder = str(page.parent.relative_to(ROOT / "docs")).replace(".", "")
        for a, b in re.findall(r"\]\(([^)\s]+\.png)\)|src=\"([^\"]+\.png)\"", page.read_text()):
            used.add(posixpath.normpath(posixpath.join(folder, a or b)))
    assert not used - shipped, sorted(used - shipped)
    assert not shipped - used, f"figures no page shows (use them or git rm them): {sorted(shipped - used)}"


def test_navigation_order():
    """A newcomer's order: home and concepts first, tutorials before the studies, the API reference last."""
    nav = re.findall(r"^\s*- [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)
    assert nav[:3] == ["index.md", "concepts.md", "tutorials/sampling.md"]
    assert nav[-1] == "api.md"
    assert nav.index("tutorials/montecarlo.md") < nav.index("mcmc_study.md") < nav.index("api.md")
    pages = {str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")}
    assert set(nav) == {p for p in pages if not p.endswith(("table.md", "results.md"))}
