"""``jupyter remote``: everything the sidebar does, scriptable."""
