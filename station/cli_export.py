"""`station export CASE_NO DEST`: the case's evidence as a BagIt bag in the folder DEST,
signed with the api's key, written from the catalogue and the store directly."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

console = Console()


def export_command(
    case_no: Annotated[str, typer.Argument(help="the case number")],
    dest: Annotated[Path, typer.Argument(help="a new or empty folder for the bag")],
) -> None:
    """Write the case's originals, browser copies, signed custody reports and dock receipts
    as a BagIt bag (RFC 8493) in DEST; the export goes into the audit trail and each
    medium's custody."""
    from api.case_export import ExportError, FolderSink, record_export, write_bag
    from api.settings import ApiSettings
    from storage.catalogue import audit_repo
    from storage.catalogue.audit_repo import AuditRecord, local_actor
    from storage.catalogue.custody_repo import Caller
    from storage.catalogue.db import session_scope
    from storage.catalogue.models import AuditOutcome, utc_now
    from storage.errors import StorageError
    from storage.key_file import KeyFileError, load_key
    from storage.object_store import open_store

    settings = ApiSettings()
    try:
        key = load_key(settings.api_signing_key_file)
    except KeyFileError as exc:
        console.print(
            f"[bold red]错误：[/bold red]无法读取中心签名密钥（STATION_API_SIGNING_KEY_FILE）："
            f"{escape(str(exc))}",
            soft_wrap=True,
        )
        raise typer.Exit(2) from exc
    actor = local_actor()
    exporter = Caller(actor=actor.name, role="admin", client=actor.client)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        console.print(f"[bold red]导出失败：[/bold red]{escape(str(dest))} 不是空文件夹，请指定新的或空的文件夹。",
                      soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    dest.mkdir(parents=True, exist_ok=True)
    with session_scope(settings.database_url) as session:
        now = utc_now()
        try:
            made = write_bag(
                session, open_store(settings.storage_url), key, case_no, FolderSink(dest),
                exporter=exporter, now=now,
            )  # fmt: skip
        except (ExportError, StorageError, OSError) as exc:
            for part in dest.iterdir():  # a part of a bag is no evidence
                shutil.rmtree(part) if part.is_dir() else part.unlink()
            console.print(f"[bold red]导出失败：[/bold red]{escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from exc
        # One commit: the custody of each medium and the audit entry of the export.
        record_export(session, made.media_ids, case_no, exporter, now=now)
        audit_repo.append(
            session,
            AuditRecord(
                actor=actor,
                action="case.export",
                target=case_no,
                outcome=AuditOutcome.OK,
                detail={"dest": str(dest.resolve()), "media": made.media, "bytes": made.bytes},
            ),
            now=now,
        )
    console.print(
        f"已导出案件 {escape(case_no)} 的证据包：{made.media} 个媒体，共 {made.bytes} 字节，"
        f"位于 {escape(str(dest))}（BagIt 格式，已签名）。",
        soft_wrap=True,
    )
