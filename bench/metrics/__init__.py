"""The worker side of each metric, one module per metric, named by what it measures.

``python -m bench.worker TASK`` imports ``bench.metrics.<TASK["metric"]>`` and calls its
``make(task)`` (bench/worker.py); bench/drivers_*.py say which tasks each metric's table
needs. Workers run in the product's venv or in the peers' (bench/.venv-peers).

- ``start_to_first_result``  1: kernel start until the first result of ``1+1``, cold and warm
- ``cell_round_trip``        2: round trip of a trivial cell (reply and iopub idle)
- ``output_throughput``      3: 200 MB of stream text and of image/png displays
- ``discovery_time``         4: environment discovery with 1, 10 and 50 environments
- ``concurrent_kernels``     5: N kernels started at once in one process
- ``reconnect_time``         6: link restored until the session runs (and a cell replies)
- ``terminal_echo``          7: a terminal keystroke's echo, ours (websocket) and ``ssh -tt``
- ``ws_cell_round_trip``    10: a trivial cell through a Jupyter server's kernel websocket
"""
