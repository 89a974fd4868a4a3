"""Profiles: checking an interpreter on the remote, installing ipykernel, saving a
profile with its kernelspec. Called through RemoteManager by the REST handlers and the
CLI's ``profile`` commands."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ..context import RemoteContext
from ..errors import IpykernelMissingError, RemoteCommandError, ValidationError
from ..remote import command_python
from ..ssh.exec import run, stream
from ..store import Profile
from ..text import RemoteJSONError, parse_remote_json, printable, printable_tree
from . import kernelspecs

PYTHON_CHECK = (
    "import sys,json,importlib.util as u;"
    "print(json.dumps({'version':'%d.%d.%d'%tuple(sys.version_info[:3]),"
    "'ipykernel':u.find_spec('ipykernel') is not None,'prefix':sys.prefix}))"
)


async def check_python(ctx: RemoteContext, server: str, python: str) -> dict[str, Any]:
    """Version and ipykernel presence of one interpreter on ``server`` (one exec)."""
    endpoint = await ctx.endpoint(server)
    async with ctx.pool.connection(endpoint) as conn:
        result = await run(
            conn,
            command_python(python, "-c", PYTHON_CHECK),
            timeout=30,
            what=f"the answer of {python}",
            where=repr(server),
        )
    text = result.stdout.rstrip()
    line = text[text.rfind("\n") + 1 :]
    if not line.startswith(("{", "[")):
        # The request named an interpreter that is not there: the caller's input is
        # wrong (400 on the python field), not the remote (which answered fine).
        detail = result.stderr.strip() or printable(text[-300:], keep_newlines=True)
        raise ValidationError(
            f"{python!r} does not run on {server}: {detail[-300:]}",
            field="python",
            hint="Pick an interpreter from `jupyter remote env list SERVER`.",
        )
    try:  # an answer, but maybe a hostile one: bounded parse, printable strings
        check = parse_remote_json(line)
        if not isinstance(check, dict):
            raise RemoteJSONError("the answer is not a JSON object")
    except RemoteJSONError as exc:
        raise RemoteCommandError(
            f"{python} on {server} gave an unusable answer to a version check: {exc}.",
            hint="Pick an interpreter from `jupyter remote env list SERVER`; something "
            "other than Python answers at that path.",
        ) from None
    return dict(printable_tree(check))


async def install_ipykernel(
    ctx: RemoteContext, server: str, python: str, on_output: Callable[[str], None]
) -> None:
    """pip-install ipykernel into that interpreter's environment, streaming pip's output."""
    endpoint = await ctx.endpoint(server)
    async with ctx.pool.connection(endpoint) as conn:
        status = await stream(
            conn,
            command_python(
                python, "-m", "pip", "install", "--disable-pip-version-check", "ipykernel"
            ),
            on_output,
        )
    if status != 0:
        raise RemoteCommandError(
            f"pip could not install ipykernel into {python} (exit status {status}).",
            hint="See pip's output above; a system Python may need a virtualenv instead.",
        )


def profile_json(profile: Profile) -> dict[str, Any]:
    """A profile as the REST API and the CLI show it: with its kernelspec's name."""
    return {**profile.to_json(), "kernel_name": kernelspecs.spec_name(profile.name)}


async def save_profile(
    ctx: RemoteContext,
    data: Mapping[str, Any],
    *,
    install_ipykernel: bool = False,
    on_output: Callable[[str], None] | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Validate, check the interpreter remotely, save, and write kernelspec remote-NAME."""
    profile = await asyncio.to_thread(Profile.from_input, data)
    await asyncio.to_thread(ctx.store.get_server, profile.server)
    version: str | None = None
    env_name: str | None = None
    if profile.python:
        check = await check_python(ctx, profile.server, profile.python)
        if not check.get("ipykernel"):
            if not install_ipykernel:
                raise IpykernelMissingError(
                    f"ipykernel is not installed in {profile.python} on {profile.server}.",
                    hint="Install it with --install-ipykernel (CLI) or the Install ipykernel "
                    "button, or pick another environment.",
                    python=profile.python,
                )
            await _install(ctx, profile.server, profile.python, on_output or (lambda _: None))
            check = await check_python(ctx, profile.server, profile.python)
            if not check.get("ipykernel"):
                raise IpykernelMissingError(
                    f"ipykernel is still not importable by {profile.python}."
                )
        version = str(check.get("version") or "") or None
        prefix = str(check.get("prefix") or "")
        if prefix and prefix not in ("/usr", "/usr/local"):
            env_name = prefix.rstrip("/").rsplit("/", 1)[-1]
    display = kernelspecs.display_name(profile, version=version, env_name=env_name)
    profile = dataclasses.replace(profile, display_name=display)
    await asyncio.to_thread(ctx.store.save_profile, profile, replace=replace)
    await asyncio.to_thread(kernelspecs.write_kernelspec, profile, display=display)
    return profile_json(profile)


_install = install_ipykernel  # save_profile's keyword of the same name shadows it
