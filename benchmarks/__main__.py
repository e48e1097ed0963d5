"""``python -m benchmarks``: run the suite and write JSON and Markdown results."""

from __future__ import annotations

from benchmarks.run import main

raise SystemExit(main())
