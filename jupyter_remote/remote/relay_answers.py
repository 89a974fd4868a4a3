"""What the relay keeps of each reply it drops, for the laptop to answer its request: runs
ON the remote, part of the agent script (before ``relay_buffer.py``, which calls it).

Review s27 F3: a run of dropped replies kept the routing frames of its first reply only,
and the laptop answered one request per run, with the run's parent (the first message's:
possibly another cell's request), so the other requests of the run waited for ever. Now
each shell or control reply dropped keeps a small ANSWER of its own: its request's
msg_id, msg_type and session (from the reply's parent header) and its routing frames
(identities), as one JSON object; its run sends them all with its GAP (``Relay._run_gap``,
after the run's parent: ``[info, parent, answer, ...]``, ``info["answers"]`` counting
them), and the laptop (``kernels/relay_records.py``, ``relay_gaps.py``) sends each request
an error reply with its own parent to its own client. Kept small and bounded: at most
ANSWER_FIELD characters a field, the routing of IDENTS_KEPT bytes in IDENT_FRAMES_KEPT
frames, a reply repeating the run's last answer (a kernel answering one request many
times) adds none, at most ANSWERS_PER_RUN in a run, and the answers kept cost at most
bound // ANSWER_SHARE in all (``BufferSide._keep_answer``); past that a dropped reply
is counted in its run's "replies" with no answer (logged here and on the laptop: its
request stays waiting: interrupt or restart). Stdlib, Python >= 3.8.
"""

import json
from typing import Any, List, Optional

# <local-imports> removed when the script is sent: the parts before it define these
from jupyter_remote.remote.protocol import MSG_DELIMITER, RELAYED

# </local-imports>

#: bytes and frames of a dropped reply's routing frames (identities) its answer keeps
IDENTS_KEPT, IDENT_FRAMES_KEPT = 1024, 16
#: characters of each header field (msg_id, msg_type, session) an answer keeps, else none
ANSWER_FIELD = 256
#: answers one run keeps (its GAP record carries one part each: a record has < 65,536)
ANSWERS_PER_RUN = 4096
#: the answers kept cost at most bound // ANSWER_SHARE (1 MiB: ~500; 128 MiB: ~60,000)
ANSWER_SHARE = 8
#: bytes counted for each answer kept, beside its JSON: the Python objects holding it
ANSWER_COST = 128
#: the longest answer part the laptop takes (``kernels/relay_records.py``), its seq
#: included; a longer one is not kept (review s29 R1: fields of 256 characters escape to
#: up to 12 bytes each in JSON, so the character bounds alone allowed ~11 KB)
ANSWER_MAX = 4096
#: room ``answer_part`` needs for the seq before the body: '{"seq":' + 20 digits + ','
SEQ_ROOM = 28


def reply_idents(frames: List[Any]) -> Optional[List[bytes]]:
    """A reply's routing frames (before the delimiter), if within IDENTS_KEPT bytes and
    IDENT_FRAMES_KEPT frames, else None."""
    try:
        idents = frames[: frames.index(MSG_DELIMITER)]
    except ValueError:
        return None
    if len(idents) > IDENT_FRAMES_KEPT or sum(len(i) for i in idents) > IDENTS_KEPT:
        return None
    return [bytes(i) for i in idents]


def answer_body(channel: int, parent: bytes, frames: List[Any]) -> Optional[bytes]:
    """``BufferSide._keep_answer``: the answer of a reply dropped on ``channel`` whose
    parent header is ``parent`` (at most PARENT_KEPT bytes: ``_gap_parent``), as JSON
    without its seq (``answer_part`` adds it): None for a stdin message (the kernel's input
    request: no answer can stand for the user's), a parent that is no request (a msg_id
    and a ``*_request`` msg_type, strings of at most ANSWER_FIELD characters), routing
    frames over their bound, or an answer longer than the laptop takes (ANSWER_MAX)."""
    name = RELAYED[channel]
    if name not in ("shell", "control"):
        return None
    idents = reply_idents(frames)
    if idents is None:
        return None
    try:
        header = json.loads(parent)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    fields = {"channel": name}
    for key in ("msg_id", "msg_type", "session"):
        value = header.get(key)
        if isinstance(value, str) and len(value) <= ANSWER_FIELD:
            fields[key] = value
    if "msg_id" not in fields or not fields.get("msg_type", "").endswith("_request"):
        return None
    body = dict(fields, idents=[i.hex() for i in idents])
    text = json.dumps(body, separators=(",", ":")).encode("ascii")
    return text if len(text) + SEQ_ROOM <= ANSWER_MAX else None


def answer_part(seq: int, body: bytes) -> bytes:
    """An answer as its GAP record carries it (``Relay._run_gap``): its JSON with the seq of
    the reply it stands for first (the laptop answers each seq once)."""
    return b'{"seq":%d,' % seq + body[1:]
