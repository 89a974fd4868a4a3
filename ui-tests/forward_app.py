"""A web app on the remote's 127.0.0.1, reached only through a forward, for the
forward-isolation UI tests (tests/forward-isolation.spec.ts).

Run ON the test host as the remote user with the remote's Python (tornado comes
with ipykernel there):  python forward_app.py < config.json   where the JSON is
{"port": N, "kernel_id": ID, "jupyter": JUPYTER'S ORIGIN, "login_cookie": NAME,
"files": {NAME: TEXT}} (the pages of forward-pages/).

- ``/``: a HOSTILE page: ``attack.js`` tries to act in JupyterLab (read its
  cookies, call its API, open its websockets, post forms to it); its answer also
  carries what would loosen the sandbox or hurt Jupyter's origin (its own CSP with
  allow-same-origin, Set-Cookie of Jupyter's names, Clear-Site-Data, ...).
- ``/benign/``: a BENIGN app as TensorBoard-like apps are: scripts (classic and
  module), fetch/XHR GET and a JSON POST to its own API, a websocket echo that
  checks Origin like a careful app, a frame and a popup of its own pages, and what
  an opaque origin lacks (localStorage, its cookies, a worker, a service worker).
"""

import asyncio
import json
import sys

from tornado import web, websocket

CONFIG = json.load(sys.stdin)
FILES = CONFIG["files"]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def send_file(handler: web.RequestHandler, name: str) -> None:
    text = FILES[name].replace("{{KERNEL_ID}}", CONFIG["kernel_id"])
    text = text.replace("{{JUPYTER}}", CONFIG["jupyter"])
    handler.set_header("Content-Type", TYPES[name[name.rindex(".") :]])
    handler.finish(text)


class Hostile(web.RequestHandler):
    def get(self) -> None:
        for cookie in (
            "_xsrf=evil; Path=/",
            f"{CONFIG['login_cookie']}=evil; Path=/",
            "__Host-evil=1; Path=/; Secure",
            "hostile=1; Path=/; Domain=127.0.0.1",
        ):
            self.add_header("Set-Cookie", cookie)
        self.set_header("Clear-Site-Data", '"cookies", "storage", "cache"')
        self.set_header("Service-Worker-Allowed", "/")
        self.set_header("Referrer-Policy", "unsafe-url")
        self.set_header(
            "Content-Security-Policy",
            "sandbox allow-same-origin allow-scripts allow-top-navigation allow-forms "
            "allow-popups allow-popups-to-escape-sandbox",
        )
        send_file(self, "hostile.html")


class File(web.RequestHandler):
    def initialize(self, name: str) -> None:
        self.name = name

    def get(self) -> None:
        if self.name == "benign.html":  # a session cookie, as apps with a login set one
            self.set_header("Set-Cookie", "appsession=1; Path=/benign/")
        send_file(self, self.name)


class Data(web.RequestHandler):
    def get(self) -> None:
        self.set_header("X-App-Version", "7")
        self.finish({"value": 42})


class Cookie(web.RequestHandler):
    def get(self) -> None:
        self.finish({"cookie": self.request.headers.get("Cookie", "")})


class Echo(web.RequestHandler):
    def post(self) -> None:
        body = json.loads(self.request.body or b"null")
        self.finish({"echo": body, "type": self.request.headers.get("Content-Type")})


class EchoSocket(websocket.WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return origin == f"http://{self.request.host}"  # what a careful app does

    def on_message(self, message: object) -> None:
        self.write_message(f"echo:{message}")


async def main() -> None:
    app = web.Application(
        [
            (r"/", Hostile),
            (r"/attack.js", File, {"name": "attack.js"}),
            (r"/benign/", File, {"name": "benign.html"}),
            (r"/benign/app.js", File, {"name": "benign-app.js"}),
            (r"/benign/mod.js", File, {"name": "benign-mod.js"}),
            (r"/benign/frame.html", File, {"name": "benign-frame.html"}),
            (r"/benign/worker.js", File, {"name": "benign-worker.js"}),
            (r"/benign/sw.js", File, {"name": "benign-sw.js"}),
            (r"/benign/api/data", Data),
            (r"/benign/api/echo", Echo),
            (r"/benign/api/cookie", Cookie),
            (r"/benign/ws", EchoSocket),
        ]
    )
    app.listen(int(CONFIG["port"]), "127.0.0.1")
    print("listening", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
