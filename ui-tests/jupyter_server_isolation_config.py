"""Jupyter server configuration of the forward-isolation UI tests.

Started by tests/forward-isolation.spec.ts as
``jupyter lab --config jupyter_server_isolation_config.py`` with JUPYTER_DATA_DIR
in ui-tests/.jupyter-data-isolation. Unlike jupyter_server_test_config.py (loaded
first, for the labextension of this checkout and the emptied data dir), Jupyter's
protections stay ON here, as a user has them: token auth (JR_UI_TOKEN), login
cookie, XSRF checks. A hostile forwarded page must meet the real thing.
"""

import os

load_subconfig("jupyter_server_test_config.py")  # noqa: F821 - given to config files

c.ServerApp.port = int(os.environ["UI_TESTS_ISOLATION_PORT"])  # noqa: F821
c.IdentityProvider.token = os.environ["JR_UI_TOKEN"]  # noqa: F821
c.ServerApp.disable_check_xsrf = False  # noqa: F821
c.ServerApp.root_dir = os.environ["JR_UI_ROOT_DIR"]  # noqa: F821
# A name that is no loopback name, for the test that asks the entry route as a browser
# on another machine would (it gets the sandbox route, not the forward's own origin).
c.ServerApp.local_hostnames = ["localhost", "jupyter.test"]  # noqa: F821
