"""What the sandbox route lets through: its headers, CORS answer and cookie rules.

Pure data and one pure function, used by forward_proxy.py (``_ForwardHandler`` puts
SANDBOX_HEADERS on every answer of both forward routes; ``SandboxProxyHandler``
filters upstream headers with DROPPED_UPSTREAM, CORS_SAFELISTED and JUPYTER_ONLY and
rescopes each Set-Cookie with ``sandbox_cookie``). Why each rule exists: forward_proxy's
docstring and invariant 11.
"""

from __future__ import annotations

import re

SANDBOX_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
#: on every answer of both forward routes; the CSP replaces Jupyter's default one,
#: whose frame-ancestors 'self' would keep the app from framing its own pages
SANDBOX_HEADERS = {
    "Content-Security-Policy": SANDBOX_CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: The sandboxed page's origin is "null", so its fetch/XHR, fonts and module scripts
#: to its own app are cross-origin: allowed for "null" only. Whoever can name these
#: URLs holds the capability already.
SANDBOX_CORS = {
    "Access-Control-Allow-Origin": "null",
    "Access-Control-Allow-Credentials": "true",
    "Vary": "Origin",
}
#: Upstream answer headers that would weaken the sandbox or act on Jupyter's origin
#: (Clear-Site-Data would log the user out of Jupyter and wipe JupyterLab's storage);
#: CORS is ours to answer.
DROPPED_UPSTREAM = {
    "clear-site-data",
    "service-worker-allowed",
    "referrer-policy",
    "x-content-type-options",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-private-network",
    "access-control-expose-headers",
    "access-control-max-age",
}
#: answer headers a cross-origin script may read without Access-Control-Expose-Headers
CORS_SAFELISTED = {
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
}
#: Jupyter's own credentials: never passed to the service from the sandbox route
JUPYTER_ONLY = {"authorization", "x-xsrftoken", "x-csrftoken"}
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def sandbox_cookie(value: str, prefix: str, jupyter_cookies: set[str]) -> str | None:
    """An upstream ``Set-Cookie`` scoped to the forward's sandbox prefix, or None to drop it.

    Called by SandboxProxyHandler for each Set-Cookie of the service. Domain goes (the
    cookie stays host-only) and Path moves under ``prefix``, so the cookie never
    reaches Jupyter's own routes; Jupyter's cookie names and ``__Host-``/``__Secure-``
    names (which demand Path=/ or a secure origin) are dropped.
    """
    parts = value.split(";")
    name = parts[0].split("=", 1)[0].strip()
    if not name or name in jupyter_cookies or name.lower().startswith(("__host-", "__secure-")):
        return None
    path = "/"
    kept = [parts[0].strip()]
    for attr in parts[1:]:
        key, _, val = attr.partition("=")
        key = key.strip().lower()
        if key == "domain":
            continue
        if key == "path":
            val = val.strip()
            path = val if val.startswith("/") else "/"
            continue
        if attr.strip():
            kept.append(attr.strip())
    kept.append(f"Path={prefix}{path}")
    return "; ".join(kept)
