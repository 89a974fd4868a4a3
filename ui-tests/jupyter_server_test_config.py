"""Jupyter server configuration for the Galata/Playwright UI tests.

Started by playwright.config.js (webServer) as
``jupyter lab --config jupyter_server_test_config.py`` with JUPYTER_DATA_DIR
pointing into ui-tests/.jupyter-data, which is emptied here first: saved
servers, profiles, trusted host keys and kernelspecs start from nothing.

Never use this configuration in production: it removes Jupyter's security
protections (no token, no XSRF check).
"""

import os
import shutil
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

configure_jupyter_server(c)  # noqa: F821 - `c` is the config object

c.ServerApp.port = int(os.environ.get("UI_TESTS_PORT", "18888"))  # noqa: F821

# Fail fast in the tests rather than wait 20 s.
c.RemoteExtensionApp.connect_timeout = 10.0  # noqa: F821

data_dir = os.environ.get("JUPYTER_DATA_DIR")
if data_dir and Path(data_dir).resolve().is_relative_to(HERE):
    shutil.rmtree(data_dir, ignore_errors=True)
    Path(data_dir).mkdir(parents=True)
    # Serve the extension as built in this checkout (`jlpm build` writes it to
    # jupyter_remote/labextension), whatever sys-prefix/share holds, like
    # `jupyter labextension develop` would.
    labextensions = Path(data_dir) / "labextensions"
    labextensions.mkdir()
    (labextensions / "jupyterlab-remote").symlink_to(ROOT / "jupyter_remote" / "labextension")
    # In a virtualenv jupyter_core puts sys-prefix paths before the data dir:
    # name it explicitly (after galata's helper extension) so it wins.
    c.LabServerApp.extra_labextensions_path = [  # noqa: F821
        str(Path(__import__("jupyterlab.galata").galata.__file__).parent),
        str(labextensions),
    ]

# CI containers run as root.
c.ServerApp.allow_root = True  # noqa: F821
