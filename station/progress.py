"""What the officer at the dock sees: progress bars and a summary, in Chinese."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from ingest.errors import CopyError, IngestError
from ingest.scan import ScanResult, SkipReason
from station.api_client import ApiError, RegistrationError
from station.backlog import Backlog, DerivedOutcome
from station.importer import ImportReport, StationDiskFull
from station.journal import FileState, JournalRow
from station.receipts import Receipt
from storage.errors import StorageError, StoredObjectMismatch
from wire.derived import ProxyStatus
from wire.zones import SHOWN_ZONE

SKIP_REASONS = {
    SkipReason.OS_ARTEFACT: "操作系统生成的文件（索引、缩略图缓存、文件夹设置等），不是证据，跳过",
    SkipReason.CAMERA_SYSTEM: "设备自身的系统文件（固件、设置、版本信息），不是证据，跳过",
    SkipReason.EMPTY: "空文件（0 字节），无内容可保存",
    SkipReason.SYMLINK: "符号链接，不跟随",
    SkipReason.SPECIAL: "特殊文件（管道/设备/套接字），跳过",
    SkipReason.UNREADABLE: "无法读取，可能有录像未导入（检查存储卡后重新导入）",
    SkipReason.TOO_DEEP: "目录层级过深，未读取（存储卡可能损坏）",
}

STATE_LABELS = {
    FileState.DISCOVERED: "等待复制",
    FileState.STAGED: "已复制并校验",
    FileState.PROBED: "已读取媒体信息",
    FileState.UPLOADED: "已上传存储",
    FileState.REGISTERED: "已登记入库",
}


def describe_error(error: BaseException) -> str:
    """A Chinese summary of what went wrong, followed by the technical detail."""
    if isinstance(error, StationDiskFull):
        prefix = "采集站磁盘空间不足，未复制（设备上的文件未动）"
    elif isinstance(error, CopyError):
        prefix = "从设备复制失败"
    elif isinstance(error, StoredObjectMismatch):
        prefix = "存储校验不一致，未登记"
    elif isinstance(error, StorageError):
        prefix = "上传存储失败，文件已安全暂存在采集站，稍后自动重试（或再次导入）"
    elif isinstance(error, RegistrationError) and error.retryable:
        prefix = "登记失败，文件已存储，稍后自动重试（或再次导入）"
    elif isinstance(error, RegistrationError):
        prefix = "管理平台拒绝登记，文件已存储，请联系信息通信部门处理"
    elif isinstance(error, ApiError) and error.retryable:
        prefix = "管理平台暂时无法连接，文件已安全暂存在采集站，稍后自动重试（或再次导入）"
    elif isinstance(error, ApiError):
        prefix = "管理平台拒绝请求，请联系信息通信部门处理"
    elif isinstance(error, IngestError):
        prefix = "处理失败"
    else:
        prefix = "内部错误"
    return f"{prefix}：{error}"


class RichImportProgress:
    """ImportObserver drawing one bar per active file and two overall bars."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._files: dict[int, TaskID] = {}
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()
        self._copy_total: TaskID | None = None
        self._done_total: TaskID | None = None

    def __enter__(self) -> RichImportProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None:
        self._names = {row.id: escape(row.path) for row in todo}
        to_copy = sum(r.size for r in todo if r.state is FileState.DISCOVERED)
        self._console.print(
            f"发现媒体文件 {len(scan.found)} 个，需导入 {len(todo)} 个"
            f"（{len(scan.found) - len(todo)} 个此前已导入），跳过 {len(scan.skipped)} 项"
        )
        self._copy_total = self._progress.add_task("总体：复制并校验", total=to_copy)
        self._done_total = self._progress.add_task(
            "总体：登记入库（字节）", total=sum(r.size for r in todo)
        )

    def _file_task(self, row: JournalRow) -> TaskID:
        with self._lock:
            if row.id not in self._files:
                self._files[row.id] = self._progress.add_task(
                    f"  {self._name(row)}", total=row.size
                )
            return self._files[row.id]

    def copying(self, row: JournalRow) -> None:
        self._file_task(row)

    def copied_bytes(self, row: JournalRow, n: int) -> None:
        self._progress.advance(self._file_task(row), n)
        if self._copy_total is not None:
            self._progress.advance(self._copy_total, n)

    def reached(self, row: JournalRow, state: FileState) -> None:
        task = self._file_task(row)
        name = self._name(row)
        self._progress.update(
            task, completed=row.size, description=f"  {name} · {STATE_LABELS[state]}"
        )
        if state is FileState.REGISTERED:
            self._progress.update(task, visible=False)
            if self._done_total is not None:
                self._progress.advance(self._done_total, row.size)

    def failed(self, row: JournalRow, error: Exception) -> None:
        task = self._file_task(row)
        self._progress.update(task, description=f"  [red]{self._name(row)} · 失败")
        self._console.print(f"[red]失败[/red] {self._name(row)}：{escape(describe_error(error))}")

    def keep_docked(self, not_copied: list[JournalRow]) -> None:
        names = "、".join(self._name(r) for r in not_copied) or "（见下方无法读取的项目）"
        self._console.print(
            f"[bold red]请勿拔出设备：[/bold red]以下文件未能复制：{names}。处理原因后重新导入。"
        )

    def safe_to_undock(self, receipt: Receipt | None) -> None:
        self._console.print(
            "[bold green]所有文件已复制并校验，可以拔出设备。[/bold green]（后续上传和登记在采集站继续）"
        )
        if receipt is not None:
            self._console.print(
                f"采集回执已签名（{receipt.files} 个文件）：{escape(str(receipt.path))}"
            )

    def _name(self, row: JournalRow) -> str:
        """The file's name as rich shows it: names come from the device, and markup in one
        must not restyle or hide the output."""
        return self._names.get(row.id) or escape(row.path)

    def derive(self, backlog: Backlog, rows: list[int]) -> list[DerivedOutcome]:
        """Make the browser copies of these rows (and of earlier imports' files still
        waiting), with a bar; each medium's last outcome (failures stay in the backlog,
        retried later)."""
        due = backlog.due(among=rows)
        if not due:
            return []
        self._console.print(f"原始文件已处理完毕。正在生成浏览器预览（{len(due)} 个）……")
        task = self._progress.add_task("总体：生成浏览器预览", total=len(due))
        last: dict[int, DerivedOutcome] = {}

        def step(outcome: DerivedOutcome) -> None:
            last[outcome.row.id] = outcome
            if outcome.finished or outcome.error is not None:
                self._progress.advance(task)

        backlog.run_due(among=[job.file_id for job in due], on_step=step)
        return list(last.values())


