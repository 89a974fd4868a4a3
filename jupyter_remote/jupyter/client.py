"""HTTP and websocket client of a Jupyter server's REST API (tornado's client).

Called by ``kernels/jupyter_servers.py`` (test, kernelspecs, running kernels) and the
Jupyter kernel session (start, interrupt, restart, shutdown, the kernel websocket).
:class:`JupyterAPI` authenticates with a token (``Authorization: token``), a password
(Jupyter's login form, then its cookies and XSRF header) or nothing; validates HTTPS
certificates against the system's CAs plus an optional CA file, with no way to turn
that off; and reaches the server directly or through a private local socket carried
by SSH (``tunnel_path``). Every failure is a RemoteError that says what to do: a
remote 401/403 is :class:`JupyterAuthError` (422), never passed on as our own 403.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from tornado import httpclient, netutil, websocket

from ..errors import (
    JupyterAPIError,
    JupyterAuthError,
    JupyterCertificateError,
    JupyterConnectError,
    JupyterTooOldError,
    NotFoundError,
    RemoteError,
)
from ..text import RemoteJSONError, parse_remote_json, printable
from .wsproto import V1

MAX_BODY = 16 * 1024 * 1024
#: seconds between websocket pings; a link silent for twice this is taken as dropped
WS_PING = 5.0
#: ``GET api`` versions that are too old: Notebook 4.x (and IPython's 3.x before it) has no
#: kernel websocket session buffering; jupyter_server restarted its numbering at 1.0 and
#: Notebook 5-7 are fine (7 reports jupyter_server's version)
OLD_NOTEBOOK_MAJORS = (0, 3, 4)
MAX_WS_MESSAGE = 512 * 1024 * 1024  # one kernel message (a large display); like jupyter_server


class _UnixResolver(netutil.Resolver):
    """Every name resolves to the tunnel's local unix socket (TLS still checks the URL's
    host name: tornado wraps the connected socket with server_hostname = the URL's)."""

    def initialize(self, path: str) -> None:
        self.path = path

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        return [(socket.AF_UNIX, self.path)]


def _ssl_error(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError | ssl.CertificateError)


