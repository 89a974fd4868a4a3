"""The base of every /remote/ REST handler: auth resource, JSON bodies, JSON errors.

Every handler method of web/ is ``@web.authenticated`` + ``@authorized`` on
``auth_resource = "remote"`` (invariant 9): :func:`remote_auth`, one decorator for
both. Errors are ``{"message", "reason", "hint"}`` with the status of the
RemoteError, never 401/403 for remote failures (those are Jupyter's own);
:func:`error_body` is the one JSON error writer, which the forward proxies use too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import RemoteError, ValidationError
from ..manager import RemoteManager

log = logging.getLogger(__name__)

Method = TypeVar("Method", bound=Callable[..., Any])
Handler = TypeVar("Handler", bound=type[web.RequestHandler])

#: the HTTP methods a proxy relays (tornado's, but CONNECT)
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


MAX_BODY = 64 * 1024


NAME = r"(?P<name>[^/]+)"


CAPABILITY = r"(?P<secret>[^/]+)"


def remote_auth(method: Method) -> Method:
    """Every handler method of web/ (invariant 9): Jupyter's login (``@web.authenticated``),
    then its authorizer on the handler's ``auth_resource`` ("remote"), the action from
    the HTTP method (``@authorized``). Once per method: ``@authorized`` keeps the action
    of the first request a function saw, so one function never serves two methods."""
    return cast(Method, web.authenticated(authorized(method)))


def every_method(answer: str, *, auth: bool = True) -> Callable[[Handler], Handler]:
    """Class decorator of the forward proxies: each of :data:`HTTP_METHODS` is a method of
    its own (behind :func:`remote_auth` unless ``auth`` is False: the origin listener,
    whose credential is its Host) that awaits ``self.<answer>(*path_args)``."""

    def decorate(cls: Handler) -> Handler:
        for name in HTTP_METHODS:
            setattr(cls, name, _relaying_method(name, answer, auth=auth))
        return cls

    return decorate


def _relaying_method(name: str, answer: str, *, auth: bool) -> Callable[..., Any]:
    async def method(self: web.RequestHandler, *args: str, **kwargs: str) -> None:
        await getattr(self, answer)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return remote_auth(method) if auth else method


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a repeated key is ambiguous input."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValidationError(f"Key {key[:64]!r} appears twice in the request body.")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValidationError(f"Request body is not valid JSON ({name} is not a JSON value).")


class JSONErrors(web.RequestHandler):
    """The one JSON error writer: ``{"message", "reason", "hint"}`` with the status of the
    RemoteError (or the HTTP error), never a traceback. Every handler of web/ has it."""

    def error_body(self, status_code: int, exc: BaseException | None) -> dict[str, Any]:
        """The body for an error; a RemoteError's own, else a short one from the status."""
        if isinstance(exc, RemoteError):
            self.set_status(exc.status)
            return exc.to_json()
        message = getattr(exc, "log_message", None) or self._reason
        if status_code >= 500 and not isinstance(exc, web.HTTPError):
            message = "Internal error in jupyterlab-remote; see the Jupyter server log."
        return {"message": message, "reason": self._reason, "hint": ""}

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        body = self.error_body(status_code, exc)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A RemoteError is the user's problem, logged as one line; anything else is ours."""
        if isinstance(value, RemoteError):
            log.info(
                "%s %s -> %s: %s",
                self.request.method,
                self.request.path,
                value.reason,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)


class RemoteHandler(JSONErrors, APIHandler):
    """Base of every /remote/ handler: auth resource, JSON errors, body parsing."""

    auth_resource = "remote"
    max_body = MAX_BODY  # largest JSON body accepted (file saves take more)

    @property
    def manager(self) -> RemoteManager:
        return self.settings["remote_manager"]

    def json_body(self) -> Any:
        raw = self.request.body or b""
        if len(raw) > self.max_body:
            raise ValidationError(f"Request body too large (over {self.max_body} bytes).")
        if not raw.strip():
            return {}
        try:
            return json.loads(
                raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
            )
        except UnicodeDecodeError:
            raise ValidationError("Request body is not valid UTF-8.") from None
        except ValueError:
            raise ValidationError("Request body is not valid JSON.") from None
        except RecursionError:  # e.g. 30,000 nested "[" fit in MAX_BODY
            raise ValidationError("Request body is nested too deeply.") from None

    def json_object(self) -> dict[str, Any]:
        """The (required) body as a JSON object: an empty body is refused, not taken as {}."""
        if not (self.request.body or b"").strip():
            raise ValidationError("Request body must be a JSON object; it is empty.")
        body = self.json_body()
        if not isinstance(body, dict):
            raise ValidationError("Request body must be a JSON object.")
        return body

    def refresh_flag(self) -> bool:
        """``?refresh=0|1|false|true`` of a listing the server caches (environments, GPUs):
        True to ask the remote again; anything else is a 400 naming the field."""
        refresh = self.get_argument("refresh", "0", strip=False)
        if refresh not in ("0", "1", "false", "true"):
            raise ValidationError("refresh must be 0 or 1.", field="refresh")
        return refresh in ("1", "true")

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))
