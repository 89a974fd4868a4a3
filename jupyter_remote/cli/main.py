"""Entry point of ``jupyter remote`` (console script ``jupyter-remote``): the grammar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..sessions import registry
from . import files as cli_files
from . import jupyter as jupyter_cli
from . import profiles, servers
from . import slurm as slurm_cli
from .common import run
from .envs import env_create, env_list
from .forward import forward
from .terminal import terminal

EPILOG = "Exit codes: 0 ok, 1 error, 2 usage, 3 host key unknown, 4 host key changed."


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _verb(
    group: Commands, name: str, help_text: str, func: Any, *, json: bool = False
) -> argparse.ArgumentParser:
    """One ``NOUN VERB`` command running ``func`` (``--json`` when it lists or reports)."""
    p: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    p.set_defaults(func=func)
    if json:
        _json(p)
    return p


Commands = Any  # argparse's _SubParsersAction: private, not worth naming


def build_parser() -> argparse.ArgumentParser:
    """The whole grammar (as README records it), one command group at a time."""
    parser = argparse.ArgumentParser(
        prog="jupyter remote",
        description="Run Jupyter kernels on remote machines over SSH.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=__version__)
    top = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    for add_group in (_servers, _hostkeys, _envs, _profiles, _kernels, _forward, _terminal, _files):
        add_group(top)
    slurm_cli.add_group(top, EPILOG)
    return parser


def _servers(top: Commands) -> None:
    server = top.add_parser("server", help="saved SSH servers and Jupyter servers", epilog=EPILOG)
    srv = server.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = srv.add_parser(
        "add",
        help="save a server: an SSH host (--host) or a Jupyter server (--url)",
        description="An SSH host: --host HOST [...]. A Jupyter server that already runs: "
        "--url URL [--token | --password] [--via SSHSERVER] (the secret is prompted for, or "
        "read from stdin; never on the command line).",
    )
    p.add_argument("name")
    p.add_argument("--host", help="an SSH host (name, IP or ~/.ssh/config alias)")
    p.add_argument(
        "--url", help="a Jupyter server: http(s)://HOST:PORT/BASE/ (JupyterHub: /user/NAME/)"
    )
    p.add_argument("--token", action="store_true", help="Jupyter server: prompt for its token")
    p.add_argument(
        "--via", metavar="SSHSERVER", help="Jupyter server: reach the URL from this SSH server"
    )
    p.add_argument("--kernel", metavar="KERNELSPEC", help="Jupyter server: its default kernel")
    p.add_argument(
        "--ca-file", metavar="PEM", help="Jupyter server: a CA its HTTPS certificate chains to"
    )
    p.add_argument("--port", type=int)
    p.add_argument("--user")
    p.add_argument("--identity", help="private key file (default: your usual keys and ssh-agent)")
    p.add_argument(
        "--password", action="store_true", help="use password auth; prompts (or reads stdin)"
    )
    p.add_argument("--passphrase", action="store_true", help="prompt for the key's passphrase")
    p.add_argument("--auth", choices=("key", "agent", "password"))
    p.add_argument("--jump", metavar="[U@]HOST[:PORT]", help="jump host (like ssh -J)")
    p.add_argument(
        "--channel-transport",
        choices=("unix", "tcp", "exec"),
        help="how kernel channels reach the remote relay: unix (default: a private unix "
        "socket), exec (the relay's stream over an exec channel: for an sshd that forbids "
        "all forwarding) or tcp (only if the host's sshd forbids socket forwarding: a "
        "token-protected port on the remote's 127.0.0.1 that other users can see)",
    )
    _json(p)
    p.set_defaults(func=servers.server_add)
    _verb(srv, "list", "list servers", servers.server_list, json=True)
    _verb(srv, "remove", "forget a server", servers.server_remove).add_argument("name")
    jupyter_cli.add_edit_parser(srv)
    p = srv.add_parser("test", help="connect and report host key, auth, round trip, OS, python")
    p.add_argument("name")
    p.add_argument(
        "--trust", action="store_true", help="trust an UNKNOWN host key (never a changed one)"
    )
    p.add_argument(
        "--password", action="store_true", help="prompt for the password (or read stdin)"
    )
    p.add_argument("--passphrase", action="store_true", help="prompt for the key's passphrase")
    _json(p)
    p.set_defaults(func=servers.server_test)


def _hostkeys(top: Commands) -> None:
    hostkey = top.add_parser("hostkey", help="trusted host keys")
    hk = hostkey.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = hk.add_parser(
        "list", help="list trusted host keys (ours and the known_hosts files OpenSSH reads)"
    )
    _json(p)
    p.set_defaults(func=servers.hostkey_list)
    p = hk.add_parser("remove", help="forget the trusted key(s) of HOST[:PORT]")
    p.add_argument("host", metavar="HOST[:PORT]")
    p.set_defaults(func=servers.hostkey_remove)


def _envs(top: Commands) -> None:
    env = top.add_parser("env", help="Python environments on a server")
    ev = env.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ev.add_parser("list", help="discover environments (one SSH round trip, cached)")
    p.add_argument("server")
    p.add_argument("--refresh", action="store_true", help="probe again instead of the cache")
    _json(p)
    p.set_defaults(func=env_list)
    p = ev.add_parser(
        "create",
        help="create an environment with ipykernel from a base Python (venv, uv or conda)",
        description="Make a new environment for Jupyter on the server (where pip may not "
        "install into the system Python, PEP 668): ~/.virtualenvs/NAME with venv or uv, "
        "~/.conda/envs/NAME with conda; ipykernel installed, output streamed.",
    )
    p.add_argument("server")
    p.add_argument("--python", required=True, metavar="BASE", help="the base interpreter")
    p.add_argument("--name", help="environment name (default: jupyter-X.Y)")
    p.add_argument(
        "--with", dest="tool", choices=("venv", "uv", "conda"), default="venv", help="how"
    )
    _json(p)
    p.set_defaults(func=env_create)


def _profiles(top: Commands) -> None:
    profile = top.add_parser("profile", help="connection profiles (kernelspecs remote-NAME)")
    pr = profile.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = pr.add_parser("add", help="save a profile")
    p.add_argument("name")
    p.add_argument("--server", required=True)
    p.add_argument("--python", required=True)
    _profile_options(p)
    slurm_cli.add_options(p)
    p.add_argument("--replace", action="store_true", help="overwrite an existing profile")
    p.set_defaults(func=profiles.profile_add)
    p = pr.add_parser(
        "edit",
        aliases=["set"],
        help="change a profile (only the options given); its kernelspec follows",
    )
    p.add_argument("name")
    p.add_argument("--server")
    p.add_argument("--python")
    _profile_options(p)
    slurm_cli.add_options(p, edit=True)
    p.add_argument(
        "--unset-env", action="append", default=[], metavar="KEY", help="drop a variable"
    )
    p.set_defaults(func=profiles.profile_edit)
    _verb(pr, "list", "list profiles", profiles.profile_list, json=True)
    _verb(
        pr, "remove", "remove a profile and its kernelspec", profiles.profile_remove
    ).add_argument("name")
    _verb(
        pr,
        "standby",
        "the profile's standby kernel: running? its memory on the remote",
        profiles.profile_standby,
        json=True,
    ).add_argument("name")


def _profile_options(p: argparse.ArgumentParser) -> None:
    """The options ``profile add`` and ``profile edit`` share."""
    p.add_argument("--cwd", help="working directory on the remote ('' on edit: home)")
    p.add_argument("--create-cwd", action="store_true", help="create the directory if missing")
    p.add_argument(
        "--idle-timeout",
        metavar="DURATION",
        help="stop the kernel when idle this long with no client: 15m, 1h30m, 900 (s), never",
    )
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--display-name", help="the kernel's name in the launcher and picker ('': automatic)"
    )
    p.add_argument(
        "--install-ipykernel", action="store_true", help="pip-install ipykernel there if missing"
    )
    p.add_argument(
        "--standby",
        action=argparse.BooleanOptionalAction,
        help="keep one pre-warmed kernel ready on the remote: a start takes it (--no-standby: off)",
    )
    _json(p)


def _kernels(top: Commands) -> None:
    kernel = top.add_parser("kernel", help="kernels our agent runs on a server")
    kn = kernel.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = kn.add_parser("list", help="list remote kernels")
    p.add_argument("server")
    p.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=5.0,
        metavar="SECONDS",
        help="list again every SECONDS (default 5) until Ctrl-C: queued jobs start, time runs",
    )
    _json(p)
    p.set_defaults(func=profiles.kernel_list)
    p = kn.add_parser("stop", help="stop a remote kernel")
    p.add_argument("server")
    p.add_argument("kernel_id")
    p.set_defaults(func=profiles.kernel_stop)


def _forward(top: Commands) -> None:
    p = top.add_parser(
        "forward",
        help="forward a port on the remote's 127.0.0.1 to this machine",
        description="Listen on 127.0.0.1:LOCAL_PORT here and forward every connection over "
        "the server's SSH connection to 127.0.0.1:REMOTE_PORT on the remote (TensorBoard, a "
        "web app, a debugger). Reconnects by itself; runs until Ctrl-C.",
        epilog=EPILOG,
    )
    p.add_argument("server")
    p.add_argument("remote_port", type=int, metavar="REMOTE_PORT")
    p.add_argument("--local-port", type=int, metavar="N", help="local port (default: a free one)")
    p.set_defaults(func=forward)


def _terminal(top: Commands) -> None:
    p = top.add_parser(
        "terminal",
        help="a shell on the server in this terminal (like ssh -t)",
        description="Open the login shell of SERVER on a pty over its SSH connection, with "
        "this terminal's size; reconnects by itself when the link drops (a new shell, or "
        "the same one with --persistent). Exits with the remote shell's exit status.",
        epilog=EPILOG,
    )
    p.add_argument("server")
    p.add_argument(
        "--persistent",
        action="store_true",
        help="run the shell in a tmux (or screen) session on the server that survives "
        "link drops (needs one of them there; ended when this command ends)",
    )
    p.set_defaults(func=terminal)


def _files(top: Commands) -> None:
    files = top.add_parser(
        "files",
        help="files on a server (SFTP on its SSH connection)",
        description="PATH is on the remote: absolute, ~/..., or relative to the home "
        "directory. Transfers show progress on a terminal and never leave a partial file "
        "under the final name.",
        epilog=EPILOG,
    )
    fs = files.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = _verb(fs, "ls", "list a remote directory", cli_files.files_ls, json=True)
    p.add_argument("server")
    p.add_argument("path", nargs="?", default="~", metavar="PATH")
    p = _verb(fs, "get", "download a remote file (to LOCAL, default here)", cli_files.files_get)
    p.add_argument("server")
    p.add_argument("path", metavar="PATH")
    p.add_argument("local", nargs="?", metavar="LOCAL")
    p = _verb(fs, "put", "upload LOCAL (default: PATH's name here) to PATH", cli_files.files_put)
    p.add_argument("server")
    p.add_argument("path", metavar="PATH")
    p.add_argument("local", nargs="?", metavar="LOCAL")


def main(argv: Sequence[str] | None = None) -> int:
    # this process's events (transfers, a forward's or terminal's state) stay in it: not
    # checked against their schemas, which would import jsonschema (~1.1 s) on the first
    registry.check_events = False
    parser = build_parser()
    args = parser.parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
