"""tunesmith's benchmark: its samplers and peer tuners side by side, same problems, budgets and seeds.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` for a smoke run. See `benchmarks.run`.
"""
