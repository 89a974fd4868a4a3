"""Benchmarks of jupyterlab-remote against its peers (``make bench`` -> bench/RESULTS.md).

Not part of ``make test``. ``python -m bench.run`` sets up its own test hosts (a loopback
sshd, a network-namespace sshd behind a 50 ms userspace delay proxy), runs every metric
in worker processes (``bench.worker``) and writes ``bench/RESULTS.md``.
"""
