"""Writes jupyter_remote/openapi.json (run by hand when the REST API changes; committed)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from jupyter_remote import events

#: the session states as the session event's schema declares them (their one definition)
SESSION_STATES = yaml.safe_load(events.schema_text("session"))["properties"]["session"][
    "properties"
]["state"]["enum"]

NAME = {"type": "string", "pattern": "^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$"}
KERNEL_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
# Every string the store accepts is printable: no control characters, no newlines.
PRINTABLE = "[^\\x00-\\x1f\\x7f]*"
REMOTE_PATH = {
    "type": "string",
    "maxLength": 4096,
    "pattern": f"^(/|~$|~/){PRINTABLE}$",
    "description": "Absolute path on the remote, or ~/...; sent as data, never through a shell",
}
ENV = {
    "type": "object",
    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
    "additionalProperties": {"type": "string", "maxLength": 32768, "pattern": f"^{PRINTABLE}$"},
    "description": "Environment variables of the kernel, passed as data (never expanded)",
}
FINGERPRINT = {"type": "string", "maxLength": 100, "pattern": "^SHA256:"}
ERROR = {"$ref": "#/components/schemas/Error"}


def err(desc: str) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": ERROR}}}


def ok(desc: str, schema: dict) -> dict:
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict:
    texts = {
        400: "Invalid input; nothing changed",
        404: "Not found",
        409: "Conflict (exists, read-only, host key unknown or changed)",
        422: "The remote refused authentication",
        501: "Not available yet",
        502: "Remote unreachable or failed",
        504: "Remote timed out",
    }
    return {str(c): err(texts[c]) for c in codes}


WARNINGS = {
    "type": "array",
    "items": {"type": "string"},
    "description": "What the user should keep in mind (e.g. TCP kernel channels): show it.",
}
SERVER_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "host"],
    "properties": {
        "name": NAME,
        "host": {"type": "string", "maxLength": 253},
        "port": {"type": ["integer", "null"], "minimum": 1, "maximum": 65535},
        "user": {"type": ["string", "null"], "maxLength": 64},
        "identity": {"type": ["string", "null"], "maxLength": 4096},
        "auth": {"type": "string", "enum": ["key", "agent", "password"]},
        "jump": {"type": ["string", "null"], "maxLength": 400},
        "channel_transport": {
            "type": "string",
            "enum": ["unix", "tcp", "exec"],
            "description": "How kernel channels reach the relay beside each kernel: 'unix' "
            "(default, a socket in a private directory), 'tcp' (only for an sshd that "
            "forbids socket forwarding; a token-protected port on the remote's 127.0.0.1; "
            "shown as a warning) or 'exec' (the relay's stream over an exec channel's "
            "stdin/stdout: for an sshd that forbids all forwarding; nothing listens).",
        },
        "password": {"type": "string", "maxLength": 4096, "writeOnly": True},
        "passphrase": {"type": "string", "maxLength": 4096, "writeOnly": True},
    },
}
SERVER_PATCH = {**SERVER_IN, "required": []}
JUPYTER_URL = {
    "type": "string",
    "maxLength": 2000,
    "description": "http(s) URL of the Jupyter server with its base path (a JupyterHub user "
    "server: https://HUB/user/NAME/); never with ?token= (give the token as token). With "
    "via, the host:port as the SSH host sees it (e.g. http://127.0.0.1:8888/).",
}
JUPYTER_SERVER_IN = {
    "type": "object",
    "additionalProperties": False,
    "description": "Body of POST /remote/servers for a Jupyter server that already runs "
    "elsewhere (kind jupyter; a body with url is one too). PATCH takes the same fields.",
    "required": ["name", "url"],
    "properties": {
        "kind": {"type": "string", "enum": ["jupyter"]},
        "name": NAME,
        "url": JUPYTER_URL,
        "auth": {"type": "string", "enum": ["token", "password", "none"]},
        "via": {**NAME, "type": ["string", "null"], "description": "a saved SSH server"},
        "default_kernel": {"type": ["string", "null"], "maxLength": 64},
        "ca_file": {
            "type": ["string", "null"],
            "maxLength": 4096,
            "description": "an extra CA (PEM, on this machine) its HTTPS certificate may "
            "chain to; certificates are always validated",
        },
        "token": {"type": "string", "maxLength": 4096, "writeOnly": True},
        "password": {"type": "string", "maxLength": 4096, "writeOnly": True},
    },
}
JUPYTER_SERVER = {
    "type": "object",
    "description": "A saved Jupyter server (kind jupyter); its token or password is never "
    "answered, has_secret says whether one is kept.",
    "required": ["name", "kind", "url", "auth", "via", "readonly", "has_secret", "warnings"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["jupyter"]},
        "url": {"type": "string"},
        "auth": {"type": "string", "enum": ["token", "password", "none"]},
        "via": {"type": ["string", "null"]},
        "default_kernel": {"type": ["string", "null"]},
        "ca_file": {"type": ["string", "null"]},
        "readonly": {"type": "boolean"},
        "has_secret": {"type": "boolean"},
        "warnings": WARNINGS,
    },
}
JUPYTER_KERNELSPEC = {
    "type": "object",
    "description": "A kernelspec of a Jupyter server, and ours that starts it "
    "(remote-SERVER--NAME, written on disk as the listing answers).",
    "required": ["name", "kind", "display_name", "language", "kernel_name", "default"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["jupyter-kernelspec"]},
        "display_name": {"type": "string"},
        "language": {"type": "string"},
        "kernel_name": {"type": "string"},
        "default": {"type": "boolean"},
        "debugger": {"type": "boolean"},
    },
}
SERVER = {
    "type": "object",
    "required": [
        "name",
        "host",
        "port",
        "user",
        "identity",
        "auth",
        "jump",
        "channel_transport",
        "readonly",
        "has_secret",
        "warnings",
    ],
    "properties": {
        "name": {"type": "string"},
        "host": {"type": "string"},
        "port": {"type": ["integer", "null"]},
        "user": {"type": ["string", "null"]},
        "identity": {"type": ["string", "null"]},
        "auth": {"type": "string"},
        "jump": {"type": ["string", "null"]},
        "channel_transport": {"type": "string", "enum": ["unix", "tcp", "exec"]},
        "readonly": {"type": "boolean"},
        "has_secret": {"type": "boolean"},
        "warnings": WARNINGS,
    },
}
ANY_SERVER = {"anyOf": [SERVER, JUPYTER_SERVER]}
HOSTKEY = {
    "type": "object",
    "description": "A trusted key (ours, or a known_hosts entry: plain, @revoked or "
    "@cert-authority), or with source 'warning' a known_hosts line or file that was skipped.",
    "required": ["host_id", "key_type", "fingerprint", "source"],
    "properties": {
        "host_id": {"type": "string", "description": "host pattern, '(hashed)' if hashed"},
        "key_type": {"type": "string"},
        "fingerprint": {"type": "string"},
        "added": {"type": "string"},
        "source": {"type": "string", "enum": ["jupyter-remote", "known_hosts", "warning"]},
        "file": {"type": "string", "description": "the known_hosts file it was read from"},
        "line": {"type": "integer", "description": "line number in file (0: the whole file)"},
        "marker": {"type": ["string", "null"], "enum": ["revoked", "cert-authority", None]},
        "hashed": {"type": "boolean"},
        "warning": {"type": "string", "description": "why the line or file was skipped"},
    },
}
GPUS = {
    "type": ["object", "null"],
    "description": "The remote's NVIDIA GPUs as nvidia-smi reports them; null where there is "
    "no nvidia-smi. error: why they could not be listed (e.g. no driver).",
    "properties": {
        "devices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "uuid", "name", "processes"],
                "properties": {
                    "index": {"type": "integer"},
                    "uuid": {"type": "string"},
                    "name": {"type": "string"},
                    "memory_used_mib": {"type": ["integer", "null"]},
                    "memory_total_mib": {"type": ["integer", "null"]},
                    "utilization_percent": {
                        "type": ["integer", "null"],
                        "description": "null: the device does not report it ([N/A])",
                    },
                    "processes": {"type": "integer", "description": "compute processes on it"},
                },
            },
        },
        "error": {"type": ["string", "null"]},
    },
}
TEST_RESULT = {
    "type": "object",
    "required": ["server", "reachable", "auth", "host_key", "rtt_ms", "os", "python"],
    "properties": {
        "server": {"type": "string"},
        "endpoint": {"type": "string"},
        "reachable": {"type": "boolean"},
        "auth": {"type": "string"},
        "auth_method": {"type": "string"},
        "host_key": {"type": "object"},
        "connect_ms": {"type": "number"},
        "rtt_ms": {"type": "number"},
        "os": {"type": "string"},
        "python": {"type": "object"},
        "gpus": GPUS,
    },
}
ENVIRONMENT = {
    "type": "object",
    "description": "A Python environment (or a non-Python kernelspec) found on a server.",
    "required": ["python", "kind", "name", "version", "ipykernel", "path", "source", "error"],
    "properties": {
        "python": {
            "type": "string",
            "description": "Absolute interpreter path to launch (a kernelspec's argv[0])",
        },
        "kind": {
            "type": "string",
            "enum": ["conda", "uv", "venv", "virtualenv", "pyenv", "system", "kernelspec"],
        },
        "name": {"type": "string"},
        "version": {"type": "string", "description": "Python version; empty if unknown"},
        "ipykernel": {"type": "boolean"},
        "path": {"type": "string", "description": "Env prefix or kernelspec directory"},
        "source": {"type": "string", "description": "Where it was found"},
        "error": {
            "type": ["string", "null"],
            "description": "Why the interpreter could not be checked (e.g. timed out)",
        },
        "display_name": {"type": "string", "description": "kernelspec only"},
        "language": {"type": "string", "description": "kernelspec only"},
    },
}
SLURM_NAME = {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$"}
SLURM_IN = {
    "type": "object",
    "additionalProperties": False,
    "description": "Run the kernel inside a Slurm job submitted from this server (a "
    "cluster's login node): the kernel, its supervisor and relay run in the job on the "
    "compute node, reached through srun --overlap. Null values: Slurm's defaults.",
    "properties": {
        "partition": SLURM_NAME,
        "time": {
            "type": ["string", "integer", "null"],
            "description": "Time limit: minutes, H:MM:SS or D-HH:MM[:SS] (at least 1 min)",
        },
        "cpus": {"type": ["integer", "null"], "minimum": 1, "description": "--cpus-per-task"},
        "memory": {
            "type": ["string", "null"],
            "pattern": "^[1-9][0-9]{0,8}[KMGT]?$",
            "description": "--mem, e.g. 4G",
        },
        "gres": {
            "type": ["string", "null"],
            "description": "GPUs and other generic resources (--gres), e.g. gpu:1",
        },
        "account": SLURM_NAME,
        "qos": SLURM_NAME,
        "reservation": SLURM_NAME,
        "extra": {
            "type": "array",
            "maxItems": 32,
            "items": {"type": "string", "pattern": "^--[a-z][a-z0-9-]*(=.*)?$"},
            "description": "More sbatch options, one per item, long form (--constraint=a100); "
            "never the job's name, output, script or environment",
        },
        "notice_minutes": {
            "type": "integer",
            "minimum": 0,
            "maximum": 1440,
            "description": "Minutes before the time limit the notebook is told (default 10)",
        },
    },
}
SLURM_JOB = {
    "type": "object",
    "description": "Kernels in a Slurm job only: the job as last seen",
    "properties": {
        "id": {"type": "string"},
        "state": {"type": "string", "description": "PENDING, RUNNING, TIMEOUT, ..."},
        "reason": {"type": "string"},
        "node": {"type": "string"},
        "partition": {"type": "string"},
        "start": {"type": ["number", "null"], "description": "start (estimated while queued)"},
        "end": {"type": ["number", "null"], "description": "end of its time limit, or its end"},
        "exit_code": {"type": "string"},
        "notice_minutes": {"type": "integer"},
    },
}
SLURM_CLUSTER = {
    "type": "object",
    "required": ["server", "slurm", "probed_at"],
    "properties": {
        "server": {"type": "string"},
        "probed_at": {"type": ["number", "null"]},
        "slurm": {
            "type": ["object", "null"],
            "description": "null: no Slurm commands on the server's login PATH",
            "properties": {
                "version": {"type": "string"},
                "user": {"type": "string"},
                "partitions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "default": {"type": "boolean"},
                            "state": {"type": "string"},
                            "max_time": {"type": "string"},
                            "max_minutes": {"type": ["integer", "null"]},
                            "default_time": {"type": "string"},
                            "max_cpus_per_node": {"type": ["integer", "null"]},
                            "max_memory_mb_per_node": {"type": ["integer", "null"]},
                            "def_mem_per_cpu_mb": {"type": ["integer", "null"]},
                            "def_mem_per_node_mb": {"type": ["integer", "null"]},
                            "nodes": {"type": "integer"},
                            "idle_nodes": {"type": "integer"},
                            "cpus": {"type": "integer"},
                            "cpus_per_node": {"type": "integer"},
                            "memory_mb_per_node": {"type": "integer"},
                            "gres": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "accounts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "account": {"type": "string"},
                            "partitions": {"type": "array", "items": {"type": "string"}},
                            "qos": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "errors": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}
PROFILE_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "server"],
    "properties": {
        "name": NAME,
        "server": NAME,
        "python": {"anyOf": [REMOTE_PATH, {"type": "null"}]},
        "kernelspec": {"anyOf": [NAME, {"type": "null"}]},
        "cwd": {"anyOf": [REMOTE_PATH, {"type": "null"}]},
        "env": ENV,
        "idle_timeout": {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 2592000},
                {"type": "string", "minLength": 1, "maxLength": 64},
            ],
            "description": "How long idle with no client before the kernel stops itself: "
            "seconds, or a duration such as 15m, 1h30m, 7d or never (answers give "
            "seconds; 0: never; at most 30 days). Absent on a Slurm profile: 1h.",
        },
        "display_name": {
            "type": ["string", "null"],
            "maxLength": 200,
            "description": "The kernel's name in the launcher and picker; null or empty: the "
            "automatic one (Python X.Y · env — server (profile, cwd))",
        },
        "slurm": {"anyOf": [SLURM_IN, {"type": "null"}]},
        "standby": {
            "type": "boolean",
            "description": "Keep one pre-warmed kernel of this profile ready on the remote: a "
            "start takes it (and a new one starts in the background). Not with slurm (400).",
        },
    },
}
STANDBY = {
    "type": "object",
    "required": ["profile", "enabled", "state", "kernel_id"],
    "properties": {
        "profile": NAME,
        "enabled": {"type": "boolean", "description": "The profile keeps a standby kernel"},
        "state": {
            "type": "string",
            "enum": ["ready", "starting", "none"],
            "description": "ready: one runs; starting: one is being started; none",
        },
        "kernel_id": {"type": ["string", "null"], "description": "Its id on the remote"},
        "pid": {"type": ["integer", "null"]},
        "started": {"type": ["number", "null"], "description": "Seconds since the epoch"},
        "rss": {
            "type": "integer",
            "description": "Its memory on the remote (kernel and supervisor resident set, bytes)",
        },
        "current": {"type": "boolean", "description": "Started as the profile is now"},
        "warm": {
            "type": "boolean",
            "description": "Its kernel has answered its relay: a take runs a cell at once",
        },
    },
}
# PUT /remote/profiles/{name}: the name comes from the URL (a body name must match it).
PROFILE_PUT = {**PROFILE_IN, "required": ["server"]}
PROFILE = {
    "type": "object",
    "required": ["name", "server", "kernel_name", "display_name", "readonly"],
    "properties": {
        **PROFILE_IN["properties"],
        "kernel_name": {"type": "string"},
        "readonly": {"type": "boolean"},
        "display_name": {"type": "string", "description": "What the launcher and picker show"},
        "custom_display_name": {
            "type": ["string", "null"],
            "description": "The user's own display name; null: automatic",
        },
        "python_version": {"type": ["string", "null"], "description": "Learned when saved"},
        "env_name": {"type": ["string", "null"], "description": "Learned when saved"},
        "warnings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "In the answer of a save only, when there are any: a Slurm job "
            "whose memory leaves the kernel too little after jupyter-remote's own processes",
        },
    },
}
# PATCH /remote/profiles/{name}: only the fields given change.
PROFILE_PATCH = {**PROFILE_IN, "required": []}
CREATE_CWD = {
    "name": "create_cwd",
    "in": "query",
    "schema": {"type": "string", "enum": ["0", "1", "false", "true"]},
    "description": "1: create a missing working directory on the remote (the login's umask); "
    "else a missing one is 409 cwd_missing (field cwd)",
}
SESSION = {
    "type": "object",
    "required": ["id", "kind", "server", "state", "reason"],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["kernel", "forward", "terminal"]},
        "kernel_id": {"type": "string"},
        "server": {"type": "string"},
        "profile": {"type": "string"},
        "state": {
            "type": "string",
            "enum": SESSION_STATES,
            "description": "queued: the kernel's Slurm job waits (reason: why, and its "
            "estimated start); dead: the scheduler ended the job (reason: how, exit code)",
        },
        "reason": {"type": "string"},
        "started": {"type": "number"},
        "reconnects": {"type": "integer"},
        "relayed": {
            "type": "boolean",
            "description": "kernel only: its messages pass through the remote relay, so "
            "output sent while the link is down arrives after the reconnect",
        },
        "channel_transport": {
            "type": "string",
            "enum": ["unix", "tcp", "exec", "srun"],
            "description": "kernel only: how its channels reach the relay (see Server; srun: "
            "into the kernel's Slurm job)",
        },
        "job": SLURM_JOB,
        "warnings": WARNINGS,
        "start_failed": {
            "type": "boolean",
            "description": "kernel only: its start failed (state stopped; reason says why)",
        },
        "hint": {"type": "string", "description": "kernel only: how to fix a failed start"},
    },
}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
FORWARD_IN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["server", "remote_port"],
    "properties": {
        "server": NAME,
        "remote_port": {**PORT, "description": "Port on the remote's 127.0.0.1"},
        "local_port": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": 65535,
            "description": "Port on this machine's 127.0.0.1; 0 or absent: a free one",
        },
    },
}
FORWARD = {
    "type": "object",
    "required": [
        "id",
        "kind",
        "server",
        "remote_port",
        "local_port",
        "url",
        "state",
        "reason",
        "started",
        "reconnects",
    ],
    "properties": {
        **SESSION["properties"],
        "kind": {"type": "string", "enum": ["forward"]},
        "remote_port": PORT,
        "local_port": PORT,
        "url": {
            "type": "string",
            "description": "Entry path /remote/forward/{id}/, relative to the server's "
            "base_url: with Jupyter's auth it redirects to the forward's own origin (a "
            "browser on this machine) or to its sandbox route (any other browser)",
        },
    },
}
SESSION["properties"].update(
    {
        "remote_port": {**PORT, "description": "forward only"},
        "local_port": {**PORT, "description": "forward only"},
        "url": {"type": "string", "description": "forward only: its entry path"},
    }
)
TERMINAL_SIZE = {"type": "integer", "minimum": 1, "maximum": 1000}
TERMINAL_IN = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "persistent": {
            "type": "boolean",
            "description": "Run the shell in a tmux (or screen) session of its own that survives "
            "link drops and page reloads (409 when the remote has neither); default false",
        },
        "rows": {**TERMINAL_SIZE, "description": "The pty's height (default 24)"},
        "cols": {**TERMINAL_SIZE, "description": "The pty's width (default 80)"},
    },
}
TERMINAL = {
    "type": "object",
    "required": ["id", "kind", "server", "persistent", "state", "reason", "started"],
    "properties": {
        **SESSION["properties"],
        "kind": {"type": "string", "enum": ["terminal"]},
        "persistent": {"type": "boolean"},
        "multiplexer": {
            "type": "string",
            "description": "What keeps a persistent terminal's shell (tmux or screen), else empty",
        },
        "rows": TERMINAL_SIZE,
        "cols": TERMINAL_SIZE,
        "exit_status": {
            "type": ["integer", "null"],
            "description": "The shell's exit status once it exited",
        },
    },
}
TERMINAL_ID_PARAM = {
    "name": "terminal_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
SESSION["properties"].update(
    {
        "persistent": {"type": "boolean", "description": "terminal only"},
        "exit_status": {"type": ["integer", "null"], "description": "terminal only"},
    }
)
# Path parameters. Server and profile names follow NAME; ids of sessions and forwards are
# opaque strings; a host key is HOST or [HOST]:PORT.
NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": NAME}
ID_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
HOSTKEY_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 300},
    "description": "HOST or [HOST]:PORT, URL-encoded",
}
KERNEL_ID_PARAM = {"name": "kernel_id", "in": "path", "required": True, "schema": KERNEL_ID}
KERNEL_MODEL = {
    "type": "object",
    "description": "Jupyter's kernel model (as GET /api/kernels/{id})",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "last_activity": {"type": "string"},
        "execution_state": {"type": "string"},
        "connections": {"type": "integer"},
    },
}
METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
SANDBOX_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
LOCATION = {"Location": {"schema": {"type": "string"}}}
SECRET_PARAM = {
    "name": "secret",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The forward's capability (128 bits, never in a REST answer); the entry "
    "route gives it in its redirect",
}
PATH_PARAM = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}


FILE_PATH_PARAM = {
    "name": "path",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 4096},
    "description": "The remote path without its first '/' (home/a/x is /home/a/x), or "
    "~/...; its bytes percent-encoded (names need not be UTF-8: each byte that is not is "
    "a lone surrogate U+DC80-U+DCFF in JSON). No NUL; at most 4096 bytes.",
}
FILE_MODEL = {
    "type": "object",
    "description": "Jupyter's contents model (as /api/contents), over SFTP: name (for display: "
    "control characters and undecodable bytes escaped), path (exact, absolute), type, "
    "format, mimetype, content (a directory's entries, a notebook, text or base64), "
    "created, last_modified, writable, size; symlink; for directories truncated (the "
    "listing stopped at its limit) and pages (SFTP READDIR round trips).",
    "required": ["name", "path", "type"],
    "properties": {
        "name": {"type": "string"},
        "path": {"type": "string"},
        "type": {"type": "string", "enum": ["directory", "file", "notebook"]},
        "format": {"type": ["string", "null"]},
        "last_modified": {"type": "string"},
        "writable": {"type": "boolean"},
        "size": {"type": ["integer", "null"]},
        "symlink": {"type": "boolean"},
        "truncated": {"type": "boolean"},
    },
}
FILE_SAVE = {
    "type": "object",
    "description": "A contents model to save (JupyterLab sends the whole model back: extra "
    "fields are ignored). chunk 1, 2, ..., -1 (the last) uploads in parts to a temporary "
    "name renamed at the end; offset is where the chunk starts (409 with the upload's "
    "offset otherwise). expect_modified: refuse (409 changed_on_remote) when the file's "
    "last_modified is another.",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["directory", "file", "notebook"]},
        "format": {"type": ["string", "null"], "enum": ["text", "base64", "json", None]},
        "content": {},
        "chunk": {"type": "integer", "minimum": -1, "maximum": 10000000, "not": {"const": 0}},
        "offset": {"type": "integer", "minimum": 0},
        "expect_modified": {"type": "string", "maxLength": 64},
    },
}
FILE_NEW = {
    "type": "object",
    "additionalProperties": False,
    "description": "A new untitled notebook, file or directory in this directory (Jupyter's "
    "names: Untitled.ipynb, untitled.txt, Untitled Folder, then numbered), or with "
    "copy_from a copy of that file here (name-Copy1.ext).",
    "properties": {
        "type": {"type": "string", "enum": ["directory", "file", "notebook"]},
        "ext": {"type": "string", "maxLength": 32},
        "copy_from": REMOTE_PATH,
    },
}
CHECKPOINT = {
    "type": "object",
    "required": ["id", "last_modified"],
    "properties": {"id": {"type": "string"}, "last_modified": {"type": "string"}},
}
FILE_ERRORS = (400, 404, 409, 422, 502, 504)


def files_ops(root: str) -> dict:
    """The operations of a file or directory (``root``: of the remote's / itself)."""
    where = "the remote's /" if root else "PATH"
    return {
        "get": {
            "operationId": f"getFile{root}",
            "description": f"{where} as Jupyter's contents model: a directory with its entries "
            "(one SFTP round trip per page the server sends, at most 100,000), a notebook, "
            "or a file as UTF-8 text or base64.",
            "parameters": [
                {
                    "name": "content",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["0", "1"]},
                },
                {
                    "name": "type",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["file", "notebook", "directory"]},
                },
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["text", "base64"]},
                },
                {
                    "name": "hash",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["0", "1"]},
                    "description": "1: a file's model carries hash (sha256 of its bytes) "
                    "and hash_algorithm, as Jupyter's; JupyterLab compares it before a save",
                },
            ],
            "responses": {"200": ok("The model", FILE_MODEL), **errors(*FILE_ERRORS)},
        },
        "put": {
            "operationId": f"saveFile{root}",
            "description": f"Save {where}: written to a random temporary name beside it and "
            "renamed over it (its mode kept; through a symlink to its target).",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": FILE_SAVE}},
            },
            "responses": {"200": ok("The saved model", FILE_MODEL), **errors(*FILE_ERRORS)},
        },
        "post": {
            "operationId": f"newFile{root}",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": FILE_NEW}},
            },
            "responses": {"201": ok("The new file", FILE_MODEL), **errors(*FILE_ERRORS)},
        },
        "patch": {
            "operationId": f"renameFile{root}",
            "description": "Rename or move; never over an existing file (409).",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["path"],
                            "properties": {"path": REMOTE_PATH},
                        }
                    }
                },
            },
            "responses": {"200": ok("The renamed model", FILE_MODEL), **errors(*FILE_ERRORS)},
        },
        "delete": {
            "operationId": f"deleteFile{root}",
            "description": "Delete a file, a symlink (not its target) or a directory with "
            "everything in it; never the root or the home directory (400).",
            "responses": {"204": {"description": "Deleted"}, **errors(*FILE_ERRORS)},
        },
    }


