"""docs/reference/cli.md against the real command line, the click group `tunesmith.cli.cli`.

The page has a ``## `` section per command, headed by its name as typed after ``tunesmith`` (``best``, ``storage
upgrade``), in the order ``tunesmith --help`` lists them; each section's table has a row naming, in its first cell,
every option string of its command (``-o`` and ``--output``, ``--progress`` and ``--no-progress``), and the page
names no ``--flag`` that no command has. A flag added to the command line without a row here, or one renamed or
removed from it but left here, fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from tunesmith.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "cli.md"

_HEADING = re.compile(r"^## +(?P<title>.+?) *$", re.MULTILINE)
# A flag as a word of its own: not the tail of a longer flag or a hyphenated word ("co-op" names no -o).
_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


def commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    """Every command a user runs, named as typed after ``tunesmith`` (a group's commands under the group's name),
    in the order the group's help lists them."""
    context = click.Context(group, info_name=" ".join(("tunesmith", *prefix)))
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{name!r} is listed by the help of {context.info_name} but cannot be found"
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
        else:
            found.append((" ".join((*prefix, name)), command))
    return found


def option_strings(command: click.Command) -> list[str]:
    """What a user can type for the command's options: every name of each (``-o``, ``--output``), and the off
    switch of an on/off flag (``--no-progress``)."""
    return [text for param in command.params if isinstance(param, click.Option)
            for text in (*param.opts, *param.secondary_opts)]  # fmt: skip


def sections(text: str) -> dict[str, str]:
    """The page's ``## `` sections by their heading (backticks dropped), each up to the next ``## `` heading."""
    found = list(_HEADING.finditer(text))
    ends = [match.start() for match in found[1:]] + [len(text)]
    return {match["title"].replace("`", ""): text[match.end() : end] for match, end in zip(found, ends, strict=True)}


def table_flags(section: str) -> set[str]:
    """The flags a section's table rows name in their first cell, where the flag's row says its default and
    meaning: a flag named only in prose (``refused without --allow-remote``) has no row."""
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("|") and line.count("|") > 2]
    return {flag for cell in cells for flag in _FLAG.findall(cell)}


def missing_sections(text: str) -> list[str]:
    """The commands the page has no section for."""
    titled = sections(text)
    return [name for name, _ in commands() if name not in titled]


def missing_options(text: str) -> list[str]:
    """``command: option`` for each option string no row of its command's table names (a command without a
    section is `missing_sections`' to report)."""
    titled = sections(text)
    return [f"{name}: {flag}" for name, command in commands() if name in titled
            for flag in option_strings(command) if flag not in table_flags(titled[name])]  # fmt: skip


def unknown_flags(text: str) -> list[str]:
    """The ``--flags`` the page names that no command has (nor the group: ``--version``, ``--help``)."""
    context = click.Context(cli, info_name="tunesmith")
    known = {text for param in cli.get_params(context) if isinstance(param, click.Option) for text in param.opts}
    known |= {flag for _, command in commands() for flag in option_strings(command)}
    named = {flag for flag in _FLAG.findall(text) if flag.startswith("--")}
    return sorted(named - known)


def page_text() -> str:
    assert PAGE.is_file(), f"{PAGE.relative_to(ROOT)} is missing: it is the command line's reference page"
    return PAGE.read_text(encoding="utf-8")


def test_every_command_has_a_section() -> None:
    missing = missing_sections(page_text())
    assert not missing, (
        f"{PAGE.relative_to(ROOT)} has no '## NAME' section for {', '.join(missing)}: add one per command, saying "
        "what it does, every flag with its default, its exit codes and an example"
    )


def test_each_section_has_a_row_for_every_option_of_its_command() -> None:
    missing = missing_options(page_text())
    assert not missing, (
        f"{PAGE.relative_to(ROOT)} leaves out these options (command: option): {'; '.join(missing)}: add a row "
        "for each to its command's table, with its default and meaning"
    )


def test_the_page_names_no_flag_that_no_command_has() -> None:
    unknown = unknown_flags(page_text())
    assert not unknown, (
        f"{PAGE.relative_to(ROOT)} names {', '.join(unknown)}, which no tunesmith command has: remove it, or "
        "rename it to the flag the command line has (tunesmith COMMAND --help lists them)"
    )


def test_the_sections_follow_the_order_of_the_help() -> None:
    listed = [name for name, _ in commands()]
    shown = [title for title in sections(page_text()) if title in listed]
    assert shown == listed, f"the sections run {shown}, but tunesmith --help lists {listed}: put them in its order"


def test_a_section_without_a_row_for_an_option_is_reported() -> None:
    rows = page_text().splitlines(keepends=True)
    without = "".join(row for row in rows if not row.startswith("| `--allow-remote`"))
    assert "--allow-remote" in without  # still named in the dashboard's prose, which is no row
    assert missing_options(without) == ["dashboard: --allow-remote"]


def test_a_flag_that_no_command_has_is_reported() -> None:
    invented = page_text() + "\nPass `--allow-remotes` to serve anywhere.\n"
    assert unknown_flags(invented) == ["--allow-remotes"]


def test_a_command_without_a_section_is_reported() -> None:
    without = page_text().replace("## plan\n", "## planning\n")
    assert missing_sections(without) == ["plan"]
