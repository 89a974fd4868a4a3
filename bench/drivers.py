"""The metrics: ``METRICS`` maps a metric's number to its driver, which says which
workers to start, how to interleave them and which tables to fill.

What every driver uses (Ctx, Sizes, Contender, round_robin) is in drivers_core.py; the
drivers are grouped by metric family, one module each (bench/README.md lists them).
"""

from __future__ import annotations

from collections.abc import Callable

from bench.drivers_cells import metric_output, metric_rtt
from bench.drivers_core import Ctx
from bench.drivers_discovery import metric_discovery
from bench.drivers_files import metric_file_transfer, metric_listing
from bench.drivers_reconnect import metric_reconnect
from bench.drivers_standby import metric_standby, metric_standby_ws
from bench.drivers_start import metric_concurrent, metric_start
from bench.drivers_terminal import metric_terminal_echo
from bench.drivers_ws import metric_kernel_websocket

METRICS: dict[int, Callable[[Ctx], None]] = {
    1: metric_start,
    2: metric_rtt,
    3: metric_output,
    4: metric_discovery,
    5: metric_concurrent,
    6: metric_reconnect,
    7: metric_terminal_echo,
    8: metric_file_transfer,
    9: metric_listing,
    10: metric_kernel_websocket,
    11: metric_standby,
    12: metric_standby_ws,
}
