"""The documentation runs.

Every ```python block of ``docs/**/*.md`` runs, page by page: a page's blocks in order, in one fresh
namespace, in a temporary working directory (files they write land there). A shell block (```bash)
whose every command is a ``tunesmith`` command runs too, through the real command line in-process
(click's `CliRunner`), in the same directory and after the blocks above it; other shell blocks
(``pip install``, ``make``, starting servers) are shown, not run.

An HTML comment on the line before a block steers it (invisible on the site):

* ``<!-- docs-test: skip REASON -->``: the block is shown, not run (it needs a server or a network);
  a fence info ``python skip-test`` does the same. Never for a core example.
* ``<!-- docs-test: file NAME -->``: the block is the contents of file NAME, written (not run), e.g. a
  config or an objective module the command line then reads.
* ``<!-- docs-test: requires MODULE [MODULE...] -->``: the page needs these optional libraries; it is
  skipped where one is missing (the other Pythons' quick suite installs only the core).
* ``<!-- docs-test: slow -->``: the page is marked slow (it imports a heavy library such as Lightning).

Besides, the site builds with ``mkdocs build --strict`` (API reference included) and README.md's
python blocks are valid Python.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<text>.*?)\s*-->\s*$")
_KINDS = ("skip", "file", "requires", "slow")
_SHELLS = ("bash", "sh", "shell", "console")


@dataclass
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the block's first code line
    language: str
    info: list[str]
    code: str
    directive: str | None = None

    @property
    def kind(self) -> str | None:
        return None if self.directive is None else self.directive.split(maxsplit=1)[0]

    @property
    def argument(self) -> str:
        parts = (self.directive or "").split(maxsplit=1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def skipped(self) -> bool:
        return self.kind == "skip" or "skip-test" in self.info

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Page:
    path: Path
    blocks: list[Block] = field(default_factory=list)

    @property
    def requires(self) -> list[str]:
        return [m for b in self.blocks if b.kind == "requires" for m in b.argument.split()]

    @property
    def slow(self) -> bool:
        return any(b.kind == "slow" for b in self.blocks)


def read_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each with the docs-test directive just before it, if any.

    A directive may also stand alone (``requires``, ``slow``): it then applies to the page, as an empty block.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: str | None = None
    i = 0
    while i < len(lines):
        directive = _DIRECTIVE.match(lines[i])
        if directive:
            if pending is not None:  # two directives in a row: the first stands alone
                blocks.append(Block(path, i, "", [], "", pending))
            pending = directive.group("text")
            i += 1
            continue
        opened = _FENCE_OPEN.match(lines[i])
        if opened is None:
            if lines[i].strip() and pending is not None:
                blocks.append(Block(path, i, "", [], "", pending))
                pending = None
            i += 1
            continue
        fence, indent = opened.group("fence"), opened.group("indent")
        info = opened.group("info").split()
        end = i + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and lines[end].strip().strip(fence[0]) == ""
        ):
            end += 1
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : end]]
        language = info[0].lower() if info else ""
        blocks.append(Block(path, i + 2, language, info[1:], "\n".join(body) + "\n", pending))
        pending = None
        i = end + 1
    if pending is not None:
        blocks.append(Block(path, len(lines), "", [], "", pending))
    return blocks


def pages() -> list[Page]:
    return [Page(path, read_blocks(path)) for path in sorted(DOCS.rglob("*.md"))]


def _params() -> list[object]:
    params: list[object] = []
    for page in pages():
        if not any(b.language == "python" or b.language in _SHELLS for b in page.blocks):
            continue
        marks = [pytest.mark.slow] if page.slow else []
        params.append(pytest.param(page.path, marks=marks, id=str(page.path.relative_to(DOCS))))
    return params


def _is_tunesmith_block(code: str) -> list[list[str]] | None:
    """The commands of a shell block when every one is a ``tunesmith`` command, else ``None``."""
    commands: list[list[str]] = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] != "tunesmith":
            return None
        commands.append(words[1:])
    return commands or None


def run_command(args: list[str], where: str) -> None:
    from click.testing import CliRunner

    from tunesmith.cli import cli

    env = {"TUNESMITH_STORAGE": None, "TUNESMITH_STORAGE_FILE": None, "COLUMNS": "120"}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"{where}: `tunesmith {shlex.join(args)}` exited {result.exit_code}:\n{result.output}"


def run_page(path: Path, directory: Path) -> None:
    """Run a page's blocks in order in one namespace, in ``directory``."""
    page = Page(path, read_blocks(path))
    for module in page.requires:  # found, not imported: Keras must not pick its backend before the page does
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{path.name} needs {module} (its extra is in the test install: make test)")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in page.blocks:
        if block.skipped or (not block.code and block.kind in ("requires", "slow")):
            continue
        if block.kind == "file":
            (directory / block.argument).write_text(block.code, encoding="utf-8")
            continue
        if block.language == "python":
            # Padded so that a traceback names the page's own line numbers.
            code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
            exec(code, namespace)
        elif block.language in _SHELLS and (commands := _is_tunesmith_block(block.code)) is not None:
            for args in commands:
                run_command(args, block.where)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh working directory; modules a page wrote there are forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNESMITH_STORAGE", raising=False)
    monkeypatch.delenv("TUNESMITH_STORAGE_FILE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns-default").as_uri())
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    path_before = list(sys.path)
    yield tmp_path
    sys.path[:] = path_before
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(str(tmp_path)):
            del sys.modules[name]


