"""What a result depends on besides its parameters: interpreter, packages, code version.

A process describes its environment once (`environment`: git runs once per working directory, never per
trial). Every trial records the environment's `fingerprint` in its attributes (``attrs["environment"]``,
`TRIAL_KEY`), and the study's ``environment`` attribute (`tunesmith.attributes.EnvironmentAttr`) keeps, besides
the environment the study was created in, every environment a trial ran under, by fingerprint
(`record_environment`), so that trials run after the code changed are told apart from those run before.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from tunesmith.attributes import EnvironmentAttr
from tunesmith.errors import AttributeShapeError

if TYPE_CHECKING:
    from tunesmith.storage.base import Storage

__all__ = ["TRIAL_KEY", "environment", "fingerprint", "record_environment"]

_PACKAGES = ("tunesmith", "numpy", "scipy", "scikit-learn", "sqlalchemy", "torch", "ray")

# The trial attribute holding the fingerprint of the environment the trial ran under.
TRIAL_KEY = "environment"

# Hex digits of the fingerprint: 48 bits, so that two environments of one study never share one by chance.
_FINGERPRINT_LENGTH = 12


def _git(args: list[str], cwd: str | None) -> str | None:
    """The output of ``git args`` run in ``cwd``, ``None`` when git is missing or fails (not a repository)."""
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=False, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _git_commit(cwd: str | None) -> str | None:
    """The checked-out commit, with ``+dirty`` when a tracked file differs from it (staged or not).

    Untracked files do not count: the study's own SQLite database and checkpoints, kept in the repository
    and never committed, would mark every run dirty.
    """
    commit = (_git(["rev-parse", "HEAD"], cwd) or "").strip()
    if not commit:
        return None
    changed = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    # A status git could not give is no proof of a clean tree: the commit alone may not reproduce the run.
    return commit + ("+dirty" if changed is None or changed.strip() else "")


def fingerprint(described: Mapping[str, Any]) -> str:
    """A short hash of what makes one run's code differ from another's: the git commit (with its ``+dirty``
    mark) and the package versions of an `environment` (the interpreter and platform are left out: the
    platform string differs from machine to machine of one cluster)."""
    key = {"git_commit": described.get("git_commit"), "packages": dict(described.get("packages") or {})}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()
    return digest[:_FINGERPRINT_LENGTH]


@functools.cache
def _described(cwd: str | None) -> dict[str, Any]:
    packages: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    described: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": _git_commit(cwd),
    }
    return {**described, "fingerprint": fingerprint(described)}


def _working_directory() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # removed since the process started: git finds no repository either
        return None


def environment() -> dict[str, Any]:
    """A JSON description of this interpreter, the relevant package versions, the git commit of the working
    directory and their `fingerprint`.

    Described once per process and working directory (git runs once, not per trial): a commit made while the
    process runs is seen by the next process, as every run of ``tunesmith run`` or a script is one.
    """
    return copy.deepcopy(_described(_working_directory()))


def record_environment(storage: Storage, study_id: int, attrs: Mapping[str, Any]) -> str:
    """This process's fingerprint, its environment added to the study's ``environment`` attribute (under
    ``environments``) unless ``attrs``, the study's attributes as read now, hold it already.

    Written atomically (`Storage.update_study_attr`), so workers of several environments all land. A stored
    attribute in another shape is left as it is (the report notes it): recording never stops a search.
    """
    described = environment()
    own = described["fingerprint"]
    try:
        stored = EnvironmentAttr.from_json(attrs[EnvironmentAttr.KEY]) if EnvironmentAttr.KEY in attrs else None
    except AttributeShapeError:
        return own
    if stored is not None and own in stored.environments:
        return own
    entry = EnvironmentAttr.from_json(described)

    def add(current: Any) -> Any:
        if current is None:  # a study stored without one (imported, or written by an older tunesmith)
            return EnvironmentAttr.from_json(described).with_environment(entry).to_json()
        try:
            return EnvironmentAttr.from_json(current).with_environment(entry).to_json()
        except AttributeShapeError:
            return current

    storage.update_study_attr(study_id, EnvironmentAttr.KEY, add)
    return own
