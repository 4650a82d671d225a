"""`station storage init` and `station storage verify-worm`: set up the evidence store and
prove against the live store that what is stored there cannot be changed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

storage_app = typer.Typer(help="the evidence object store", no_args_is_help=True)
console = Console()

_SHOWN = {
    "locked": "探针对象已锁定",
    "delete refused": "删除已锁定对象被拒绝",
    "retention not shortened": "缩短保留期被拒绝",
    "range reads exact": "按范围读取字节准确",
    "wrong checksum refused": "校验和不符的写入被拒绝",
    "overwrite keeps the locked bytes": "覆盖写入不改变已锁定的内容",
    "probe removed": "清理探针对象",
}


def _store_url() -> str:
    from api.settings import ApiSettings

    return ApiSettings().storage_url


@storage_app.command("init")
def storage_init() -> None:
    """Create the evidence bucket with object lock and a default retention (S3), or the local
    store's folder; running it again changes nothing."""
    from rules.retention import DEFAULT_RETENTION
    from storage.errors import StorageError
    from storage.local_store import LocalStore
    from storage.object_store import open_store
    from storage.s3_store import S3Store

    store = open_store(_store_url())
    try:
        if isinstance(store, S3Store):
            done = store.initialise(DEFAULT_RETENTION)
        else:
            assert isinstance(store, LocalStore)
            store.root.mkdir(parents=True, exist_ok=True)
            done = f"local store at {store.root} (locks kept by this program in .locks/)"
    except StorageError as exc:
        console.print(f"[bold red]错误：[/bold red]{escape(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(escape(done))


@storage_app.command("verify-worm")
def storage_verify_worm() -> None:
    """Prove against the live S3 store that a locked original cannot be deleted, overwritten
    or have its retention shortened, that a wrong checksum is refused and that ranged reads
    are exact. Exit 1 naming each check that failed, 2 when the store cannot be used."""
    from storage.errors import StorageError
    from storage.object_store import open_store
    from storage.s3_store import S3Store
    from storage.worm_check import verify_worm

    store = open_store(_store_url())
    if not isinstance(store, S3Store):
        console.print(
            "[bold red]错误：[/bold red]本地对象存储不是一次写入存储（WORM）：其锁定由本程序维护，"
            "能写该目录的人可以删除文件。证据存储请使用支持对象锁定的 S3（见 deploy/README.md）。"
        )
        raise typer.Exit(2)
    try:
        with tempfile.TemporaryDirectory(prefix="worm-check-") as work:
            findings = verify_worm(store, Path(work))
    except StorageError as exc:
        console.print(f"[bold red]错误：[/bold red]探针对象无法存入：{escape(str(exc))}")
        raise typer.Exit(2) from exc
    for f in findings:
        mark = "[green]通过[/green]" if f.ok else "[bold red]失败[/bold red]"
        console.print(f"{mark}  {_SHOWN.get(f.check, f.check)}：{escape(f.detail)}")
    failed = [f.check for f in findings if not f.ok]
    if failed:
        console.print(f"[bold red]{len(failed)} 项未通过：[/bold red]{escape(', '.join(failed))}")
        raise typer.Exit(1)
    console.print(
        "[bold green]对象存储是一次写入的：已锁定的证据不能被删除、覆盖或缩短保留期。[/bold green]"
    )
