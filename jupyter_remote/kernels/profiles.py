"""Profiles: checking an interpreter and the working directory on the remote (one exec),
installing ipykernel, saving or editing a profile with its kernelspec. Called through
RemoteManager by the REST handlers and the CLI's ``profile`` commands."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from ..context import RemoteContext
from ..errors import (
    ConflictError,
    ExternallyManagedError,
    IpykernelMissingError,
    NotFoundError,
    ReadOnlyError,
    RemoteCommandError,
    ValidationError,
    WorkingDirectoryMissingError,
)
from ..remote import command_python
from ..remote.interpreters import IPYKERNEL_FOUND
from ..ssh.exec import run, stream
from ..store import Profile
from ..text import RemoteJSONError, parse_remote_json, printable, printable_tree
from . import kernelspecs, slurm_memory, standby

#: Runs in the profile's interpreter; its request ({"cwd", "create"}) comes on stdin, so
#: the directory is data, never part of a command line. Answers one JSON line: version,
#: ipykernel (as discovery decides it), prefix, whether pip may install there (PEP 668)
#: and the directory's state.
#: A missing directory is created only when asked, with the login's umask.
PYTHON_CHECK = """
import sys, os, json, sysconfig, importlib.util as u
r = json.loads(sys.stdin.readline() or "{}")
s = u.find_spec("ipykernel")
a = {"version": "%d.%d.%d" % tuple(sys.version_info[:3]),
     "ipykernel": IPYKERNEL_FOUND, "prefix": sys.prefix,
     "externally_managed": sys.prefix == sys.base_prefix and os.path.isfile(
         os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))}
c = r.get("cwd")
if isinstance(c, str) and c:
    p = os.path.expanduser(c)
    d = {"path": p, "exists": os.path.isdir(p), "created": False, "error": ""}
    if not d["exists"] and r.get("create"):
        try:
            os.makedirs(p)
            d["exists"] = d["created"] = True
        except OSError as e:
            d["error"] = e.strerror or str(e)
    a["cwd"] = d
print(json.dumps(a))
""".replace("IPYKERNEL_FOUND", IPYKERNEL_FOUND)

#: What pip says when a system Python refuses packages (PEP 668).
PEP668_MARK = "externally-managed-environment"


async def check_python(
    ctx: RemoteContext,
    server: str,
    python: str,
    *,
    cwd: str | None = None,
    create_cwd: bool = False,
) -> dict[str, Any]:
    """Version, ipykernel, PEP 668 status of one interpreter on ``server``, and the state of
    ``cwd`` there (created when ``create_cwd``), in one exec."""
    endpoint = await ctx.endpoint(server)
    request = json.dumps({"cwd": cwd, "create": create_cwd}).encode() + b"\n"
    async with ctx.pool.connection(endpoint) as conn:
        result = await run(
            conn,
            command_python(python, "-c", PYTHON_CHECK),
            stdin=request,
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
    """pip-install ipykernel into that interpreter's environment, streaming pip's output.

    A system Python that refuses (PEP 668) is an ExternallyManagedError whose hint is
    what works: a new environment from that Python (``env create``)."""
    endpoint = await ctx.endpoint(server)
    refused = False

    def watch(line: str) -> None:
        nonlocal refused
        refused = refused or PEP668_MARK in line
        on_output(line)

    async with ctx.pool.connection(endpoint) as conn:
        status = await stream(
            conn,
            command_python(
                python, "-m", "pip", "install", "--disable-pip-version-check", "ipykernel"
            ),
            watch,
        )
    if status != 0 and refused:
        raise externally_managed(server, python)
    if status != 0:
        raise RemoteCommandError(
            f"pip could not install ipykernel into {python} (exit status {status}).",
            hint="See pip's output above. If this is a system Python, create an environment "
            f"for Jupyter instead: `jupyter remote env create {server} --python {python}` "
            "(or Create environment in the wizard).",
        )


def externally_managed(server: str, python: str) -> ExternallyManagedError:
    """The refusal of a system Python, with the fix: an environment of its own."""
    return ExternallyManagedError(
        f"{python} on {server} is managed by the system (PEP 668, "
        "externally-managed-environment): pip may not install ipykernel into it.",
        hint=f"Create an environment for Jupyter from it: `jupyter remote env create {server} "
        f"--python {python}` (or Create environment in the wizard), then use that one.",
        python=python,
    )


def profile_json(profile: Profile) -> dict[str, Any]:
    """A profile as the REST API and the CLI show it: ``display_name`` is what the launcher
    shows, ``custom_display_name`` the user's own (null: automatic), and its kernelspec."""
    return {
        **profile.to_json(),
        "display_name": kernelspecs.display_name(profile),
        "custom_display_name": profile.display_name,
        "kernel_name": kernelspecs.spec_name(profile.name),
    }


