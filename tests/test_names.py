"""Names are data: study names, parameter values and messages never become markup, escapes or paths."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import string
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

import tunesmith as ts
from tunesmith._text import controls_in, safe_file_name, terminal_safe
from tunesmith.cli import cli
from tunesmith.report.terminal import summary
from tunesmith.study import CheckpointStore
from tunesmith.study._checkpoints import default_checkpoint_root

CLEAR_SCREEN = "\x1b[2J"
OSC8_LINK = "\x1b]8;;http://e.vil/\x07go\x1b]8;;\x07"
CONFIG = """
name = "names"
objective = "objectives:quadratic"
seed = 1
sampler = "random"
metric = "loss"

[budget]
trials = {trials}

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
opt = {{ type = "choice", options = {options} }}
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def make_study(url: str, name: str, options: list[str] | None = None) -> ts.Study | None:
    """Study ``name`` at ``url``. A name with control characters, which `Study` refuses, is written into the SQLite
    database as an older version stored it (``None`` is returned then)."""
    space = ts.Space({"x": ts.Float(0.0, 1.0), "opt": ts.Choice(options or ["a", "b"])})
    created = "placeholder" if controls_in(name) else name
    study = ts.Study(space, metric="loss", storage=url, name=created, seed=0, budget=ts.Budget(trials=4))
    study.optimize(lambda trial: {"loss": (trial.params["x"] - 0.3) ** 2})
    if created == name:
        return study
    study.storage.close()
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection, connection:
        connection.execute("UPDATE studies SET name = ? WHERE name = ?", (name, created))
    return None


def write_config(directory: Path, options: str = '["a", "b"]', trials: int = 4) -> Path:
    path = directory / "names.toml"
    path.write_text(CONFIG.format(options=options, trials=trials))
    return path


# terminal_safe ------------------------------------------------------------------------------------------


def test_terminal_safe_escapes_rich_markup() -> None:
    shown = io.StringIO()
    Console(file=shown, width=200).print(terminal_safe("evil[/bold] [/] [red]x"))
    assert shown.getvalue() == "evil[/bold] [/] [red]x\n"


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("\x1b[2J", "\\x1b[2J"),  # ESC: clear screen
        ("\x1b]8;;http://e.vil/\x07", "\\x1b]8;;http://e.vil/\\x07"),  # OSC 8 link, ended by BEL
        ("a\rb", "a\\rb"),  # CR: overwrite the line
        ("a\nb", "a\\nb"),  # a name never fakes a second line
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("\x7f", "\\x7f"),  # DEL
        ("abc\u202edef", "abc\\u202edef"),  # bidi override (Trojan Source)
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidi isolates
        ("a\u2028b", "a\\u2028b"),  # line separator
    ],
)
def test_terminal_safe_shows_control_characters_as_escapes(raw: str, visible: str) -> None:
    assert terminal_safe(raw, markup=False) == visible


def test_terminal_safe_keeps_line_feeds_only_when_multiline() -> None:
    assert terminal_safe("a\nb\x1b", markup=False, multiline=True) == "a\nb\\x1b"


def test_terminal_safe_keeps_ordinary_text_as_it_is() -> None:
    text = "résumé-lr_0.1 (trials: 12) → ok · 学习率"
    assert terminal_safe(text) == text


# safe_file_name -----------------------------------------------------------------------------------------


@given(st.text(max_size=300))
def test_a_safe_file_name_is_one_harmless_path_component(name: str) -> None:
    safe = safe_file_name(name)
    assert safe not in ("", ".", "..") and ".." not in safe
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and not safe.endswith(".")
    assert terminal_safe(safe, markup=False) == safe  # no control characters
    assert (Path("root") / safe).parent == Path("root") and not Path(safe).is_absolute()
    assert len(safe) <= 120 and safe == safe_file_name(name)


@pytest.mark.parametrize("name", ["resnet-lr", "digits-mlp-20250101-120000", "a.b_c", "学习率"])
def test_a_safe_name_is_its_own_file_name(name: str) -> None:
    assert safe_file_name(name) == name


def test_an_unsafe_name_keeps_its_readable_part() -> None:
    assert safe_file_name("../../" + string.ascii_letters).startswith("______" + string.ascii_letters + "-")


def test_names_that_would_share_a_file_name_get_different_ones() -> None:
    names = ["a/b", "a_b", "a b", "a\\b", "..", "__", ".", "_"]
    assert len({safe_file_name(n) for n in names}) == len(names)


@pytest.mark.parametrize("name", ["..", ".", "../x", "../../x", "/etc", "a/../../b", "C:\\x", ""])
def test_the_default_checkpoint_root_is_always_a_folder_of_tunesmith_checkpoints(name: str) -> None:
    root = default_checkpoint_root(name)
    assert root.parent == Path("tunesmith-checkpoints") and root.name not in ("", ".", "..")


# defect: a study named `evil[/bold]` broke studies, status, best and trials for the whole storage ----------


