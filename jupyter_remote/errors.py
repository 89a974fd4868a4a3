"""The one error hierarchy of jupyterlab-remote.

Every failure a user can meet is a ``RemoteError`` with a machine-readable
``reason``, a ``message`` saying what went wrong and a ``hint`` saying how to
fix it. Handlers turn them into ``{"message", "reason", "hint"}`` JSON bodies
with ``status``; the CLI prints message and hint and exits with ``exit_code``.
No tornado import here: the CLI and the provisioner use this module too.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RemoteError(Exception):
    """Root of every error this package raises on purpose."""

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    reason: ClassVar[str] = "remote_error"
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.details = details

    def to_json(self) -> dict[str, Any]:
        """Body of an HTTP error answer and of ``--json`` CLI errors."""
        body: dict[str, Any] = {"message": self.message, "reason": self.reason, "hint": self.hint}
        body.update(self.details)
        return body

    def __str__(self) -> str:
        return self.message


class ValidationError(RemoteError):
    """User input that cannot be accepted; nothing was changed."""

    status = 400
    exit_code = 2
    reason = "invalid"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, **({"field": field} if field else {}))
        self.field = field


class NotFoundError(RemoteError):
    status = 404
    reason = "not_found"


class ConflictError(RemoteError):
    status = 409
    reason = "conflict"


class ReadOnlyError(ConflictError):
    reason = "read_only"
    default_hint = (
        "This entry is defined by an administrator in the Jupyter configuration; change it there."
    )


class IpykernelMissingError(RemoteError):
    """The chosen environment cannot run ipykernel yet."""

    status = 409
    reason = "ipykernel_missing"


class WorkingDirectoryMissingError(RemoteError):
    """A profile's working directory does not exist on the remote (yet)."""

    status = 409
    reason = "cwd_missing"


class ExternallyManagedError(RemoteError):
    """pip refuses to install into a system Python (PEP 668): make an environment instead."""

    status = 409
    reason = "externally_managed"


class HostKeyError(RemoteError):
    """Base of the host-key refusals; never retried automatically. Each names the host,
    the key type and the SHA256 fingerprint of the key offered (also in the JSON body)."""

    status = 409

    def __init__(
        self,
        message: str,
        *,
        hint: str,
        host_id: str,
        key_type: str,
        fingerprint: str,
        warnings: list[str] | None = None,
        **details: Any,
    ) -> None:
        if warnings:  # known_hosts lines or files that were skipped
            details["warnings"] = warnings
        super().__init__(
            message,
            hint=hint,
            host_id=host_id,
            key_type=key_type,
            fingerprint=fingerprint,
            **details,
        )
        self.host_id = host_id
        self.key_type = key_type
        self.fingerprint = fingerprint


class HostKeyUnknownError(HostKeyError):
    """The server offered a key nobody has trusted yet."""

    exit_code = 3
    reason = "hostkey_unknown"

    def __init__(
        self,
        *,
        host_id: str,
        key_type: str,
        fingerprint: str,
        server: str | None,
        warnings: list[str] | None = None,
    ) -> None:
        trust = f"jupyter remote server test {server or 'NAME'} --trust"
        super().__init__(
            f"The host key of {host_id} is not trusted yet: {key_type} {fingerprint}",
            hint=(
                "Compare the fingerprint with the one your administrator gives you "
                f"(on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then trust it "
                f"with `{trust}` or the Trust button."
            ),
            host_id=host_id,
            key_type=key_type,
            fingerprint=fingerprint,
            warnings=warnings,
        )


class HostKeyChangedError(HostKeyError):
    """The server offered a key different from the trusted one: possible attack."""

    exit_code = 4
    reason = "hostkey_changed"

    def __init__(
        self,
        *,
        host_id: str,
        key_type: str,
        fingerprint: str,
        known_fingerprints: list[str],
        warnings: list[str] | None = None,
    ) -> None:
        known = ", ".join(known_fingerprints) or "(unknown)"
        super().__init__(
            f"WARNING: the host key of {host_id} has CHANGED. Someone may be intercepting "
            f"the connection (man-in-the-middle attack), or the host was reinstalled. "
            f"Trusted: {known}. Offered now: {key_type} {fingerprint}.",
            hint=(
                "Do not connect until you have confirmed the new key with the host's "
                "administrator. If it is legitimate, remove the old entry with "
                f"`jupyter remote hostkey remove {host_id}` (or in the Security drawer; "
                "keys in a known_hosts file: `ssh-keygen -R HOST -f FILE`) and trust the new one."
            ),
            host_id=host_id,
            key_type=key_type,
            fingerprint=fingerprint,
            warnings=warnings,
            known_fingerprints=known_fingerprints,
        )
        self.known_fingerprints = known_fingerprints


