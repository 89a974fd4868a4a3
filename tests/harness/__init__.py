"""The test harness: the real things tests, the bench, the UI tests and the demo start.

Imported as ``tests.harness.<module>`` from the repository root: pytest puts the root
on sys.path (tests/ is a package), the bench and the demo run as ``python -m`` from
there, and so does the UI tests' host (``python -m tests.harness.ui_host``). Nothing
here is imported by the package.

Stdlib only (any Python >= 3.9, no pytest):

- ``sshd_host``      a real OpenSSH sshd (SSHTestHost) and ssh-agent (SSHAgent)
- ``netns_host``     an sshd in its own network namespace, link cuts and drops (root)
- ``slurm_cluster``  a real Slurm cluster: slurmctld here, slurmd in namespaces (root)
- ``waiting``        ``eventually()``: wait until something holds, say what was seen
- ``remote_state``   what our kernels leave on a test host, and cleaning it up
- ``cli``            the `jupyter remote` CLI in an isolated environment
- ``ui_host``        the UI tests' sshd, driven by signals (ui-tests/global-setup.js)

With the product's venv:

- ``live_server``    a real `jupyter server` subprocess with a token
- ``servers``        a test host saved as our server `box` and profile `p`
- ``clients``        kernel clients: ``execute`` (blocking), ``WSKernel`` (websocket)
- ``fixtures``       the pytest fixtures (a plugin loaded by tests/conftest.py)
"""
