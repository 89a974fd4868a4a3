"""The suite's fixtures live in the harness (tests/harness/fixtures.py): loaded here."""

import pytest

# helpers of the harness assert too: show their values as in a test
pytest.register_assert_rewrite("tests.harness")

# jp_fetch, jp_serverapp, ... for the server extension tests; ssh_host, isolated_home, ...
pytest_plugins = ("pytest_jupyter.jupyter_server", "tests.harness.fixtures")
