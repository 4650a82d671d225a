"""`station fixity check [--all]`: re-read stored originals against the catalogue."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

fixity_app = typer.Typer(help="fixity of the stored originals", no_args_is_help=True)
console = Console()

_SHOWN = {"mismatch": "内容与登记的 SHA-256 不符（已损坏或被替换）", "missing": "对象存储中找不到"}


@fixity_app.command("check")
def fixity_check(
    check_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="every original, not only this run's share (STATION_FIXITY_PERIOD_DAYS and "
            "STATION_FIXITY_INTERVAL_S set the share)",
        ),
    ] = False,
) -> None:
    """Re-hash stored originals (those checked longest ago first) against the catalogue;
    every result goes to the audit trail. Exit 1 naming each mismatch or missing object."""
    from rich.progress import Progress

    from api.settings import ApiSettings
    from rules.fixity import share_per_run
    from storage.catalogue import fixity_repo
    from storage.catalogue.audit_repo import local_actor
    from storage.catalogue.db import make_engine, make_session_factory
    from storage.errors import StorageError
    from storage.fixity_check import check_originals
    from storage.object_store import open_store

    settings = ApiSettings()
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            total = fixity_repo.originals(session)
        limit = (
            total
            if check_all
            else share_per_run(
                total,
                timedelta(seconds=settings.fixity_interval_s),
                timedelta(days=settings.fixity_period_days),
            )
        )
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("正在校验原始文件", total=limit)
            try:
                failed = check_originals(
                    sessions,
                    open_store(settings.storage_url),
                    limit=limit,
                    actor=local_actor(),
                    on_result=lambda _r: progress.advance(task),
                )
            except StorageError as exc:
                console.print(
                    f"[bold red]错误：[/bold red]无法读取对象存储，校验中止：{escape(str(exc))}",
                    soft_wrap=True,
                )
                raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    for result in failed:
        console.print(
            f"[bold red]校验失败[/bold red] 媒体 {result.original.media_id}"
            f"（{escape(result.original.original_key)}）：{_SHOWN[result.outcome.value]}；"
            f"登记 {result.original.sha256}，实际 {result.actual_sha256 or '无'}",
            soft_wrap=True,
        )
    if failed:
        console.print(f"共校验 {limit} 个原始文件，{len(failed)} 个失败；已写入审计记录。")
        raise typer.Exit(1)
    console.print(f"共校验 {limit} 个原始文件（共 {total} 个），全部与登记的 SHA-256 一致。")
