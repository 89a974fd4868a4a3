"""A profile's "run in a Slurm job" settings: validated, and turned into sbatch arguments.

``Profile.slurm`` (``records.py``) holds :meth:`SlurmRequest.to_json` of what the user
typed (REST body, CLI options, admin config); every reader builds the request again
with :meth:`SlurmRequest.from_input`, so a hand-edited store file is checked too. Each
value is data: it becomes one element of sbatch's argv list (the agent runs sbatch
without a shell), never part of a shell string. Extra options are long options only,
one per element, and never one that the kernel's job needs to be what it is (its
name, output, script, environment...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ValidationError
from ..remote.protocol import JOB_NAME
from .validation import _text

#: Partition, account, QOS and reservation names as Slurm writes them.
SLURM_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")
#: Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (or UNLIMITED where allowed).
TIME_RE = re.compile(r"(?:(\d{1,4})-)?(\d{1,6})(?::(\d{1,2}))?(?::(\d{1,2}))?")
MEMORY_RE = re.compile(r"[1-9][0-9]{0,8}[KMGT]?")
GRES_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:,-]{0,127}")
EXTRA_RE = re.compile(r"--([a-z][a-z0-9-]{0,40})(?:=(.*))?", re.S)
MAX_EXTRA = 32
#: Options the profile has a field for: the hint names it.
FIELD_OPTIONS = {
    "partition": "partition",
    "time": "time",
    "cpus-per-task": "cpus",
    "mem": "memory",
    "gres": "gres",
    "account": "account",
    "qos": "qos",
    "reservation": "reservation",
}
#: Options that would make the job something else than a kernel's job.
FORBIDDEN_OPTIONS = frozenset(
    {
        "job-name",
        "output",
        "error",
        "input",
        "parsable",
        "wrap",
        "array",
        "wait",
        "test-only",
        "uid",
        "gid",
        "export",
        "export-file",
        "chdir",
        "open-mode",
        "help",
        "usage",
        "version",
        "wckey",
    }
)
#: What every kernel job gets: a fixed name (visible to all), no output files (the
#: kernel's log is in its private directory), one task.
FIXED_ARGS = (f"--job-name={JOB_NAME}", "--output=/dev/null", "--error=/dev/null", "--ntasks=1")
DEFAULT_NOTICE_MINUTES = 10
#: Idle timeout of a Slurm profile saved without one (seconds): a kernel nobody uses
#: should not hold an allocation until its time limit.
DEFAULT_SLURM_IDLE = 3600


@dataclass(frozen=True)
class SlurmRequest:
    """What to ask Slurm for; None: Slurm's (or the partition's) default."""

    partition: str | None = None
    time: str | None = None
    cpus: int | None = None
    memory: str | None = None
    gres: str | None = None
    account: str | None = None
    qos: str | None = None
    reservation: str | None = None
    extra: tuple[str, ...] = ()
    notice_minutes: int = DEFAULT_NOTICE_MINUTES

    @classmethod
    def from_input(cls, data: Any) -> SlurmRequest:
        """Validate untrusted input (errors name the field ``slurm.NAME``)."""
        if not isinstance(data, Mapping):
            raise ValidationError("slurm must be an object of job settings.", field="slurm")
        allowed = {f.name for f in fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValidationError(
                f"Unknown Slurm setting(s): {', '.join(sorted(map(str, unknown)))[:200]}.",
                field="slurm",
                hint=f"Known: {', '.join(sorted(allowed))}.",
            )
        return cls(
            partition=_name(data.get("partition"), "partition"),
            time=_time(data.get("time")),
            cpus=_number(data.get("cpus"), "cpus", 1, 100_000),
            memory=_pattern(data.get("memory"), "memory", MEMORY_RE, "a size such as 4G or 500M"),
            gres=_pattern(data.get("gres"), "gres", GRES_RE, "a GRES such as gpu:1 or gpu:a100:2"),
            account=_name(data.get("account"), "account"),
            qos=_name(data.get("qos"), "qos"),
            reservation=_name(data.get("reservation"), "reservation"),
            extra=_extra(data.get("extra")),
            notice_minutes=_notice_minutes(data.get("notice_minutes")),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["extra"] = list(self.extra)
        return data

    def sbatch_args(self) -> list[str]:
        """sbatch's arguments for this request (the agent adds ``--parsable``): one list
        element per option, values as typed (validated), never a shell string."""
        args = list(FIXED_ARGS)
        named = (
            ("partition", self.partition),
            ("time", self.time),
            ("cpus-per-task", self.cpus),
            ("mem", self.memory),
            ("gres", self.gres),
            ("account", self.account),
            ("qos", self.qos),
            ("reservation", self.reservation),
        )
        args += [f"--{option}={value}" for option, value in named if value is not None]
        return args + list(self.extra)

    def minutes(self) -> int | None:
        """The time limit in minutes (None: the partition's default)."""
        return time_minutes(self.time) if self.time else None


def time_minutes(text: str) -> int:
    """Minutes of a Slurm time string (already validated by :data:`TIME_RE`)."""
    m = TIME_RE.fullmatch(text)
    assert m is not None
    days, first, second, third = m.groups()
    if days is not None:  # D-H[:M[:S]]
        return int(days) * 1440 + int(first) * 60 + int(second or 0) + (1 if third else 0)
    if third is not None:  # H:M:S
        return int(first) * 60 + int(second) + (1 if int(third) else 0)
    if second is not None:  # M:S
        return int(first) + (1 if int(second) else 0)
    return int(first)  # M


def key_values(text: str) -> dict[str, str]:
    """Slurm's ``Key=Value`` words (``scontrol -o`` lines) as a dict: the first value of
    each key; values have no spaces except in a few free-text fields no caller reads.
    Read by ``kernels/slurm.py`` (a job) and ``kernels/slurm_info.py`` (partitions)."""
    fields: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep and key not in fields:
            fields[key] = value
    return fields


def _field(what: str) -> str:
    return f"slurm.{what}"


def _optional_text(value: Any, what: str, max_len: int = 128) -> str | None:
    if value is None or value == "":
        return None
    return _text(value, _field(what), max_len=max_len).strip() or None


def _name(value: Any, what: str) -> str | None:
    text = _optional_text(value, what)
    if text is not None and not SLURM_NAME_RE.fullmatch(text):
        raise ValidationError(
            f"Invalid Slurm {what} {text!r}.",
            field=_field(what),
            hint="Letters, digits, '_', '.', '+', '-', as `sinfo` or `sacctmgr` shows it.",
        )
    return text


def _pattern(value: Any, what: str, pattern: re.Pattern[str], example: str) -> str | None:
    text = _optional_text(value, what)
    if text is not None and not pattern.fullmatch(text):
        raise ValidationError(
            f"Invalid {what} {text!r}.", field=_field(what), hint=f"Give {example}."
        )
    return text


def _time(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _optional_text(value, "time")
    if text is None:
        return None
    if not TIME_RE.fullmatch(text) or time_minutes(text) < 1:
        raise ValidationError(
            f"Invalid time limit {text!r}.",
            field=_field("time"),
            hint="Minutes (90), H:MM:SS (1:30:00) or D-HH:MM (2-00:00), at least one minute.",
        )
    return text


def _number(value: Any, what: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            f"{what} must be a whole number from {low} to {high}.", field=_field(what)
        )
    return value


def _notice_minutes(value: Any) -> int:
    minutes = _number(value, "notice_minutes", 0, 1440)
    return DEFAULT_NOTICE_MINUTES if minutes is None else minutes


def _abbreviates(name: str, names: frozenset[str] | set[str]) -> bool:
    """Whether ``name`` is a strict prefix of one of ``names``: sbatch (getopt_long) takes
    ``--ou=FILE`` for ``--output=FILE``, so a checked name must be written in full."""
    return any(full != name and full.startswith(name) for full in names)


def _extra(value: Any) -> tuple[str, ...]:
    """Extra sbatch options: ``--name`` or ``--name=value``, one per element."""
    if value is None or value == "":
        return ()
    if not isinstance(value, (list, tuple)) or len(value) > MAX_EXTRA:
        raise ValidationError(
            f"extra must be a list of at most {MAX_EXTRA} sbatch options.", field=_field("extra")
        )
    options = []
    for item in value:
        option = _text(item, _field("extra"), max_len=256)
        m = EXTRA_RE.fullmatch(option)
        if m is None:
            raise ValidationError(
                f"{option!r} is not a long sbatch option.",
                field=_field("extra"),
                hint="Give one option per entry, in its long form: --constraint=a100, --exclusive.",
            )
        name = m.group(1)
        if name in FIELD_OPTIONS:
            raise ValidationError(
                f"--{name} has its own setting.",
                field=_field("extra"),
                hint=f"Set the profile's Slurm {FIELD_OPTIONS[name]} instead.",
            )
        if name in FORBIDDEN_OPTIONS:
            raise ValidationError(
                f"--{name} cannot be used for a kernel's job.",
                field=_field("extra"),
                hint="jupyter-remote sets the job's name, output, script and environment "
                "itself; the kernel's environment variables are the profile's env.",
            )
        if _abbreviates(name, FORBIDDEN_OPTIONS.union(FIELD_OPTIONS)):
            raise ValidationError(
                f"--{name} is short for another option.",
                field=_field("extra"),
                hint="Give the option's full name (sbatch would expand an abbreviation, "
                "possibly to an option a kernel's job may not have).",
            )
        options.append(option)
    return tuple(options)


def slurm_request(raw: Any) -> SlurmRequest | None:
    """The request of a profile's ``slurm`` field (validated again), or None."""
    return None if raw is None else SlurmRequest.from_input(raw)
