"""What a result depends on besides its parameters: interpreter, packages, code version."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

__all__ = ["environment"]

_PACKAGES = ("tunesmith", "numpy", "scipy", "scikit-learn", "sqlalchemy", "torch", "ray")


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5, check=False)
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def environment() -> dict[str, Any]:
    """A JSON description of this interpreter, the relevant package versions and the git commit."""
    packages: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": packages,
        "git_commit": _git_commit(),
    }
