"""The web layer: every REST route under /remote/, the events websocket and the forward
proxies (the only package that imports tornado; see routes.py for the table)."""
