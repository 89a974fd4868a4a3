"""HTTP to a Jupyter server that already runs elsewhere: its REST API and kernel websocket
(the only code besides web/ that imports tornado: its HTTP and websocket clients)."""

from .client import JupyterAPI, url_host_port
from .wsproto import V1, ProtocolError, decode_legacy, decode_v1, encode_legacy, encode_v1

__all__ = [
    "V1",
    "JupyterAPI",
    "ProtocolError",
    "decode_legacy",
    "decode_v1",
    "encode_legacy",
    "encode_v1",
    "url_host_port",
]
