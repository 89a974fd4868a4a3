"""A server's Slurm, as the environment probe saw it (REST under /remote/)."""

from __future__ import annotations

from ..errors import ValidationError
from .base import RemoteHandler, remote_auth


class ServerSlurmHandler(RemoteHandler):
    """``GET /remote/servers/{name}/slurm[?refresh=1]``: partitions with their limits and
    idle nodes, the user's accounts (``slurm`` is null where the server has no Slurm).
    From the probe's cache; ``refresh`` probes again (one round trip)."""

    @remote_auth
    async def get(self, name: str) -> None:
        refresh = self.get_argument("refresh", "0", strip=False)
        if refresh not in ("0", "1", "false", "true"):
            raise ValidationError("refresh must be 0 or 1.", field="refresh")
        self.reply(await self.manager.slurm_cluster(name, refresh=refresh in ("1", "true")))