@pytest.mark.parametrize("command", ["studies", "status", "best", "trials"])
def test_a_study_named_with_markup_does_not_break_reading_the_storage(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/names.db"
    make_study(url, "plain")
    make_study(url, "evil[/bold]")  # the most recent: what status, best and trials read by default
    result = invoke(command, "--storage", url)
    assert result.exit_code == 0, result.output
    assert "evil[/bold]" in result.output


# defect: a choice value `"[/]"` killed `tunesmith run` after the trials, with no report written ------------


def test_a_choice_value_that_is_markup_does_not_stop_run_writing_its_report(
    objectives_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_config(objectives_dir, options='["[/]", "[bold]b"]')
    report = tmp_path / "out.html"
    result = invoke("run", str(config), "--storage", f"sqlite:///{tmp_path}/v.db", "--no-progress",
                    "--report", str(report))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert report.is_file() and "Best: trial" in result.output


def test_trials_lists_markup_values_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/v.db"
    make_study(url, "values", options=["[/]"])
    result = invoke("trials", "--storage", url)
    assert result.exit_code == 0, result.output
    assert "opt=[/]" in result.output


def test_the_terminal_summary_prints_markup_parameter_names_and_values_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    space = ts.Space({"x": ts.Float(0.0, 1.0), "[b]opt": ts.Choice(["[/]"])})
    study = ts.Study(space, metric="loss", storage="memory", name="[i]s", seed=0, budget=ts.Budget(trials=3))
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    shown = io.StringIO()
    summary(study, console=Console(file=shown, width=200), analyses=False)
    assert "[i]s" in shown.getvalue() and "[b]opt" in shown.getvalue() and "[/]" in shown.getvalue()


# defect: escape sequences (clear screen, OSC 8 links) in names reached the terminal ----------------------


@pytest.mark.parametrize("command", ["studies", "status", "best", "trials"])
def test_escape_sequences_in_names_and_values_reach_the_terminal_escaped(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/esc.db"
    make_study(url, f"{CLEAR_SCREEN}s", options=[OSC8_LINK])
    result = invoke(command, "--storage", url)
    assert result.exit_code == 0, result.output
    assert CLEAR_SCREEN not in result.output and "\x1b]8" not in result.output and "\x07" not in result.output
    assert "\\x1b[2Js" in result.output


def test_escape_sequences_in_a_run_reach_the_terminal_escaped(
    objectives_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_config(objectives_dir, options='["\\u001b]8;;http://e.vil/\\u0007go", "\\u009b31m\\u202e"]')
    result = invoke("run", str(config), "--storage", f"sqlite:///{tmp_path}/r.db", "--no-progress", "--no-report")
    assert result.exit_code == 0, result.output
    for raw in ("\x1b]8", "\x07", "\x9b", "\u202e"):
        assert raw not in result.output
    assert "\\x1b]8" in result.output


def test_a_study_name_with_control_characters_is_refused_and_the_refusal_shows_them_escaped(
    objectives_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a name was stored, every listing showed it escaped, and no command line could name it again: the shown
    form named no study, and a NUL cannot be passed in an argument at all."""
    monkeypatch.chdir(tmp_path)
    config = write_config(objectives_dir)
    result = invoke("run", str(config), "--storage", f"sqlite:///{tmp_path}/r.db", "--no-progress", "--no-report",
                    "--name", f"{CLEAR_SCREEN}run")  # fmt: skip
    assert result.exit_code == 1
    assert CLEAR_SCREEN not in result.output
    assert "study name '\\x1b[2Jrun' holds control characters (\\x1b)" in result.output
    assert "name='[2Jrun'" in result.output
    # Refused before storage is opened: it created the database and said so ("created a new database ...").
    assert not (tmp_path / "r.db").exists() and "created a new database" not in result.output
    with pytest.raises(ts.ConfigError, match=r"holds control characters \(\\x00\)"):
        ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), storage="memory", name="run\x001")
    with pytest.raises(ts.ConfigError, match=r"holds control characters"):
        ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), storage=f"sqlite:///{tmp_path}/api.db", name="run\x1b1")
    assert not (tmp_path / "api.db").exists()
    url = f"sqlite:///{tmp_path}/source.db"
    make_study(url, "plain")
    copied = invoke("copy", "plain", "--storage", url, "--to", f"sqlite:///{tmp_path}/to.db", "--as", "x\x1by")
    assert copied.exit_code == 1 and "holds control characters (\\x1b)" in copied.output, copied.output
    assert not (tmp_path / "to.db").exists()
    with pytest.raises(ts.ConfigError, match=r"holds control characters"):
        ts.copy_study("plain", url, f"sqlite:///{tmp_path}/to2.db", to_name="x\x1by")
    assert not (tmp_path / "to2.db").exists()


def test_escape_sequences_in_names_in_an_error_reach_the_terminal_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/err.db"
    make_study(url, f"{CLEAR_SCREEN}known")
    result = CliRunner().invoke(cli, ["best", "other", "--storage", url])
    assert result.exit_code == 1 and "no study named 'other'" in result.output
    assert CLEAR_SCREEN not in result.output and "\\x1b[2Jknown" in result.output


# defect: a study named `../../x` wrote its report two folders up ----------------------------------------


def test_a_study_named_with_parent_folders_writes_its_report_in_the_working_directory(
    objectives_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    config = write_config(objectives_dir)
    result = invoke("run", str(config), "--storage", f"sqlite:///{tmp_path}/p.db", "--no-progress",
                    "--name", "../../x")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "x-report.html").exists()
    assert [p.name for p in work.glob("*-report.html")] == [f"{safe_file_name('../../x')}-report.html"]


# defect: a study named `..` deleted the user's trial-00000N folders in the working directory ---------------


def test_a_study_named_dot_dot_leaves_the_working_directory_alone(
    objectives_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tunesmith-checkpoints" / "an-earlier-study").mkdir(parents=True)  # `..` resolves through it
    mine = [tmp_path / f"trial-{n:06d}" for n in range(8)]
    for folder in mine:
        folder.mkdir()
        (folder / "precious.txt").write_text("the user's own")
    config = write_config(objectives_dir, trials=8)
    result = invoke("run", str(config), "--storage", f"sqlite:///{tmp_path}/d.db", "--no-progress", "--no-report",
                    "--name", "..")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all((folder / "precious.txt").is_file() for folder in mine)


def test_a_study_named_dot_dot_keeps_its_checkpoints_under_tunesmith_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    study = make_study("memory", "..")
    assert study is not None
    assert study.checkpoint_root.resolve().parent == tmp_path / "tunesmith-checkpoints"


# the guard: checkpoint deletion never leaves the study's checkpoint root -------------------------------


def test_checkpoint_deletion_refuses_a_trial_folder_that_links_outside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("not a checkpoint")
    store = CheckpointStore(tmp_path / "root", keep=0)
    store.root.mkdir()
    store.trial_dir(1).symlink_to(outside, target_is_directory=True)
    with pytest.warns(RuntimeWarning, match="not deleting checkpoint folder"):
        store.remove(1)
    assert (outside / "precious.txt").is_file()


def test_checkpoint_deletion_still_removes_a_trial_folder_inside_the_root(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "root", keep=0)
    store.trial_dir(2).mkdir(parents=True)
    (store.trial_dir(2) / "model.pt").write_text("weights")
    store.remove(2)
    assert not store.trial_dir(2).exists() and store.root.is_dir()


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_a_name_typed_composed_or_decomposed_is_one_study(storage: str, tmp_path: Path) -> None:
    """"café" precomposed and as "e" plus a combining accent (as macOS file names come) made two studies, each
    spending its own budget, that `tunesmith studies` listed alike."""
    import unicodedata

    from tunesmith.storage import open_storage

    store = open_storage("memory" if storage == "memory" else f"sqlite:///{tmp_path / 'names.db'}")
    composed, decomposed = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    first = ts.Study(space, metric="loss", storage=store, name=decomposed, seed=0, budget=ts.Budget(trials=2))
    first.optimize(lambda t: t.params["x"])
    again = ts.Study(space, metric="loss", storage=store, name=composed, seed=0)
    assert again.name == first.name == composed and len(again.trials) == 2
    assert [info.name for info in store.list_studies()] == [composed]
    assert ts.Study.load(decomposed, storage=store).name == composed


@pytest.mark.parametrize("name", ["quad ", " quad", "quad\n"])
def test_a_study_name_with_white_space_at_its_ends_is_refused_with_the_stripped_name(name: str) -> None:
    fix = r"white space at its ends, which no listing shows: pass name='quad'"
    with pytest.raises(ts.errors.ConfigError, match=fix):
        ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", name=name)


def test_names_with_markup_reach_the_report_figures_as_entities_plotly_shows_as_written() -> None:
    """Plotly reads <b> in figure text as markup: a parameter named optimizer<b> was drawn as "optimizer" in the
    importance bars, the slices and the parallel coordinates, though the tables showed it as written."""
    from tunesmith.report import analyse, plots, report_data

    space = ts.Space({"optimizer<b>": ts.Float(0.0, 1.0), "lr": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric="loss<i>", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=12))
    study.optimize(lambda t: {"loss<i>": t.params["optimizer<b>"] + 0.1 * t.params["lr"]})
    data = report_data(study)
    found = analyse(data)
    figures = [plots.importance(found.importance, found.importance_note), plots.slices(data),
               plots.parallel_coordinates(data), plots.history(data)]  # fmt: skip
    text = " ".join(figure.to_json() for figure in figures)
    assert "optimizer&lt;b&gt;" in text and "loss&lt;i&gt;" in text
    assert "optimizer<b>" not in text.replace("\\u003c", "<").replace("&lt;b&gt;", "")
