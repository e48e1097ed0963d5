"""Seeing a study: the HTML report, the terminal summary and trial export.

- `write_report(study, "report.html")`: one self-contained HTML file (plotly, works offline).
- `summary(study)`: the rich terminal summary (best configuration, top-k, importance, diagnosis).
- `trial_rows` / `write_csv` / `log_to_mlflow` / `log_to_tensorboard`: trials as flat rows, a CSV file, MLflow or
  TensorBoard runs.
"""

from tunesmith.report._data import Findings, ReportData, analyse, report_data
from tunesmith.report.export import log_to_mlflow, log_to_tensorboard, trial_rows, write_csv
from tunesmith.report.html import render_report, write_report
from tunesmith.report.terminal import summary

__all__ = [
    "Findings",
    "ReportData",
    "analyse",
    "log_to_mlflow",
    "log_to_tensorboard",
    "render_report",
    "report_data",
    "summary",
    "trial_rows",
    "write_csv",
    "write_report",
]
