"""`station retention run`: the deletion job once, in the foreground (the api runs it on
its schedule too)."""

from __future__ import annotations

import typer
from rich.console import Console

retention_app = typer.Typer(help="retention and deletion by policy", no_args_is_help=True)
console = Console()


@retention_app.command("run")
def retention_run() -> None:
    """Delete the media whose retention period ended and that no hold or case keeps (each
    with its tombstone and audit entry), remove their objects from the store, and bring the
    object locks of the originals up to date."""
    from api.settings import ApiSettings
    from storage.catalogue.audit_repo import local_actor
    from storage.catalogue.db import make_engine, make_session_factory, one_runner
    from storage.catalogue.models import utc_now
    from storage.deletion import delete_expired, remove_deleted_objects
    from storage.object_locks import sync_out_of_step
    from storage.object_store import open_store

    settings = ApiSettings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    try:
        store = open_store(settings.storage_url)
        with one_runner(engine, "retention") as mine:
            if not mine:
                console.print("删除任务正在由中心服务（另一进程）执行，本次未执行。")
                raise typer.Exit(1)
            deleted = delete_expired(sessions, by=local_actor(), now=utc_now())
            removed = remove_deleted_objects(sessions, store)
            locked = sync_out_of_step(sessions, store, now=utc_now())
    finally:
        engine.dispose()
    console.print(
        f"已按保存期限删除 {deleted} 个媒体（均留有删除记录并写入审计）；"
        f"已从对象存储移除 {removed} 个媒体的文件；已核对 {locked} 个原始文件的存储锁定。",
        soft_wrap=True,
    )
