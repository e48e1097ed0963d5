"""The live dashboard: ``tunesmith dashboard`` or `serve` shows a running study, read from storage.

- `serve(storage, study=None, host="127.0.0.1", port=0)`: start it in a background thread; the
  returned `DashboardServer` has ``.url`` and ``.shutdown()``.
"""

from tunesmith.dashboard.app import DashboardServer, check_host, serve

__all__ = ["DashboardServer", "check_host", "serve"]
