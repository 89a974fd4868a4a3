"""The routes of the server extension (RemoteExtensionApp.initialize_handlers adds them;
the server adds base_url). One table, read by the OpenAPI check and the auth audit."""

from __future__ import annotations

from tornado import web

from .base import CAPABILITY, NAME
from .events import EventsHandler
from .files import PATH, CheckpointsHandler, DownloadHandler, FilesHandler, UploadHandler
from .forward_proxy import (
    ForwardEntryHandler,
    ForwardRootHandler,
    SandboxProxyHandler,
    SandboxRootHandler,
)
from .forwards import ForwardHandler, ForwardsHandler
from .kernels import RemoteKernelAttachHandler, RemoteKernelHandler, RemoteKernelsHandler
from .openapi import OpenAPIHandler
from .profiles import (
    InstallIpykernelHandler,
    ProfileHandler,
    ProfilesHandler,
    ProfileStandbyHandler,
)
from .servers import (
    EnvironmentsHandler,
    HostKeyHandler,
    HostKeysHandler,
    ServerGPUsHandler,
    ServerHandler,
    ServersHandler,
    ServerTestHandler,
)
from .sessions import SessionHandler, SessionRetryHandler, SessionsHandler
from .slurm import ServerSlurmHandler
from .terminals import TERMINAL_ID, TerminalHandler, TerminalsHandler, TerminalSocket


def routes() -> list[tuple[str, type[web.RequestHandler]]]:
    """Called by RemoteExtensionApp.initialize_handlers; the server adds base_url."""
    return [
        (r"/remote/servers", ServersHandler),
        (rf"/remote/servers/{NAME}", ServerHandler),
        (rf"/remote/servers/{NAME}/test", ServerTestHandler),
        (rf"/remote/servers/{NAME}/environments", EnvironmentsHandler),
        (rf"/remote/servers/{NAME}/gpus", ServerGPUsHandler),
        (rf"/remote/servers/{NAME}/slurm", ServerSlurmHandler),
        (r"/remote/hostkeys", HostKeysHandler),
        (rf"/remote/hostkeys/{NAME}", HostKeyHandler),
        (r"/remote/profiles", ProfilesHandler),
        (rf"/remote/profiles/{NAME}", ProfileHandler),
        (rf"/remote/profiles/{NAME}/standby", ProfileStandbyHandler),
        (rf"/remote/servers/{NAME}/install-ipykernel", InstallIpykernelHandler),
        (rf"/remote/servers/{NAME}/kernels", RemoteKernelsHandler),
        (rf"/remote/servers/{NAME}/kernels/(?P<kernel_id>[^/]+)", RemoteKernelHandler),
        (rf"/remote/servers/{NAME}/kernels/(?P<kernel_id>[^/]+)/attach", RemoteKernelAttachHandler),
        (r"/remote/sessions", SessionsHandler),
        (rf"/remote/sessions/{NAME}", SessionHandler),
        (rf"/remote/sessions/{NAME}/retry", SessionRetryHandler),
        (r"/remote/events", EventsHandler),
        (r"/remote/forwards", ForwardsHandler),
        (rf"/remote/forwards/{NAME}", ForwardHandler),
        (rf"/remote/forward/{NAME}/(?P<path>.*)", ForwardEntryHandler),
        (rf"/remote/forward/{NAME}", ForwardRootHandler),
        (rf"/remote/sandbox/{NAME}/{CAPABILITY}/(?P<path>.*)", SandboxProxyHandler),
        (rf"/remote/sandbox/{NAME}/{CAPABILITY}", SandboxRootHandler),
        (rf"/remote/servers/{NAME}/terminals", TerminalsHandler),
        (rf"/remote/servers/{NAME}/terminals/{TERMINAL_ID}", TerminalHandler),
        (rf"/remote/servers/{NAME}/terminals/{TERMINAL_ID}/websocket", TerminalSocket),
        (rf"/remote/servers/{NAME}/files", FilesHandler),  # the remote's /
        (rf"/remote/servers/{NAME}/files/{PATH}", FilesHandler),
        (rf"/remote/servers/{NAME}/download/{PATH}", DownloadHandler),
        (rf"/remote/servers/{NAME}/uploads/{PATH}", UploadHandler),
        (rf"/remote/servers/{NAME}/checkpoints/{PATH}", CheckpointsHandler),
        (r"/remote/openapi.json", OpenAPIHandler),
    ]