ORIGIN_URL = "http://jr-{origin secret}.localhost:{port}/"


def entry_op(method: str, root: bool) -> dict:
    """An operation of the Jupyter-authenticated entry route of a forward."""
    code = "303" if method in ("get", "head") else "307"
    where = "the root" if root else "the same path and query (less `token`)"
    return {
        "operationId": f"openForwardPage{'Root' if root else ''}{method.capitalize()}",
        "description": "Entry of a forward in a browser (the `url` of a forward), with "
        f"Jupyter's auth. Serves nothing: redirects to {where}, decided per request. "
        "(1) When the browser runs on this machine (the request named Jupyter 127.0.0.1, "
        "[::1], localhost or *.localhost, came from a loopback address and carries no "
        "proxy header such as X-Forwarded-For, Forwarded or Via) and "
        "RemoteExtensionApp.forward_origins is on: on the forward's own origin "
        f"{ORIGIN_URL}, served by a second listener of the extension on 127.0.0.1 and "
        "::1 (one port for all forwards, RemoteExtensionApp.forward_origin_port). There "
        "the Host header is the credential (a 128-bit secret of the forward, never in a "
        "REST answer; any other Host is 404 and reaches nothing); the app is served at "
        "/ with its own headers (Set-Cookie without Domain, no Clear-Site-Data, "
        "Referrer-Policy: same-origin), another site than Jupyter's, so its workers, "
        "storage and cookies work. (2) Otherwise (a remote host name, a proxy, "
        "JupyterHub): under the forward's sandbox route /remote/sandbox/{id}/{secret}/. "
        "303 for GET and HEAD (a websocket handshake too), 307 for other methods "
        "(method and body kept). Forwarded pages are never same-origin with Jupyter.",
        "responses": {
            code: {
                "description": "To the forward's own origin or to its sandbox route",
                "headers": LOCATION,
            },
            **errors(404),
        },
    }


