"""Conformance suites any implementation of a tunesmith protocol can run (like scikit-learn's check_estimator).

* `tunesmith.testing.storage`: `STORAGE_CHECKS`, `check_storage(make_storage)`.
* `tunesmith.testing.schedulers`: `SCHEDULER_CHECKS`, `check_scheduler(make_scheduler)`.
* `tunesmith.testing.samplers`: the sampler suite.
* `tunesmith.testing.executors`: `EXECUTOR_CHECKS`, `check_executor(make_executor, adapt)`.
"""
