"""Remote files, ours against OpenSSH sftp: metric 8 (1 GiB up and down) and metric 9
(listing a directory of 10,000 entries)."""

from __future__ import annotations

import statistics

from bench.drivers_core import LINKS, X_SIGN, Ctx
from bench.results import Row, Table
from bench.runner import WorkerError


def metric_file_transfer(ctx: Ctx) -> None:
    """1 GiB up and down on loopback and on the 50 ms link: ours (files/transfers.py over
    the pooled connection) against OpenSSH sftp, interleaved run by run."""
    size = (1 << 30) if ctx.sizes.runs > 2 else (64 << 20)
    for link in ("lo", "slow"):
        runs = ctx.sizes.transfer_runs_lo if link == "lo" else ctx.sizes.transfer_runs_slow
        where = LINKS[link]
        ctx.say(f"metric 8, {where}: {size >> 20} MiB up and down, {runs} runs each")
        try:
            worker = ctx.worker(
                {"metric": "file_transfer", "target": link, "size": size}, label=f"transfer-{link}"
            )
        except WorkerError as exc:
            ctx.say(f"  set-up failed: {exc}")
            continue
        try:
            for direction in ("put", "get"):
                verb = "Upload" if direction == "put" else "Download"
                table = Table(
                    f"m8-{direction}-{link}", 8, f"{verb} of {size >> 20} MiB, {where}", where,
                    "s", "sftp",
                )  # fmt: skip
                rows = {
                    "ours": table.add(Row("ours", f"jupyter remote files {direction}", ours=True)),
                    "sftp": table.add(Row("sftp", f"OpenSSH sftp {direction}", peer=True)),
                }
                for _ in range(runs):
                    for key, row in rows.items():
                        try:
                            row.samples.append(worker.run(op=f"{key}-{direction}", timeout=900))
                        except WorkerError as exc:
                            row.errors.append(str(exc))
                ours, sftp = rows["ours"].values(), rows["sftp"].values()
                if ours and sftp:
                    speed = statistics.median(sftp) / statistics.median(ours)
                    rows["ours"].note = (
                        f"{size / statistics.median(ours) / 1e6:.0f} MB/s; {speed:.2f}{X_SIGN} "
                        "sftp's speed (issue 14: at least 0.80)"
                    )
                table.notes.append(
                    "Ours: the CLI's transfer (SFTP block requests of the server's largest size, "
                    "64 in flight, on the pooled connection, its SFTP channel's window 16 MiB; "
                    "a download's blocks written to the file with writev; the CLI's allocator "
                    "settings; a temporary name renamed at the end). sftp: OpenSSH's defaults "
                    "(32 KiB requests, 64 in flight), a new connection each run. Same random "
                    "file, runs interleaved."
                )
                ctx.results.tables.append(table)
        finally:
            worker.close()


def metric_listing(ctx: Ctx) -> None:
    """A directory of 10,000 entries on loopback: ours (one SFTP round trip per page the
    server sends) against OpenSSH sftp's ls -1."""
    where = LINKS["lo"]
    ctx.say(f"metric 9, {where}: listing 10,000 entries")
    table = Table("m9-lo", 9, f"Listing a directory of 10,000 entries, {where}", where, "s", "sftp")
    rows = {
        "ours": table.add(Row("ours", "RemoteFiles.list (REST and CLI)", ours=True)),
        "sftp": table.add(Row("sftp", "OpenSSH sftp ls -1 (new connection)", peer=True)),
    }
    try:
        worker = ctx.worker({"metric": "file_transfer", "target": "lo", "size": 1 << 20})
        worker.run(op="layout", timeout=300)
    except WorkerError as exc:
        for row in rows.values():
            row.errors.append(f"set-up: {exc}")
        ctx.results.tables.append(table)
        return
    pages: list[int] = []
    try:
        for _ in range(ctx.sizes.runs):
            for key, row in rows.items():
                try:
                    sample = worker.run(op=f"{key}-list", timeout=300)
                except WorkerError as exc:
                    row.errors.append(str(exc))
                    continue
                row.samples.append(sample["seconds"])
                if key == "ours":
                    pages.append(sample["pages"])
                if sample["entries"] != 10_000:
                    row.errors.append(f"listed {sample['entries']} entries, not 10,000")
    finally:
        worker.close()
    if pages:
        rows["ours"].note = (
            f"{max(pages)} SFTP READDIR round trips (OpenSSH answers 100 names each), no stat "
            "per entry (issue 14: under 1 s)"
        )
    table.notes.append(
        "Ours reuses the pooled connection (kept by the first run); sftp connects each time, "
        "so its time includes the SSH handshake."
    )
    ctx.results.tables.append(table)
