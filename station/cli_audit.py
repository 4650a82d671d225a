"""`station audit verify [--against-store]`: the audit chain recomputed from the catalogue,
and checked against the checkpoints the api signed into the object store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

audit_app = typer.Typer(help="the audit trail", no_args_is_help=True)
console = Console()


@audit_app.command("verify")
def audit_verify(
    against_store: Annotated[
        bool,
        typer.Option(
            "--against-store",
            help="also check the signed checkpoints in the object store (STATION_STORAGE_URL)",
        ),
    ] = False,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            help="a trusted public key (PEM, as /api/v1/keys gives it) that signs checkpoints; "
            "by default the api's key file (STATION_API_SIGNING_KEY_FILE)"
        ),
    ] = None,
) -> None:
    """Recompute the chain; exit 1 naming the first entry that was changed, removed,
    inserted or reordered (or that contradicts a checkpoint)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from api.settings import ApiSettings
    from storage.audit_checkpoints import check_against_store
    from storage.catalogue import audit_repo
    from storage.catalogue.db import session_scope
    from storage.errors import StorageError
    from storage.key_file import KeyFileError, load_key
    from storage.object_store import open_store
    from wire.signatures import key_id_of, load_public_pem

    settings = ApiSettings()
    trusted: dict[str, Ed25519PublicKey] = {}
    if against_store:
        try:
            keys = (
                [load_public_pem(p.read_text()) for p in key]
                if key
                else [load_key(settings.api_signing_key_file).public_key()]
            )
        except (OSError, ValueError, KeyFileError) as exc:
            console.print(
                f"[bold red]错误：[/bold red]无法读取用于核对检查点的公钥：{escape(str(exc))}。"
                "请用 --key 指定 /api/v1/keys 公布的公钥文件。"
            )
            raise typer.Exit(2) from exc
        trusted = {key_id_of(k): k for k in keys}
    with session_scope(settings.database_url) as session:
        chain = audit_repo.check(session)
        broken = chain.broken
        checkpoints = 0
        if against_store and broken is None:
            try:
                stored = check_against_store(session, open_store(settings.storage_url), trusted)
            except StorageError as exc:
                console.print(f"[bold red]错误：[/bold red]无法读取对象存储：{escape(str(exc))}")
                raise typer.Exit(2) from exc
            checkpoints, broken = stored.checkpoints, stored.broken
    if broken is not None:
        where = (
            "对象存储中的签名检查点不可信"
            if broken.seq == 0
            else f"第 {broken.seq} 条记录起不可信（已读 {chain.entries} 条）"
        )
        console.print(
            f"[bold red]审计链校验失败[/bold red]：{where}。\n{escape(broken.reason)}",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    sealed = f"，与对象存储中 {checkpoints} 个签名检查点一致" if against_store else ""
    console.print(f"审计链完整：共 {chain.entries} 条记录{sealed}。")