@dataclass(frozen=True)
class ImportResult:
    """A foreground import: its originals, then its browser copies."""

    report: ImportReport
    derived: list[DerivedOutcome]
    """The backlog's work in this run, each medium's last outcome."""
    proxy_status: dict[int, ProxyStatus]
    """Where each imported file's browser copy stands at the end, by journal row."""
    unreadable: dict[int, str]
    """Files kept as evidence that nothing here can read, with ffprobe's reason."""
    finished_s: float
    """From the start until the browser copies were done too."""


PROXY_LABELS = {
    ProxyStatus.PENDING: "预览待生成（采集站代理稍后重试）",
    ProxyStatus.READY: "可在浏览器播放",
    ProxyStatus.FAILED: "无法生成浏览器预览（原始文件已保存）",
    ProxyStatus.NONE: "无需预览",
}


def print_summary(console: Console, result: ImportResult, *, originals_only: bool) -> None:
    report = result.report
    registered = sum(1 for o in report.outcomes if o.state is FileState.REGISTERED)
    failed = [o for o in report.outcomes if o.state is not FileState.REGISTERED]
    if report.skipped:
        table = Table(title="跳过的项目")
        table.add_column("路径")
        table.add_column("原因")
        for s in report.skipped:
            table.add_row(
                escape(s.rel_path),
                SKIP_REASONS[s.reason] + (f"（{escape(s.detail)}）" if s.detail else ""),
            )
        console.print(table)
    if failed:
        table = Table(title="未完成导入的文件", style="red")
        table.add_column("路径")
        table.add_column("停在")
        table.add_column("原因")
        for o in failed:
            table.add_row(
                escape(o.rel_path),
                STATE_LABELS[o.state],
                escape(describe_error(o.error)) if o.error else "未知",
            )
        console.print(table)
    kept = [o for o in report.outcomes if o.row_id in result.unreadable]
    if kept:
        table = Table(title="已作为证据保存、但无法读取或播放的文件", style="yellow")
        table.add_column("路径")
        table.add_column("说明")
        for o in kept:
            assert o.row_id is not None
            table.add_row(
                escape(o.rel_path),
                "原始文件已存储并登记，可下载；无法生成预览"
                f"（{escape(result.unreadable[o.row_id])}）",
            )
        console.print(table)
    unwell = [o for o in result.derived if o.job.facts.status in _UNWELL]
    if unwell:
        table = Table(title="浏览器预览未能生成的文件（原始文件已存储并登记）", style="yellow")
        table.add_column("路径")
        table.add_column("状态")
        table.add_column("原因")
        for d in unwell:
            table.add_row(
                escape(d.row.path),
                PROXY_LABELS[d.job.facts.status],
                escape(_derived_reason(d)),
            )
        console.print(table)
    for moved in report.quarantined:
        console.print(
            f"[yellow]注意：[/yellow]暂存区中有未能与导入记录对应的文件，已移至 {escape(moved)}"
            "（未删除），请信息通信部门检查。"
        )
    console.print(
        f"本次登记 {registered} 个，此前已导入 {report.already_imported} 个，"
        f"失败 {len(failed)} 个，跳过 {len(report.skipped)} 项。"
    )
    if report.originals_registered_at is not None and report.originals_registered_s and registered:
        at = report.originals_registered_at.astimezone(SHOWN_ZONE)
        console.print(
            f"最后一个原始文件登记于 {at:%H:%M:%S}（开始后 {report.originals_registered_s:.1f} 秒）。"
        )
    if result.derived:
        ready = sum(1 for d in result.derived if d.job.facts.status is ProxyStatus.READY)
        console.print(
            f"浏览器预览：{ready} 个已生成，{len(unwell)} 个未能生成；"
            f"全部完成于开始后 {result.finished_s:.1f} 秒。"
        )
    elif originals_only and registered:
        console.print("浏览器预览将由采集站代理在后台生成（--originals-only）。")
    if report.ok:
        console.print("[bold green]导入完成：全部文件已存储、校验并登记。[/bold green]")
    else:
        console.print(
            "[bold red]导入未完成：请按上面的原因处理后重新导入（已完成的不会重复导入）。[/bold red]"
        )


_UNWELL = (ProxyStatus.PENDING, ProxyStatus.FAILED)


def _derived_reason(d: DerivedOutcome) -> str:
    if d.error is not None:
        return describe_error(d.error)
    return d.job.facts.error or d.job.facts.unplayable_reason or "未知"
