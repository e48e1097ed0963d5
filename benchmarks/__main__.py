"""``python -m benchmarks``: run the suite and write JSON and Markdown results."""

from __future__ import annotations

import os

# One thread per library pool: runs are compared side by side, and OpenMP models (histogram
# gradient boosting) oversubscribe a small machine badly when every worker spawns a thread per core.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from benchmarks.run import main  # noqa: E402

raise SystemExit(main())