@dataclass
class JupyterAPI:
    """One Jupyter server's API as one user sees it (cookies of a password login kept)."""

    name: str
    url: str  # base URL ending with "/"
    auth: str = "token"
    secret: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    tunnel_path: str | None = None
    timeout: float = 20.0
    _cookies: dict[str, str] = field(default_factory=dict, repr=False)
    _logged_in: bool = False

    # ------------------------------------------------------------ plumbing

    def _where(self) -> str:
        return f"the Jupyter server {self.name} ({self.url})"

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https:"):
            return None
        ctx = ssl.create_default_context(cafile=None)  # the system's CAs, validation on
        if self.ca_file:
            ctx.load_verify_locations(cafile=self.ca_file)
        return ctx

    def _client(self) -> httpclient.AsyncHTTPClient:
        kwargs: dict[str, Any] = {"max_body_size": MAX_BODY}
        if self.tunnel_path:
            kwargs["resolver"] = _UnixResolver(path=self.tunnel_path)
        return httpclient.AsyncHTTPClient(force_instance=True, **kwargs)

    def _headers(self, *, mutating: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.auth == "token" and self.secret:
            headers["Authorization"] = f"token {self.secret}"
        if self._cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
            if mutating and "_xsrf" in self._cookies:
                headers["X-XSRFToken"] = self._cookies["_xsrf"]
        return headers

    def _keep_cookies(self, response: httpclient.HTTPResponse) -> None:
        for line in response.headers.get_list("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(line)
            except Exception:  # noqa: S112 - a cookie we cannot parse is one we do not need
                continue
            for key, morsel in jar.items():
                self._cookies[key] = morsel.value

    def _fail(self, exc: BaseException) -> RemoteError:
        """A transport failure as the error that says what to do."""
        if _ssl_error(exc):
            return JupyterCertificateError(
                f"The HTTPS certificate of {self._where()} is not valid: {printable(str(exc))}"
            )
        if isinstance(exc, httpclient.HTTPClientError) and exc.code == 599:
            inner = getattr(exc, "__cause__", None) or exc
            if _ssl_error(inner):
                return self._fail(inner)
            return JupyterConnectError(f"Cannot reach {self._where()}: {printable(str(exc))}")
        if isinstance(exc, OSError | TimeoutError):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return JupyterConnectError(
                f"Cannot reach {self._where()}: {printable(reason or type(exc).__name__)}"
            )
        return JupyterConnectError(f"Cannot reach {self._where()}: {printable(repr(exc))}")

    def _status_error(self, method: str, path: str, code: int, body: bytes) -> RemoteError:
        if code in (401, 403):
            what = {"token": "token", "password": "password"}.get(self.auth, "credentials")
            return JupyterAuthError(
                f"{self._where()} refused the {what} (HTTP {code})."
                if self.auth != "none"
                else f"{self._where()} needs a token or password (HTTP {code})."
            )
        message = ""
        try:
            answer = parse_remote_json(body.decode("utf-8", "replace"), max_depth=8)
            if isinstance(answer, dict):
                message = str(answer.get("message") or answer.get("reason") or "")
        except RemoteJSONError:
            pass
        detail = printable(message)[:500] or f"HTTP {code}"
        if code == 404:
            return NotFoundError(f"{self._where()}: {method} {path}: {detail}")
        return JupyterAPIError(f"{self._where()} answered {method} {path} with {detail}.")

    async def _fetch(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]
    ) -> httpclient.HTTPResponse:
        request = httpclient.HTTPRequest(
            self.url + path,
            method=method,
            body=body if body is not None else (b"" if method in ("POST", "PATCH") else None),
            headers=dict(headers),
            connect_timeout=self.timeout,
            request_timeout=self.timeout * 3,
            follow_redirects=False,
            validate_cert=True,
            ssl_options=self._ssl(),
            allow_nonstandard_methods=True,
        )
        client = self._client()
        try:
            return await client.fetch(request, raise_error=False)
        except Exception as exc:
            raise self._fail(exc) from None
        finally:
            client.close()

    async def request(
        self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,)
    ) -> Any:
        """One API call: the JSON answer (None for 204). ``path`` is relative to the URL."""
        await self._login_if_needed()
        data = json.dumps(body).encode() if body is not None else None
        headers = self._headers(mutating=method not in ("GET", "HEAD"))
        if data is not None:
            headers["Content-Type"] = "application/json"
        response = await self._fetch(method, path, data, headers)
        if response.code == 599:
            raise self._fail(response.error or OSError("connection failed"))
        self._keep_cookies(response)
        if response.code not in expect:
            if response.code in (301, 302, 303, 307) and "login" in (
                response.headers.get("Location") or ""
            ):
                raise self._status_error(method, path, 403, b"")
            raise self._status_error(method, path, response.code, response.body or b"")
        if not response.body:
            return None
        try:
            return parse_remote_json(response.body.decode("utf-8", "replace"))
        except RemoteJSONError as exc:
            raise JupyterAPIError(
                f"{self._where()} answered {method} {path} with something that is not "
                f"JSON ({exc}).",
                hint="Is the URL's base path right? For JupyterHub use "
                "https://HUB/user/NAME/ (the user's server, not the hub's own page).",
            ) from None

    # ------------------------------------------------------------ auth

    async def _login_if_needed(self) -> None:
        """Password auth: Jupyter's login form once; its cookies then authenticate."""
        if self.auth != "password" or self._logged_in:
            return
        page = await self._fetch("GET", "login", None, {})
        if page.code == 599:
            raise self._fail(page.error or OSError("connection failed"))
        self._keep_cookies(page)
        form = urlencode({"password": self.secret or "", "_xsrf": self._cookies.get("_xsrf", "")})
        headers = {
            **self._headers(mutating=True),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        answer = await self._fetch("POST", "login", form.encode(), headers)
        self._keep_cookies(answer)
        if answer.code not in (302, 303) or not any(
            k.startswith("username-") for k in self._cookies
        ):
            raise JupyterAuthError(f"{self._where()} refused the password.")
        self._logged_in = True

    # ------------------------------------------------------------ the API

    async def about(self) -> dict[str, Any]:
        """``GET api``: the server's version; too old or not Jupyter is a clear error."""
        try:
            info = await self.request("GET", "api")
        except NotFoundError:
            raise JupyterTooOldError(
                f"{self._where()} has no REST API at {self.url}api (HTTP 404).",
                hint="Check the base path (JupyterHub: https://HUB/user/NAME/); a Notebook "
                "server older than 5.0 is too old for kernels over its API.",
            ) from None
        version = str(info.get("version", "")) if isinstance(info, dict) else ""
        major = version.split(".")[0]
        if not major.isdigit():
            raise JupyterTooOldError(f"{self._where()} did not say its version ({version!r}).")
        if int(major) in OLD_NOTEBOOK_MAJORS:
            raise JupyterTooOldError(
                f"{self._where()} is Notebook {printable(version)}: too old for kernels over "
                "its REST API and websocket (Notebook 5.0 or later, or Jupyter Server, needed)."
            )
        # ask once, with credentials: a wrong token is a 403 here rather than mid-start
        await self.request("GET", "api/status")
        return {"version": printable(version)}

    async def kernelspecs(self) -> dict[str, Any]:
        answer = await self.request("GET", "api/kernelspecs")
        if not isinstance(answer, dict) or not isinstance(answer.get("kernelspecs"), dict):
            raise JupyterAPIError(f"{self._where()} sent malformed kernelspecs.")
        return answer

    async def kernels(self) -> list[dict[str, Any]]:
        answer = await self.request("GET", "api/kernels")
        return [k for k in answer if isinstance(k, dict)] if isinstance(answer, list) else []

    async def kernel(self, kernel_id: str) -> dict[str, Any] | None:
        """The kernel's model, None if the server has no such kernel (404)."""
        try:
            answer = await self.request("GET", f"api/kernels/{quote(kernel_id)}")
        except NotFoundError:
            return None
        return answer if isinstance(answer, dict) else None

    async def start_kernel(self, name: str, path: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if path:
            body["path"] = path
        answer = await self.request("POST", "api/kernels", body, expect=(200, 201))
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise JupyterAPIError(f"{self._where()} did not say which kernel it started.")
        return answer

    async def interrupt(self, kernel_id: str) -> None:
        await self.request("POST", f"api/kernels/{quote(kernel_id)}/interrupt", expect=(200, 204))

    async def restart(self, kernel_id: str) -> None:
        await self.request("POST", f"api/kernels/{quote(kernel_id)}/restart", expect=(200, 204))

    async def shutdown(self, kernel_id: str) -> bool:
        """DELETE the kernel; False if it was already gone."""
        try:
            await self.request("DELETE", f"api/kernels/{quote(kernel_id)}", expect=(200, 204))
        except NotFoundError:
            return False
        return True

    async def websocket(
        self, kernel_id: str, session_id: str, *, ping_interval: float = WS_PING
    ) -> websocket.WebSocketClientConnection:
        """The kernel's channels websocket, v1 protocol preferred (``selected_subprotocol``
        None means the legacy JSON protocol). The same ``session_id`` on a reconnect
        makes the server replay what it kept for us while we were away."""
        await self._login_if_needed()
        ws_url = "ws" + self.url[len("http") :] + f"api/kernels/{quote(kernel_id)}/channels"
        request = httpclient.HTTPRequest(
            f"{ws_url}?{urlencode({'session_id': session_id})}",
            headers=self._headers(mutating=True),
            connect_timeout=self.timeout,
            request_timeout=self.timeout * 3,
            validate_cert=True,
            ssl_options=self._ssl(),
        )
        resolver = _UnixResolver(path=self.tunnel_path) if self.tunnel_path else None
        try:
            return await websocket.websocket_connect(
                request,
                subprotocols=[V1],
                ping_interval=ping_interval,
                ping_timeout=ping_interval,
                max_message_size=MAX_WS_MESSAGE,
                resolver=resolver,
            )
        except httpclient.HTTPClientError as exc:
            if exc.code in (401, 403):
                raise self._status_error("GET", "channels", exc.code, b"") from None
            if exc.code == 404:
                raise NotFoundError(f"{self._where()} has no kernel {kernel_id}.") from None
            if exc.code in (400, 405, 426):
                raise JupyterTooOldError(
                    f"{self._where()} refused the kernel websocket (HTTP {exc.code})."
                ) from None
            if exc.code == 599:
                raise self._fail(exc) from None
            raise JupyterAPIError(
                f"{self._where()} refused the kernel websocket (HTTP {exc.code})."
            ) from None
        except Exception as exc:
            raise self._fail(exc) from None


def url_host_port(url: str) -> tuple[str, int]:
    """The host and port a URL connects to (the tunnel's destination)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
