"""The import graph's layers: a lower layer never imports a higher one, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "tunesmith"

# Each layer may import its own and lower layers only.
LAYERS: list[set[str]] = [
    # the core: data types, plug-in protocols and implementations, storage, executors, the study
    {"errors", "_validate", "_registry", "_attribute_json", "_text", "_numbers", "_noise", "_progress", "decision",
     "environment", "space", "trial", "objective", "budget", "context", "attributes", "fidelity", "samplers",
     "schedulers", "storage", "executors", "study", "testing", "pareto",
     "_attributes_judging", "choose", "_checkpoint_file", "_report_rules", "_trial_table", "_stable_name",
     "_trial_warnings", "_caller", "_console"},
    # built on the study: configs, the learning-rate toolkit, the scikit-learn search, the demo's study
    {"config", "lr", "integrations", "demo"},
    # reading results
    {"analysis"},
    # judging a search, drawing it, serving it; copying and deleting whole studies (which reads the discipline's
    # records: a holdout opening is not deleted unasked)
    {"discipline", "report", "_study_admin"},
    {"dashboard"},
    {"cli", "__init__", "__main__"},
]  # fmt: skip


def _layer(top: str) -> int:
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"tunesmith.{top} is in no layer: add it to LAYERS in tests/test_layers.py")


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level tunesmith module)`` for every import in ``path``, wherever it appears."""
    found = []
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names] if base == "tunesmith" else [base]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "tunesmith" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def _module_top(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    own = _layer(_module_top(path))
    upward = [f"line {line}: tunesmith.{top}" for line, top in _imports(path) if _layer(top) > own]
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {own}) imports upward: {upward}"
