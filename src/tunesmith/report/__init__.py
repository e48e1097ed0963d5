"""Seeing a study: the HTML report, the terminal summary and trial export.

- `write_report(study, "report.html")`: one self-contained HTML file (plotly, works offline).
- `summary(study)`: the rich terminal summary (best configuration, top-k, importance, diagnosis).
- `trial_rows` / `write_csv` / `log_to_mlflow`: trials as flat rows, a CSV file, or MLflow runs.
"""

from tunesmith.report._data import Findings, ReportData, analyse, report_data
from tunesmith.report.html import render_report, write_report

__all__ = ["Findings", "ReportData", "analyse", "render_report", "report_data", "write_report"]