# Third-party warnings that the examples cannot avoid, each from one library and not ours to fix: MLflow's
# SQLite tracking store uses a loader strategy SQLAlchemy 2.1 deprecates; Lightning warns that the loaders
# of a small example have no worker processes and (2.6 beside torch 2.13) uses a deprecated torch class.
@pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning",
    r"ignore:The '(train|val)_dataloader' does not have many workers:UserWarning",
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning:lightning.pytorch.utilities._pytree",
)
@pytest.mark.parametrize("page", _params())
def test_the_page_runs(page: Path, isolated: Path) -> None:
    """Every block runs; and an example that draws `ShortTrainingWarning` (too few configurations trained fully
    to tell a winner from noise) is sized so that it does not, or its page says why it does."""
    from tunesmith.study import ShortTrainingWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", category=ShortTrainingWarning)  # ignored suite-wide, read here
        run_page(page, isolated)
    short = [w for w in caught if issubclass(w.category, ShortTrainingWarning)]
    for other in caught:  # handed back to pytest's own record
        if other not in short:
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    if short and "ShortTrainingWarning" not in page.read_text(encoding="utf-8"):
        pytest.fail(
            f"{page.relative_to(ROOT)} draws ShortTrainingWarning {len(short)} time(s) and does not say why; the "
            f"first: {short[0].message}. Size the example (a resource budget, ts.Budget(resource=...)), or add a "
            "sentence naming ShortTrainingWarning that says why the small example warns and what a real study does"
        )


def test_every_docs_test_directive_is_known_and_skips_say_why() -> None:
    problems = []
    for page in pages():
        for block in page.blocks:
            if block.directive is None:
                continue
            if block.kind not in _KINDS:
                problems.append(f"{block.where}: unknown directive {block.directive!r} (known: {', '.join(_KINDS)})")
            elif block.kind in ("skip", "file", "requires") and not block.argument:
                problems.append(f"{block.where}: 'docs-test: {block.kind}' needs an argument")
            elif block.kind == "file" and not block.code:
                problems.append(f"{block.where}: 'docs-test: file' must stand right before a code block")
    assert not problems, "\n".join(problems)


def test_the_site_pages_run_code() -> None:
    """The harness finds the pages' code: a docs tree with no runnable block would pass vacuously."""
    found = {p.path.relative_to(DOCS).as_posix(): p for p in pages()}
    assert "quickstart.md" in found
    runnable = [b for b in found["quickstart.md"].blocks if b.language == "python" and not b.skipped]
    assert len(runnable) >= 3
    commands = [b for b in found["quickstart.md"].blocks if b.language in _SHELLS and _is_tunesmith_block(b.code)]
    assert commands, "the quick start shows the command line"


def test_a_failing_block_names_its_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("# Broken\n\n```python\nx = 1\n```\n\nText.\n\n```python\nraise ValueError(x)\n```\n")
    with pytest.raises(ValueError) as caught:
        run_page(page, tmp_path)
    frames = [(frame.path, frame.lineno) for frame in caught.traceback]
    assert (page, 10 - 1) in frames  # pytest counts lines from 0


def test_readme_python_blocks_are_valid_python() -> None:
    """README's examples use placeholders (``build``, ``train_one_epoch``), so they cannot run; they must parse."""
    blocks = [b for b in read_blocks(ROOT / "README.md") if b.language == "python"]
    assert blocks
    for block in blocks:
        compile(textwrap.dedent(block.code), block.where, "exec")


@pytest.mark.slow
def test_the_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page in the nav, no broken link, every API reference resolved."""
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "quickstart" / "index.html").is_file()
    reference = (site / "reference" / "tunesmith" / "index.html").read_text(encoding="utf-8")
    assert 'id="tunesmith.study.Study"' in reference  # mkdocstrings rendered the docstrings
