"""The one version of jupyterlab-remote; labextension/package.json must match it."""

__version__ = "0.1.0"
