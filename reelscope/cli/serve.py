"""`reelscope serve`: the REST API (and whatever the app mounts) over one archive, with uvicorn."""
from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import List, Optional

import typer

from reelscope.cli.common import ArchiveOpt, DbOpt, err, fail


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
    archive: Optional[Path] = ArchiveOpt,
    db: Optional[str] = DbOpt,
    token: Optional[str] = typer.Option(None, help="API token that write operations need "
                                                   "(default: $REELSCOPE_API_TOKEN)."),
    read_token_required: bool = typer.Option(False, "--read-token-required",
                                             help="Reads need the token too (default: reads are open)."),
    allow: List[Path] = typer.Option([], "--allow", help="Folder whose videos may be analysed by server path and "
                                                         "streamed (repeat; also $REELSCOPE_ALLOWED_ROOTS)."),
    max_upload_mb: Optional[float] = typer.Option(None, help="Upload size limit in MiB "
                                                             "(default: $REELSCOPE_MAX_UPLOAD_MB or 200)."),
    max_image_megapixels: Optional[float] = typer.Option(
        None, min=0.001, help="Images and video frames over this many megapixels are refused from their header, "
                              "before decoding (HTTP 413; default: $REELSCOPE_MAX_IMAGE_PIXELS or 50)."),
    allowed_host: List[str] = typer.Option([], "--allowed-host", help="A Host name the server answers besides the "
                                           "address it binds and localhost (repeat; '.example.org' for a domain "
                                           "and its subdomains, '*' for any, e.g. behind a proxy that checks "
                                           "names; also $REELSCOPE_ALLOWED_HOSTS). Other names get HTTP 400."),
    heavy_slots: Optional[int] = typer.Option(None, min=1, help="Image analyses run at once inside requests; "
                                                                "more get HTTP 429 (default: $REELSCOPE_HEAVY_SLOTS "
                                                                "or 2)."),
    job_workers: Optional[int] = typer.Option(None, min=1, help="Jobs run at once (default: $REELSCOPE_JOB_WORKERS "
                                                                "or 1)."),
    job_retention_days: Optional[float] = typer.Option(
        None, min=0, help="Ended jobs older than this many days are deleted (default: "
                          "$REELSCOPE_JOB_RETENTION_DAYS or 30)."),
    job_keep: Optional[int] = typer.Option(None, min=0, help="At most this many ended jobs are kept (default: "
                                                            "$REELSCOPE_JOB_KEEP or 1000)."),
    resume: Optional[bool] = typer.Option(None, "--resume/--no-resume",
                                          help="Run jobs interrupted by a stop of the server again at start-up "
                                               "(default: $REELSCOPE_JOB_RESUME or yes)."),
):
    """Serve the archive over HTTP: REST API with OpenAPI docs at /docs, the web app, and the job
    runner (jobs are kept in the archive: a restarted server resumes what was interrupted)."""
    try:
        import uvicorn

        from reelscope.api.app import create_app, settings_from_env
        from reelscope.api.jobs import JobSettings
    except ImportError as e:
        fail(f"the API needs its extra: pip install 'reelscope[api]' ({e})")
    from reelscope.errors import ReelscopeError
    from reelscope.media.image import PIXELS_ENV, max_image_pixels

    kw = settings_from_env()
    kw["token"] = token or kw["token"]
    kw["read_token_required"] = read_token_required or kw["read_token_required"]
    kw["allowed_roots"] = tuple(kw["allowed_roots"]) + tuple(allow)
    if max_upload_mb is not None:
        kw["max_upload_mb"] = max_upload_mb
    if heavy_slots is not None:
        kw["heavy_slots"] = heavy_slots
    kw["allowed_hosts"] = (host, *kw.get("allowed_hosts", ()), *allowed_host)  # the bound address first
    if max_image_megapixels is not None:
        # the environment too: the library's readers in jobs (videos, slideshow pictures) use it
        os.environ[PIXELS_ENV] = str(int(max_image_megapixels * 1e6))
    try:
        kw["max_image_pixels"] = max_image_pixels()
    except ReelscopeError as e:
        fail(str(e))
    for root in kw["allowed_roots"]:
        if not Path(root).is_dir():
            fail(f"--allow {root}: not a folder")
    if not kw["token"] and not _loopback(host):
        err.print(f"[yellow]warning:[/yellow] no API token: anyone who reaches {host}:{port} can change the "
                  "archive (set --token or REELSCOPE_API_TOKEN)", highlight=False)
    try:
        kw["jobs"] = JobSettings.from_env(workers=job_workers, retention_days=job_retention_days, keep=job_keep,
                                          resume=resume)
        app = create_app(archive, db, **kw)
    except ReelscopeError as e:
        fail(str(e))
    err.print(f"reelscope API on http://{host}:{port}/docs  (archive {app.state.reelscope.archive.location})",
              highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="info")


app = typer.Typer(add_completion=False, help="Serve the archive over HTTP.")
app.command()(serve)

if __name__ == "__main__":  # pragma: no cover
    app()
