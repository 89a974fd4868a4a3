"""The remote's files: SFTP on the pooled connection, as Jupyter contents (drives in
JupyterLab's file browser), transfers with progress, notebooks that run where they live."""

from .service import RemoteFiles

__all__ = ["RemoteFiles"]