SANDBOX_OP = {
    "description": "Reverse proxy to http://127.0.0.1:{local_port}/{path} (the forward's "
    "local end): method, query, headers (minus hop-by-hop) and body are passed on. "
    "The secret in the path is the only credential (a sandboxed page has no Jupyter "
    "cookie): a wrong one is 404 whether or not the forward exists, and nothing reaches "
    "the service; Jupyter's credentials are neither needed nor passed on. Every answer "
    f"carries Content-Security-Policy: {SANDBOX_CSP} (an opaque origin, never Jupyter's), "
    "Referrer-Policy: no-referrer, X-Content-Type-Options: nosniff and "
    "Access-Control-Allow-Origin: null with credentials; CORS preflights are answered "
    "here. The service's Set-Cookie is scoped under the sandbox prefix (Jupyter's "
    "cookie names, __Host- and __Secure- ones dropped), its Clear-Site-Data, "
    "Service-Worker-Allowed and Referrer-Policy dropped, its own CSP kept beside ours; "
    "Origin becomes the service's own, X-Forwarded-Prefix is the sandbox prefix. "
    "Upgrade requests (websockets) are tunnelled.",
    "security": [],
    "responses": {
        "default": {"description": "The service's own answer"},
        "204": {"description": "A CORS preflight, answered by the proxy"},
        **errors(404, 502),
    },
}

