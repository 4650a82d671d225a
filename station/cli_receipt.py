"""`station receipt verify FILE`: check a dock receipt offline, with nothing but the file
(and, to be sure of who signed it, the station's public key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

receipt_app = typer.Typer(help="dock receipts", no_args_is_help=True)
console = Console()


@receipt_app.command("verify")
def receipt_verify(
    file: Annotated[Path, typer.Argument(help="the receipt (JSON), as the station gave it")],
    key: Annotated[
        Path | None,
        typer.Option(
            help="the station's public key (PEM, as /api/v1/keys gives it): the receipt must "
            "be signed by it; without, the key the receipt carries is shown to compare"
        ),
    ] = None,
) -> None:
    """Check the receipt's signature; exit 1 when it does not hold (altered, or signed by
    another key), 2 when the file cannot be read."""
    from pydantic import ValidationError

    from wire.receipts import ReceiptDocument
    from wire.signatures import SignatureInvalid, key_id_of, load_public_pem, verify
    from wire.zones import SHOWN_ZONE

    try:
        signed = json.loads(file.read_text(encoding="utf-8"))
        trusted = None
        if key is not None:
            public = load_public_pem(key.read_text())
            trusted = {key_id_of(public): public}
    except (OSError, ValueError) as exc:
        console.print(f"[bold red]错误：[/bold red]无法读取：{escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    try:
        verified = verify(signed, trusted)
        receipt = ReceiptDocument.model_validate(verified.document)
    except (SignatureInvalid, ValidationError) as exc:
        console.print(
            f"[bold red]回执校验失败[/bold red]：签名不成立或内容不是采集回执。\n{escape(str(exc))}",
            soft_wrap=True,
        )
        raise typer.Exit(1) from exc

    def shown(text: str) -> str:
        from datetime import datetime

        return datetime.fromisoformat(text).astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M:%S")

    staged = [f for f in receipt.files if f.state == "staged"]
    console.print(
        f"回执签名有效：采集站 {escape(receipt.station_id)}，设备 {escape(receipt.device_id)}，"
        f"警号 {escape(receipt.officer_id or '未知')}；接入 {shown(receipt.docked_at)}，"
        f"签名 {shown(receipt.signed_at)}（北京时间）；本次采集 {len(staged)} 个文件，"
        f"共列 {len(receipt.files)} 项。",
        soft_wrap=True,
    )
    if key is None:
        console.print(
            f"签名公钥指纹：{verified.key_id}（请与 /api/v1/keys 公布的该采集站公钥核对）",
            soft_wrap=True,
        )
    for f in staged:
        console.print(
            f"  {escape(f.path)}  {f.size_bytes} 字节  SHA-256 {f.sha256}", soft_wrap=True
        )
