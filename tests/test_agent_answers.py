"""How the laptop reads the remote agent's answer when the remote adds output of its own
(a login file's ``trap 'echo bye' EXIT``, a banner): the error says what came, and never
repeats an answer line before it, which for ``claim`` and ``connection`` carries the
kernel's HMAC key and relay token."""

from __future__ import annotations

import json

import pytest

from jupyter_remote.errors import RemoteCommandError
from jupyter_remote.kernels.agent_client import _agent_result
from jupyter_remote.ssh.exec import ExecResult

KEY = "5f1c0ffee-the-kernels-hmac-key"


def test_stray_output_after_an_answer_is_shown_without_the_answer() -> None:
    answer = {"ok": True, "result": {"kernel_id": "k", "key": KEY, "relay_token": KEY}}
    stdout = json.dumps(answer) + "\nbye from .bashrc\n"
    with pytest.raises(RemoteCommandError) as info:
        _agent_result(ExecResult(exit_status=0, stdout=stdout, stderr=""), "claim", "box")
    text = f"{info.value.message} {info.value.hint}"
    assert "bye from .bashrc" in text, "what the remote printed is shown"
    assert KEY not in text and "relay_token" not in text


def test_a_clean_answer_is_read() -> None:
    stdout = "welcome banner\n" + json.dumps({"ok": True, "result": {"key": KEY}}) + "\n"
    result = _agent_result(ExecResult(exit_status=0, stdout=stdout, stderr=""), "claim", "box")
    assert result == {"key": KEY}


ANSWER = json.dumps(
    {"ok": True, "result": {"kernel_id": "k", "key": KEY, "relay_token": KEY[::-1]}}
)


@pytest.mark.parametrize("cut", range(1, len(ANSWER), 3))
def test_no_cut_of_the_error_window_shows_a_piece_of_the_answer(cut: int) -> None:
    """Review s20 F5: JSON-looking lines after the answer (a logout hook's log) push the
    answer to the start of the error's window, which then cuts it mid-line (here at
    every third character); the cut piece does not start with "{", and once showed the
    relay token and the key."""
    filler = 2000 + cut - len(ANSWER) - len("\nbye")  # the window starts at ANSWER[cut:]
    stdout = ANSWER + "\n{" + "x" * (filler - 2) + "\nbye\n"
    assert len(stdout.rstrip()) - 2000 == cut
    with pytest.raises(RemoteCommandError) as info:
        _agent_result(ExecResult(exit_status=0, stdout=stdout, stderr=""), "claim", "box")
    text = f"{info.value.message} {info.value.hint}"
    assert "bye" in text
    for secret in (KEY, KEY[::-1], KEY[-8:], KEY[::-1][-8:]):
        assert secret not in text