class HostKeyRevokedError(HostKeyError):
    """The server offered a key, or a certificate from a CA, marked ``@revoked``."""

    exit_code = 4
    reason = "hostkey_revoked"

    def __init__(
        self,
        *,
        host_id: str,
        key_type: str,
        fingerprint: str,
        revoked_in: list[str],
        certificate_authority: bool = False,
    ) -> None:
        what = (
            "a host certificate signed by the certificate authority"
            if certificate_authority
            else "the host key"
        )
        where = ", ".join(revoked_in) or "a known_hosts file"
        super().__init__(
            f"REFUSED: {host_id} offered {what} {key_type} {fingerprint}, which is REVOKED "
            f"(@revoked in {where}). A revoked key is never trusted.",
            hint=(
                "Do not connect: a key is revoked when it leaked or its host was retired. "
                "Ask the host's administrator for its current key. Neither --trust nor the "
                "Trust button accepts a revoked key; if the revocation is a mistake, remove "
                f"the @revoked line ({where})."
            ),
            host_id=host_id,
            key_type=key_type,
            fingerprint=fingerprint,
            revoked_in=revoked_in,
        )
        self.revoked_in = revoked_in


class SSHAuthError(RemoteError):
    """The remote refused our credentials. Not 401/403: those are Jupyter's own."""

    status = 422
    reason = "auth_failed"
    default_hint = (
        "Check the user name and the key or password; for keys, make sure the public "
        "half is in ~/.ssh/authorized_keys on the host."
    )


class SecretRequiredError(SSHAuthError):
    """A password or passphrase is needed and none is available in this process."""

    reason = "secret_required"


class SSHConnectError(RemoteError):
    """The host could not be reached or the SSH session broke."""

    status = 502
    reason = "unreachable"
    default_hint = (
        "Check the host name and port, that sshd runs there and that no firewall is in the way."
    )


class SSHTimeoutError(SSHConnectError):
    status = 504
    reason = "timeout"


class RemoteCommandError(RemoteError):
    """A command we ran on the remote failed."""

    status = 502
    reason = "remote_command_failed"


# ---------------------------------------------------------------- Jupyter servers


class JupyterAuthError(RemoteError):
    """A Jupyter server refused our token or password. Not 401/403: those are our own
    Jupyter's (the remote's 403 would read as "you are not logged in here")."""

    status = 422
    reason = "jupyter_auth_failed"
    default_hint = (
        "Check the token or password: `jupyter server list` on that machine prints the "
        "URL with its token; for JupyterHub, create an API token on the hub's token page. "
        "Change it with `jupyter remote server edit NAME --token` or the server form."
    )


class JupyterConnectError(RemoteError):
    """The Jupyter server could not be reached, or its connection broke."""

    status = 502
    reason = "jupyter_unreachable"
    default_hint = (
        "Check the URL (scheme, host, port and base path) and that the Jupyter server runs; "
        "for a server only the SSH host can reach, save it with --via SSHSERVER."
    )


class JupyterCertificateError(JupyterConnectError):
    """The server's HTTPS certificate did not validate: never ignored."""

    reason = "certificate"
    default_hint = (
        "The certificate is not trusted by this machine. If the server uses a private CA "
        "or a self-signed certificate, give its CA file (PEM) with --ca-file or the form's "
        "CA file field after checking it with the server's administrator."
    )


class JupyterTooOldError(RemoteError):
    """The server does not speak the REST + kernel websocket protocol we need."""

    status = 502
    reason = "jupyter_too_old"
    default_hint = (
        "Upgrade the remote to Jupyter Server 1.0 or later (or Notebook 5.0 or later), or run "
        "kernels there over SSH instead: add it with `jupyter remote server add NAME --host`."
    )


class JupyterAPIError(RemoteError):
    """The Jupyter server answered a request with an error of its own."""

    status = 502
    reason = "jupyter_error"


class RemoteFileError(RemoteError):
    """The remote refused a file operation (SFTP) for a reason other than below: the
    state of its files does not allow it (not empty, too big to open, not a notebook)."""

    status = 409
    reason = "file_error"


class RemotePermissionError(RemoteError):
    """The remote account may not read or change that path. Not 403: that is Jupyter's."""

    status = 409
    reason = "permission_denied"
    default_hint = (
        "Your account on the remote may not do this here; check the path's owner and mode "
        "(ls -l on the remote)."
    )


class RemoteFileChangedError(ConflictError):
    """Saving would overwrite a file that changed on the remote since it was read."""

    reason = "changed_on_remote"
    default_hint = (
        "Reload the file to see the other change, or save again with overwrite to replace it."
    )


class TransferCancelledError(RemoteError):
    """A transfer was cancelled by its user; nothing was left under the final name."""

    status = 409
    reason = "cancelled"