async def save_profile(
    ctx: RemoteContext,
    data: Mapping[str, Any],
    *,
    install_ipykernel: bool = False,
    create_cwd: bool = False,
    on_output: Callable[[str], None] | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Validate, check interpreter and working directory remotely (``create_cwd``: make a
    missing one), save, write kernelspec remote-NAME; its standby kernel follows.
    ``RemoteManager.add_profile`` (REST, CLI)."""
    old = await saved_profile(ctx, data.get("name")) if replace else None
    profile = await asyncio.to_thread(Profile.from_input, data)
    warnings = await slurm_memory.check_profile(ctx, profile)  # a job too small: refused
    profile = await _checked(
        ctx, profile, install=install_ipykernel, create_cwd=create_cwd, on_output=on_output
    )
    saved = await _store(ctx, profile, replace=replace)
    await standby.profile_saved(ctx, saved["name"], old)
    return {**saved, "warnings": warnings} if warnings else saved


async def saved_profile(ctx: RemoteContext, name: Any) -> Profile | None:
    """The saved profile ``name`` as it is now, or None (a new one): what its standby
    kernel follows from (``standby.profile_saved``, ``profile_removed``)."""
    try:
        return await asyncio.to_thread(ctx.store.get_profile, str(name))
    except (NotFoundError, ValidationError):
        return None


async def update_profile(
    ctx: RemoteContext,
    name: str,
    changes: Mapping[str, Any],
    *,
    install_ipykernel: bool = False,
    create_cwd: bool = False,
    on_output: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Change some fields of a saved profile (PATCH, ``profile edit``:
    ``RemoteManager.update_profile``); the kernelspec and the standby kernel follow.

    The remote is asked again only when what it decides changed (server, interpreter,
    kernelspec, working directory); admin profiles stay read-only; no renames."""
    current = await asyncio.to_thread(ctx.store.get_profile, name)
    if current.readonly:
        raise ReadOnlyError(f"Profile {name!r} is defined by an administrator.")
    if not isinstance(changes, Mapping):
        raise ValidationError("A profile must be a JSON object.")
    if changes.get("name", name) != name:
        raise ValidationError(
            "A profile cannot be renamed; add a new one and remove this one.", field="name"
        )
    merged = {**current.input_fields(), **changes, "name": name}
    profile = await asyncio.to_thread(Profile.from_input, merged)
    warnings = await slurm_memory.check_profile(ctx, profile, refuse="slurm" in changes)
    remote = ("server", "python", "kernelspec", "cwd")
    if (
        create_cwd
        or install_ipykernel
        or any(getattr(profile, k) != getattr(current, k) for k in remote)
    ):
        profile = await _checked(
            ctx, profile, install=install_ipykernel, create_cwd=create_cwd, on_output=on_output
        )
    else:
        profile = dataclasses.replace(
            profile, python_version=current.python_version, env_name=current.env_name
        )
    saved = await _store(ctx, profile, replace=True)
    await standby.profile_saved(ctx, saved["name"], current)
    return {**saved, "warnings": warnings} if warnings else saved


async def _checked(
    ctx: RemoteContext,
    profile: Profile,
    *,
    install: bool,
    create_cwd: bool,
    on_output: Callable[[str], None] | None,
) -> Profile:
    """The profile with the facts its interpreter gave (version, env name), after making
    sure it can run kernels there: ipykernel importable, working directory present."""
    await asyncio.to_thread(ctx.store.get_server, profile.server)
    python = profile.python or "python3"  # a kernelspec profile: the login's python3
    check = await check_python(ctx, profile.server, python, cwd=profile.cwd, create_cwd=create_cwd)
    _require_cwd(profile, check.get("cwd"))
    if not profile.python:
        return profile
    if not check.get("ipykernel"):
        if not install:
            raise _ipykernel_missing(profile, managed=check.get("externally_managed") is True)
        await install_ipykernel(ctx, profile.server, profile.python, on_output or (lambda _: None))
        check = await check_python(ctx, profile.server, profile.python)
        if not check.get("ipykernel"):
            raise IpykernelMissingError(f"ipykernel is still not importable by {profile.python}.")
    version = str(check.get("version") or "")[:32] or None
    prefix = str(check.get("prefix") or "")
    env_name = None
    if prefix and prefix not in ("/usr", "/usr/local"):
        env_name = prefix.rstrip("/").rsplit("/", 1)[-1][:100] or None
    return dataclasses.replace(profile, python_version=version, env_name=env_name)


def _require_cwd(profile: Profile, state: Any) -> None:
    """A WorkingDirectoryMissingError (with the fix) unless the profile's cwd is there."""
    if not profile.cwd or not isinstance(state, dict) or state.get("exists") is True:
        return
    path = str(state.get("path") or profile.cwd)
    error = str(state.get("error") or "")
    if error:
        raise WorkingDirectoryMissingError(
            f"The working directory {profile.cwd} could not be created on {profile.server}: "
            f"{error}.",
            hint="Choose another directory, or create it there yourself.",
            field="cwd",
            path=path,
        )
    raise WorkingDirectoryMissingError(
        f"The working directory {profile.cwd} does not exist on {profile.server} ({path}).",
        hint="Create it with --create-cwd (CLI) or the Create directory button, or choose "
        "another one.",
        field="cwd",
        path=path,
    )


def _ipykernel_missing(profile: Profile, *, managed: bool) -> IpykernelMissingError:
    if managed:  # pip would refuse: offer what works
        hint = (
            f"{profile.python} is a system Python (PEP 668): pip may not install into it. "
            f"Create an environment for Jupyter from it with `jupyter remote env create "
            f"{profile.server} --python {profile.python}` (or Create environment in the "
            "wizard), or pick another environment."
        )
    else:
        hint = (
            "Install it with --install-ipykernel (CLI) or the Install ipykernel button, "
            "or pick another environment."
        )
    return IpykernelMissingError(
        f"ipykernel is not installed in {profile.python} on {profile.server}.",
        hint=hint,
        python=profile.python,
        externally_managed=managed,
    )


async def _store(ctx: RemoteContext, profile: Profile, *, replace: bool) -> dict[str, Any]:
    """Save the record and (re)write its kernelspec; display names must stay apart."""
    display = kernelspecs.display_name(profile)
    others = await asyncio.to_thread(ctx.store.list_profiles)
    for other in others:
        if other.name != profile.name and kernelspecs.display_name(other) == display:
            raise ConflictError(
                f"Profile {other.name} already shows as {display!r} in the kernel picker.",
                hint="Give this profile another display name (or leave it empty for the "
                "automatic one).",
                field="display_name",
            )
    await asyncio.to_thread(ctx.store.save_profile, profile, replace=replace)
    await asyncio.to_thread(kernelspecs.write_kernelspec, profile, display=display)
    return profile_json(profile)
