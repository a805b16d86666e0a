"""The benchmark harness: servers under test, /proc sampling, the Node load-generator pool,
the scenarios and the Markdown report. `bench/run.py` is the entry point."""
