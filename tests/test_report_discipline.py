"""The report states results relative to the baseline and shows the optimism estimate and holdout openings."""

from __future__ import annotations

from pathlib import Path

import tunesmith as ts
from tunesmith.report import write_report


def test_report_shows_baseline_optimism_and_holdout_openings(tmp_path: Path) -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", seed=0, sampler="random",
                     budget=ts.Budget(trials=8))  # fmt: skip
    study.optimize(lambda t: (t.params["x"] - 0.3) ** 2)
    study.set_attr("baseline", {"mean": 0.2, "std": 0.03, "params": {"x": 0.5}, "runs": [{}, {}, {}]})
    study.set_attr("optimism", {"best": 0.01, "compared": 8, "corrected": 0.02, "estimate": 0.01,
                                "method": "order statistics", "detail": "best of 8 <scores>"})  # fmt: skip
    study.set_attr("holdout_log", [{"at": 1.7e9, "trial": 3, "how": "best", "forced": False},
                                   {"at": 1.7e9 + 60, "trial": 3, "how": "best", "forced": True}])  # fmt: skip
    text = write_report(study, tmp_path / "r.html").read_text()
    assert "baseline (defaults)" in text and "run across 3 seeds" in text
    assert "mean 0.2 ± 0.03 (standard deviation over seeds)" in text  # its spread, as the re-runs printed it
    assert "8 configurations compared on the same validation data." in text and "best of 8 &lt;scores&gt;" in text
    study.set_attr("optimism", {"best": 0.01, "compared": 20, "corrected": 0.02, "estimate": 0.01,
                                "method": "order statistics", "detail": "best of 20", "validation_set": "churn<val>",
                                "earlier": {"first": 12}, "across": 0.013})  # fmt: skip
    text = write_report(study, tmp_path / "r.html").read_text()
    assert (
        "20 configurations compared on the same validation data, and 12 more by 1 earlier study on this storage "
        "that tuned on validation set &#x27;churn&lt;val&gt;&#x27; (&#x27;first&#x27;: 12)"
    ) in text
    assert "the best of the 32 is optimistic by about 0.013, against 0.01 for this study&#x27;s best of 20" in text
    assert text.count("first opening") == 1 and text.count("<td>forced</td>") == 1


def test_the_seed_figure_shows_the_winners_fresh_seeds_after_the_pick_beside_the_runs_that_picked_it() -> None:
    # The verdict judges the winner on its confirmation runs: the figure showed the selection runs alone.
    from tunesmith.attributes import SeedCandidateAttr, SeedStabilityAttr
    from tunesmith.report import plots

    stability = SeedStabilityAttr(metric="acc", candidates=(
        SeedCandidateAttr(label="#7", values=(0.9625, 0.95625, 0.9625), confirm_values=(0.95, 0.95625, 0.96875)),
        SeedCandidateAttr(label="#3", values=(0.95, 0.94, 0.955)),
    ))  # fmt: skip
    boxes = {trace.name: list(trace.y) for trace in plots.seed_stability(stability).data}
    assert boxes == {"#7": [0.9625, 0.95625, 0.9625], "#7: 3 fresh seeds after the pick": [0.95, 0.95625, 0.96875],
                     "#3": [0.95, 0.94, 0.955]}  # fmt: skip
