"""A Jupyter server's URL: normalised, and a refused one never echoes what it carried
(a token pasted with the URL must not come back in a 400 answer or a log line)."""

from __future__ import annotations

import pytest

from jupyter_remote.errors import ValidationError
from jupyter_remote.store.validation import validate_jupyter_url

SECRET = "5ecret-t0ken-that-must-not-come-back"


@pytest.mark.parametrize(
    "url",
    [
        f"http://lab:99999/?token={SECRET}",
        f"http://lab:port/?token={SECRET}",
        f"http://{SECRET}@lab:8888/",
        f"https://lab:8888/lab?token={SECRET}",
        f"ftp://lab/{SECRET}",
        f"http://[{SECRET}/",
    ],
)
def test_refused_urls_never_echo_a_token(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_jupyter_url(url)
    error = info.value
    assert SECRET not in str(error) and SECRET not in (error.hint or "")
    assert error.field == "url"


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://lab:8888", "http://lab:8888/"),
        ("https://hub.example.org/user/alice/lab", "https://hub.example.org/user/alice/"),
        ("http://[::1]:8888/tree", "http://[::1]:8888/"),
    ],
)
def test_urls_are_normalised(url: str, normalised: str) -> None:
    assert validate_jupyter_url(url) == normalised
