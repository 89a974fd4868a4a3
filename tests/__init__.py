"""The test suite: a package, so pytest puts the repository root on sys.path and tests,
the bench, the UI tests and the demo import the harness as ``tests.harness``."""