spec = {
    "openapi": "3.1.0",
    "info": {
        "title": "jupyterlab-remote",
        "version": "0.1.0",
        "description": "REST API of the jupyterlab-remote server extension. Every route "
        "requires Jupyter authentication (token or cookie + XSRF).",
    },
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["message", "reason", "hint"],
                "properties": {
                    "message": {"type": "string"},
                    "reason": {"type": "string"},
                    "hint": {"type": "string"},
                },
            },
            "Server": SERVER,
            "ServerInput": SERVER_IN,
            "JupyterServer": JUPYTER_SERVER,
            "JupyterServerInput": JUPYTER_SERVER_IN,
            "JupyterKernelspec": JUPYTER_KERNELSPEC,
            "HostKey": HOSTKEY,
            "Environment": ENVIRONMENT,
        },
    },
    "security": [{"token": []}],
    "paths": {
        "/remote/servers": {
            "get": {
                "operationId": "listServers",
                "responses": {
                    "200": ok("Saved and admin servers", {"type": "array", "items": ANY_SERVER})
                },
            },
            "post": {
                "operationId": "addServer",
                "description": "Save an SSH server (ServerInput) or, with kind jupyter and a "
                "url, a Jupyter server that already runs elsewhere (JupyterServerInput; its "
                "token or password goes to the keyring or memory, never to a file).",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": SERVER_IN}},
                },
                "responses": {"201": ok("Saved", ANY_SERVER), **errors(400, 409)},
            },
        },
        "/remote/servers/{name}": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "getServer",
                "responses": {"200": ok("The server", ANY_SERVER), **errors(400, 404)},
            },
            "patch": {
                "operationId": "updateServer",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": SERVER_PATCH}},
                },
                "responses": {"200": ok("Updated", ANY_SERVER), **errors(400, 404, 409)},
            },
            "delete": {
                "operationId": "removeServer",
                "responses": {"204": {"description": "Removed"}, **errors(400, 404, 409)},
            },
        },
        "/remote/servers/{name}/test": {
            "parameters": [NAME_PARAM],
            "post": {
                "operationId": "testServer",
                "responses": {
                    "200": ok(
                        "Reachable, authenticated; host key, round trip, OS, python", TEST_RESULT
                    ),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/environments": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "listEnvironments",
                "description": "Python environments and non-Python kernelspecs on the server, "
                "found by one probe over SSH and cached per server. The cwds of the server's "
                "profiles (and any cwd given) are searched for a .venv. For a Jupyter server: "
                "its kernelspecs (JupyterKernelspec), ours written on disk as it answers.",
                "parameters": [
                    {
                        "name": "refresh",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["0", "1", "false", "true"]},
                        "description": "1: probe again instead of answering from the cache",
                    },
                    {
                        "name": "cwd",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                        "style": "form",
                        "explode": True,
                        "description": "Remote working directories (absolute or ~/...) to search",
                    },
                ],
                "responses": {
                    "200": ok(
                        "The environments (from the cache unless refreshed)",
                        {"type": "array", "items": {"anyOf": [ENVIRONMENT, JUPYTER_KERNELSPEC]}},
                    ),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
            "post": {
                "operationId": "createEnvironment",
                "description": "Create an environment with ipykernel from a base interpreter "
                "(where pip may not install into a system Python, PEP 668): "
                "~/.virtualenvs/NAME with venv (default) or uv, ~/.conda/envs/NAME with conda. "
                "Streams NDJSON lines {type: output, line}, ending with {type: done, ok, "
                "environment: {python, path, tool, name}} or {type: error, message, reason, "
                "hint} (reason conflict: the name exists). Nothing is left after a failure.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["python"],
                                "properties": {
                                    "python": REMOTE_PATH,
                                    "name": {
                                        "type": ["string", "null"],
                                        # empty as null (kernels/environments.validated)
                                        "pattern": "^([A-Za-z0-9_][A-Za-z0-9._-]{0,63})?$",
                                        "description": "Empty or null: jupyter-X.Y",
                                    },
                                    "tool": {"type": "string", "enum": ["venv", "uv", "conda"]},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The creation's output, then its result",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    **errors(400, 404),
                },
            },
        },
        "/remote/servers/{name}/gpus": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "getServerGPUs",
                "description": "The GPUs the last environment probe saw (no round trip; both "
                "null when never probed), or a new probe's with refresh=1.",
                "parameters": [
                    {
                        "name": "refresh",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["0", "1", "false", "true"]},
                        "description": "1: probe again",
                    },
                ],
                "responses": {
                    "200": ok(
                        "The GPUs",
                        {
                            "type": "object",
                            "properties": {
                                "server": {"type": "string"},
                                "gpus": GPUS,
                                "probed_at": {"type": ["number", "null"]},
                            },
                        },
                    ),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/slurm": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "getServerSlurm",
                "description": "The server's Slurm, from the environment probe's round trip "
                "(cached): partitions with their limits and idle nodes, the user's accounts. "
                "slurm is null where the server has no Slurm commands.",
                "parameters": [
                    {
                        "name": "refresh",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["0", "1", "false", "true"]},
                        "description": "1: probe again instead of answering from the cache",
                    },
                ],
                "responses": {
                    "200": ok("The server's Slurm", SLURM_CLUSTER),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/hostkeys": {
            "get": {
                "operationId": "listHostKeys",
                "responses": {
                    "200": ok(
                        "Trusted keys: ours, then every known_hosts file read (user, global, "
                        "and those ~/.ssh/config names); skipped lines as warning rows",
                        {"type": "array", "items": HOSTKEY},
                    )
                },
            },
            "post": {
                "operationId": "trustHostKey",
                "description": "Trust the key the server (or the first untrusted hop to it) "
                "offers now, if its fingerprint equals the one the user confirmed. Never "
                "replaces a different trusted key.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["server", "fingerprint"],
                                "properties": {
                                    "server": NAME,
                                    "fingerprint": FINGERPRINT,
                                },
                            }
                        }
                    },
                },
                "responses": {"201": ok("Trusted", HOSTKEY), **errors(400, 404, 409, 502, 504)},
            },
        },
        "/remote/hostkeys/{name}": {
            "parameters": [HOSTKEY_PARAM],
            "delete": {
                "operationId": "removeHostKey",
                "responses": {
                    "200": ok(
                        "Removed",
                        {"type": "object", "properties": {"removed": {"type": "integer"}}},
                    ),
                    **errors(400, 404),
                },
            },
        },
        "/remote/profiles": {
            "get": {
                "operationId": "listProfiles",
                "responses": {"200": ok("Profiles", {"type": "array", "items": PROFILE})},
            },
            "post": {
                "operationId": "addProfile",
                "description": "Checks the interpreter and the working directory on the remote "
                "in one exec (409 ipykernel_missing when it lacks ipykernel, with "
                "externally_managed: true for a PEP 668 system Python; 409 cwd_missing), "
                "saves the profile and writes kernelspec remote-NAME. 409 conflict (field "
                "display_name) when another profile shows under the same name.",
                "parameters": [CREATE_CWD],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PROFILE_IN}},
                },
                "responses": {"201": ok("Saved", PROFILE), **errors(400, 404, 409, 422, 502, 504)},
            },
        },
        "/remote/profiles/{name}": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "getProfile",
                "responses": {"200": ok("The profile", PROFILE), **errors(400, 404)},
            },
            "patch": {
                "operationId": "updateProfile",
                "description": "Change the fields given; the remote is asked again only when "
                "server, python, kernelspec or cwd change; the kernelspec is rewritten. No "
                "renames (400); admin profiles: 409 read_only.",
                "parameters": [CREATE_CWD],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PROFILE_PATCH}},
                },
                "responses": {"200": ok("Saved", PROFILE), **errors(400, 404, 409, 422, 502, 504)},
            },
            "put": {
                "operationId": "replaceProfile",
                "parameters": [CREATE_CWD],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PROFILE_PUT}},
                },
                "responses": {"200": ok("Saved", PROFILE), **errors(400, 404, 409, 422, 502, 504)},
            },
            "delete": {
                "operationId": "removeProfile",
                "responses": {
                    "204": {"description": "Removed with its kernelspec"},
                    **errors(400, 404, 409),
                },
            },
        },
        "/remote/profiles/{name}/standby": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "getProfileStandby",
                "description": "Whether the profile keeps a standby kernel, and the one running "
                "on the remote with what it costs (one exec on its server).",
                "responses": {"200": ok("The standby", STANDBY), **errors(400, 404, 502, 504)},
            },
        },
        "/remote/servers/{name}/install-ipykernel": {
            "parameters": [NAME_PARAM],
            "post": {
                "operationId": "installIpykernel",
                "description": "pip-installs ipykernel into that interpreter's environment; "
                "streams NDJSON lines {type: output, line}, ending with {type: done} or "
                "{type: error, message, reason, hint}.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["python"],
                                "properties": {"python": REMOTE_PATH},
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "pip output",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    **errors(400, 404),
                },
            },
        },
        "/remote/servers/{name}/kernels": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "listRemoteKernels",
                "responses": {
                    "200": ok(
                        "Kernels our agent runs there (a Jupyter server: every kernel it runs)",
                        {"type": "array", "items": {"type": "object"}},
                    ),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/kernels/{kernel_id}": {
            "parameters": [
                NAME_PARAM,
                KERNEL_ID_PARAM,
            ],
            "delete": {
                "operationId": "stopRemoteKernel",
                "responses": {
                    "200": ok("Stopped", {"type": "object"}),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/kernels/{kernel_id}/attach": {
            "parameters": [NAME_PARAM, KERNEL_ID_PARAM],
            "post": {
                "operationId": "attachRemoteKernel",
                "description": "Re-attach a kernel our agent still runs on the server (e.g. "
                "after this Jupyter server restarted): it becomes an ordinary Jupyter kernel "
                "with the same id, its state intact. 409 when it is already attached here.",
                "responses": {
                    "201": ok("Attached", KERNEL_MODEL),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/sessions": {
            "get": {
                "operationId": "listSessions",
                "description": "Remote kernels and service forwards of this server process with "
                "their state. Live "
                "updates: the websocket /remote/events ({type: hello|session|progress}).",
                "responses": {"200": ok("Sessions", {"type": "array", "items": SESSION})},
            },
        },
        "/remote/sessions/{name}": {
            "parameters": [ID_PARAM],
            "delete": {
                "operationId": "stopSession",
                "responses": {"204": {"description": "Stopped"}, **errors(404)},
            },
        },
        "/remote/sessions/{name}/retry": {
            "parameters": [ID_PARAM],
            "post": {
                "operationId": "retrySession",
                "responses": {"200": ok("Retrying", SESSION), **errors(404)},
            },
        },
        "/remote/forwards": {
            "get": {
                "operationId": "listForwards",
                "responses": {"200": ok("Service forwards", {"type": "array", "items": FORWARD})},
            },
            "post": {
                "operationId": "openForward",
                "description": "Forward a port on the remote's 127.0.0.1 to this machine's "
                "127.0.0.1 over the server's one SSH connection; a browser opens it at "
                "/remote/forward/{id}/ (its url). Re-created on the same local port after "
                "a reconnect; also listed (and stopped) as a session. local_port is a "
                "plain TCP tunnel, like ssh -L: a page opened on it directly shares the "
                "browser's cookies of 127.0.0.1 (Jupyter's too, cookies ignore ports); "
                "open pages through url.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": FORWARD_IN}},
                },
                "responses": {
                    "201": ok("Forwarding", FORWARD),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/forwards/{name}": {
            "parameters": [ID_PARAM],
            "get": {
                "operationId": "getForward",
                "responses": {"200": ok("The forward", FORWARD), **errors(404)},
            },
            "delete": {
                "operationId": "closeForward",
                "responses": {
                    "204": {"description": "Closed; the connection closes with its last user"},
                    **errors(404),
                },
            },
        },
        "/remote/forward/{name}": {
            "parameters": [ID_PARAM],
            **{method: entry_op(method, root=True) for method in METHODS},
        },
        "/remote/forward/{name}/{path}": {
            "parameters": [ID_PARAM, PATH_PARAM],
            **{method: entry_op(method, root=False) for method in METHODS},
        },
        "/remote/sandbox/{name}/{secret}": {
            "parameters": [ID_PARAM, SECRET_PARAM],
            **{
                method: {
                    "operationId": f"forwardSandboxRoot{method.capitalize()}",
                    "description": "Redirects to the same URL with a trailing slash (same "
                    "query), so that relative links of the service resolve; the secret is "
                    "checked first, as on every sandbox path.",
                    "security": [],
                    "responses": {
                        "302": {"description": "With a trailing slash", "headers": LOCATION},
                        "204": {"description": "A CORS preflight, answered by the proxy"},
                        **errors(404),
                    },
                }
                for method in METHODS
            },
        },
        "/remote/sandbox/{name}/{secret}/{path}": {
            "parameters": [ID_PARAM, SECRET_PARAM, PATH_PARAM],
            **{
                method: {**SANDBOX_OP, "operationId": f"forwardSandbox{method.capitalize()}"}
                for method in METHODS
            },
        },
        "/remote/events": {
            "get": {
                "operationId": "events",
                "description": "WebSocket (Upgrade: websocket) of JSON events: {type: hello, "
                "sessions} first, then {type: session, session} on state changes and {type: "
                "progress, kernel_id, stage, message} during a kernel's start. Clients only "
                "listen. Same auth as every route, plus Jupyter's origin check.",
                "responses": {
                    "101": {"description": "Switching to the WebSocket protocol"},
                    "400": {"description": "Not a WebSocket upgrade request"},
                },
            }
        },
        "/remote/servers/{name}/terminals": {
            "parameters": [NAME_PARAM],
            "get": {
                "operationId": "listTerminals",
                "description": "Terminals open on this server (also listed as sessions).",
                "responses": {
                    "200": ok("Terminals", {"type": "array", "items": TERMINAL}),
                    **errors(400, 404),
                },
            },
            "post": {
                "operationId": "openTerminal",
                "description": "Open a terminal: the user's login shell on an SSH pty over the "
                "server's one connection. Connect to its websocket next. When the link drops "
                "the terminal says so and reconnects by itself with a new shell (or, when "
                "persistent, reattaches to its tmux or screen session). Also listed (and "
                "stopped) as a session.",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": TERMINAL_IN}},
                },
                "responses": {
                    "201": ok("The terminal", TERMINAL),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/terminals/{terminal_id}": {
            "parameters": [NAME_PARAM, TERMINAL_ID_PARAM],
            "get": {
                "operationId": "getTerminal",
                "responses": {"200": ok("The terminal", TERMINAL), **errors(404)},
            },
            "delete": {
                "operationId": "closeTerminal",
                "description": "Close for good: the shell and what it started on that pty "
                "end (SIGHUP), a persistent terminal's tmux or screen session too.",
                "responses": {"204": {"description": "Closed"}, **errors(404)},
            },
        },
        "/remote/servers/{name}/terminals/{terminal_id}/websocket": {
            "parameters": [NAME_PARAM, TERMINAL_ID_PARAM],
            "get": {
                "operationId": "terminalWebsocket",
                "description": "WebSocket (Upgrade: websocket) in terminado's protocol, as "
                'JupyterLab\'s terminal widget speaks it: in, ["stdin", text] and '
                '["set_size", rows, cols, ...]; out, ["setup", {}] then what the '
                'terminal showed so far and its output as ["stdout", text], and '
                '["disconnect", 1] when the shell exited or the terminal was closed. '
                "Protected as Jupyter's own terminal websocket: authenticated, authorized "
                "(execute), Jupyter's origin check.",
                "responses": {
                    "101": {"description": "Switching to the WebSocket protocol"},
                    "400": {"description": "Not a WebSocket upgrade request"},
                    "404": {"description": "No such terminal on that server"},
                },
            },
        },
        "/remote/servers/{name}/files": {"parameters": [NAME_PARAM], **files_ops("Root")},
        "/remote/servers/{name}/files/{path}": {
            "parameters": [NAME_PARAM, FILE_PATH_PARAM],
            **files_ops(""),
        },
        "/remote/servers/{name}/download/{path}": {
            "parameters": [NAME_PARAM, FILE_PATH_PARAM],
            "get": {
                "operationId": "downloadFile",
                "description": "The file's bytes as an attachment (application/octet-stream, "
                "nosniff, a sandbox CSP: never rendered on Jupyter's origin), streamed over "
                "SFTP. `Range: bytes=N-` resumes from byte N (206).",
                "parameters": [
                    {
                        "name": "Range",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 64},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file's bytes",
                        "content": {"application/octet-stream": {}},
                    },
                    "206": {
                        "description": "The file's bytes from the Range's start",
                        "content": {"application/octet-stream": {}},
                    },
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/uploads/{path}": {
            "parameters": [NAME_PARAM, FILE_PATH_PARAM],
            "delete": {
                "operationId": "cancelUpload",
                "description": "Cancel the chunked upload to PATH: its temporary file is "
                "removed; nothing appears under PATH.",
                "responses": {
                    "200": ok(
                        "Whether an upload was running",
                        {
                            "type": "object",
                            "required": ["cancelled"],
                            "properties": {"cancelled": {"type": "boolean"}},
                        },
                    ),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/servers/{name}/checkpoints/{path}": {
            "parameters": [NAME_PARAM, FILE_PATH_PARAM],
            "get": {
                "operationId": "listCheckpoints",
                "description": "The file's checkpoint, kept beside it on the remote in "
                ".ipynb_checkpoints/ as Jupyter keeps them (none or one, id `checkpoint`).",
                "responses": {
                    "200": ok("Checkpoints", {"type": "array", "items": CHECKPOINT}),
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
            "post": {
                "operationId": "createCheckpoint",
                "description": "Checkpoint the file as it is now; with ?restore=ID, put the "
                "checkpoint back in its place instead (204).",
                "parameters": [
                    {
                        "name": "restore",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["checkpoint"]},
                    }
                ],
                "responses": {
                    "201": ok("The checkpoint", CHECKPOINT),
                    "204": {"description": "Restored"},
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
            "delete": {
                "operationId": "deleteCheckpoint",
                "parameters": [
                    {
                        "name": "id",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["checkpoint"]},
                    }
                ],
                "responses": {
                    "204": {"description": "Deleted"},
                    **errors(400, 404, 409, 422, 502, 504),
                },
            },
        },
        "/remote/openapi.json": {
            "get": {
                "operationId": "openapi",
                "responses": {"200": ok("This document", {"type": "object"})},
            }
        },
    },
}

if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "jupyter_remote" / "openapi.json"
    out.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
