"""What ``import tunesmith`` and ``tunesmith --help`` load: the heavy libraries wait until something uses them.

Each check runs a fresh interpreter, since this test session has long imported them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Libraries that cost a large share of a second each at start-up and are needed only by what uses them.
DEFERRED = ("scipy", "scipy.stats", "moocore", "cmaes", "sklearn", "sqlalchemy")

_REPORT = "import json, sys; print(json.dumps({'loaded': sorted(sys.modules), 'exit': exit_code}))"


def _loaded(code: str) -> tuple[list[str], object]:
    """The modules a fresh interpreter holds after ``code``, which sets ``exit_code``, and that exit code."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{_REPORT}"], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["loaded"], report["exit"]


def test_import_tunesmith_loads_none_of_the_heavy_libraries() -> None:
    loaded, exit_code = _loaded("import tunesmith\nexit_code = 0")

    assert exit_code == 0
    assert "tunesmith.study" in loaded  # the package really was imported, with its core
    assert [name for name in DEFERRED if name in loaded] == []


def test_tunesmith_help_loads_none_of_the_heavy_libraries() -> None:
    # The console script's own entry point, as `tunesmith --help` runs it.
    loaded, exit_code = _loaded(
        "import sys\n"
        "sys.argv = ['tunesmith', '--help']\n"
        "from tunesmith.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    exit_code = stop.code\n"
    )

    assert exit_code == 0
    assert [name for name in DEFERRED if name in loaded] == []


def test_tunesmith_best_and_studies_read_a_study_without_scipy(tmp_path: Path) -> None:
    """The commands that read a study back load no statistics library until a figure needs one: scipy.stats,
    imported by the curve analysis at its top, cost `tunesmith best` and `tunesmith studies` 0.8 s of their 1.9."""
    import tunesmith as ts

    url = f"sqlite:///{tmp_path / 's.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=12), storage=url,
                     name="s", seed=0)  # fmt: skip
    study.optimize(lambda trial: (trial.params["x"] - 0.3) ** 2)
    for command in (["best", "s"], ["studies"]):
        loaded, exit_code = _loaded(
            "import sys\n"
            f"sys.argv = ['tunesmith', *{command!r}, '--storage', {url!r}]\n"
            "from tunesmith.cli import main\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as stop:\n"
            "    exit_code = stop.code\n"
        )
        assert exit_code == 0, command
        assert "tunesmith.analysis.curves" in loaded, command  # the command read the study's curves
        assert [name for name in ("scipy.stats", "scipy.spatial", "sklearn") if name in loaded] == [], command
