"""Our REST API through pytest-jupyter's ``jp_fetch``: a call, a call that must fail, a
saved server.

Called by the REST tests of every resource (servers, forwards, a hostile remote).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError, HTTPResponse

from .servers import server_input
from .sshd_host import SSHTestHost


async def call(jp_fetch: Any, method: str, *parts: str, body: Any = None, **kw: Any) -> Any:
    """METHOD on /PARTS; BODY as JSON unless bytes or text; an empty JSON object for a
    POST, PATCH or PUT without one. Raises HTTPClientError for a 4xx/5xx answer."""
    kwargs: dict[str, Any] = {"method": method, **kw}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
    elif method in ("POST", "PATCH", "PUT"):
        kwargs["body"] = "{}"
    return await jp_fetch(*parts, **kwargs)


async def expect_error(
    jp_fetch: Any, status: int, method: str, *parts: str, **kw: Any
) -> HTTPResponse:
    """``call`` that must be answered STATUS; the answer."""
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, method, *parts, **kw)
    assert info.value.code == status, info.value.response.body if info.value.response else ""
    assert info.value.response is not None
    return info.value.response


async def expect_error_body(
    jp_fetch: Any, status: int, method: str, *parts: str, **kw: Any
) -> dict[str, Any]:
    """``expect_error``'s JSON body ({message, reason, hint} for our errors)."""
    response = await expect_error(jp_fetch, status, method, *parts, **kw)
    body: dict[str, Any] = json.loads(response.body)
    return body


async def save_box(jp_fetch: Any, host: SSHTestHost) -> None:
    """Server `box` saved for HOST and its host key trusted, over REST (as the sidebar's
    wizard does), in this test's Jupyter data dir."""
    await call(jp_fetch, "POST", "remote", "servers", body=server_input(host))
    body = {"server": "box", "fingerprint": host.host_key_fingerprint}
    await call(jp_fetch, "POST", "remote", "hostkeys", body=body)
