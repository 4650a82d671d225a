"""What each dock is doing, for the officer at the station: the agent's status board.

A DockObserver turns importer events into a DockStatus; the board holds one per docked
volume and hands out consistent snapshots to the status page.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ingest.scan import INCOMPLETE_REASONS, ScanResult
from station.journal import FileState, JournalRow
from station.progress import SKIP_REASONS, describe_error
from station.receipts import Receipt


class DockState(StrEnum):
    IDENTIFYING = "identifying"
    WAITING_TOUCH = "waiting_touch"
    COPYING = "copying"
    SAFE_TO_UNDOCK = "safe_to_undock"
    KEEP_DOCKED = "keep_docked"
    WIPING = "wiping"
    DONE = "done"
    UNDOCKED = "undocked"


STATE_TEXT = {
    DockState.IDENTIFYING: "正在识别设备",
    DockState.WAITING_TOUCH: "等待确认导入",
    DockState.COPYING: "正在复制，请勿拔出",
    DockState.SAFE_TO_UNDOCK: "可以拔出",
    DockState.KEEP_DOCKED: "请勿拔出：有文件未能复制",
    DockState.WIPING: "正在清除设备上已入库的文件，请勿拔出",
    DockState.DONE: "导入完成，可以拔出",
    DockState.UNDOCKED: "已拔出",
}


@dataclass
class DockStatus:
    dock_id: str
    volume: str
    device_id: str | None = None
    device_serial: str | None = None
    officer_id: str | None = None
    case_no: str | None = None
    """The case the officer gave with 导入, if any: the footage is associated with it."""
    registered: bool | None = None
    identified_by: str | None = None
    state: DockState = DockState.IDENTIFYING
    files_total: int = 0
    files_staged: int = 0
    files_registered: int = 0
    already_imported: int = 0
    bytes_total: int = 0
    bytes_copied: int = 0
    wiped: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Every entry of the volume not imported, with why (ingest.scan.SkippedEntry)."""
    docked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    receipt_id: str | None = None
    """The dock's signed receipt (station/receipts.py), once every file is staged."""
    receipt_files: int = 0

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        data["state_text"] = STATE_TEXT[self.state]
        data["docked_at"] = self.docked_at.isoformat().replace("+00:00", "Z")
        return data


class StatusBoard:
    """All docks the agent knows of, guarded by one lock (updates come from many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._docks: dict[str, DockStatus] = {}
        self._touches: dict[str, threading.Event] = {}
        self._alerts: list[str] = []
        self._receipts: dict[str, Path] = {}

    def open(self, dock_id: str, volume: str) -> DockStatus:
        with self._lock:
            status = self._docks[dock_id] = DockStatus(dock_id=dock_id, volume=volume)
            self._touches[dock_id] = threading.Event()
            return status

    def update(self, dock_id: str, **changes: Any) -> None:
        with self._lock:
            status = self._docks[dock_id]
            if status.state is DockState.UNDOCKED and "state" in changes:
                changes.pop("state")  # a dock thread finishing late does not re-dock it
            for name, value in changes.items():
                setattr(status, name, value)

    def add_receipt(self, dock_id: str, receipt: Receipt) -> None:
        with self._lock:
            self._receipts[receipt.receipt_id] = receipt.path
            status = self._docks[dock_id]
            status.receipt_id, status.receipt_files = receipt.receipt_id, receipt.files

    def receipt_path(self, receipt_id: str) -> Path | None:
        """The file of a receipt signed at a dock this agent has shown."""
        with self._lock:
            return self._receipts.get(receipt_id)

    def add_station_error(self, message: str) -> None:
        """Something about the station itself, not one dock (shown above the docks)."""
        with self._lock:
            self._alerts.append(message)

    def alerts(self) -> list[str]:
        with self._lock:
            return list(self._alerts)

    def add_error(self, dock_id: str, message: str) -> None:
        with self._lock:
            self._docks[dock_id].errors.append(message)

    def registered_later(self, device_key: str, path: str) -> None:
        """The offline queue registered a file of a device after its dock finished."""
        with self._lock:
            for dock in self._docks.values():
                if device_key not in (dock.device_serial, dock.device_id):
                    continue
                dock.files_registered = min(dock.files_registered + 1, dock.files_total)
                dock.errors.append(f"{path}：已自动重试并登记入库")
                complete = dock.files_registered == dock.files_total
                if complete and dock.state is DockState.SAFE_TO_UNDOCK:
                    dock.state = DockState.DONE

    def touch(self, dock_id: str, case_no: str | None = None) -> bool:
        """The officer pressed 导入 for this dock, giving `case_no` if they know the case;
        False when there is no such dock."""
        with self._lock:
            event = self._touches.get(dock_id)
            if event is None:
                return False
            if case_no is not None:
                self._docks[dock_id].case_no = case_no
        event.set()
        return True

    def case_no(self, dock_id: str) -> str | None:
        with self._lock:
            return self._docks[dock_id].case_no

    def touched(self, dock_id: str) -> threading.Event:
        with self._lock:
            return self._touches[dock_id]

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.snapshot() for d in self._docks.values()]


class DockObserver:
    """ImportObserver that keeps a dock's status current."""

    def __init__(self, board: StatusBoard, dock_id: str) -> None:
        self._board = board
        self._id = dock_id
        self._lock = threading.Lock()
        self._copied = 0
        self._staged = 0
        self._registered = 0
        self._case_refused: str | None = None

    def planned(self, scan: ScanResult, todo: list[JournalRow]) -> None:
        self._board.update(
            self._id,
            state=DockState.COPYING,
            files_total=len(todo),
            bytes_total=sum(r.size for r in todo if r.state is FileState.DISCOVERED),
            already_imported=len(scan.found) - len(todo),
            skipped=[asdict(s) for s in scan.skipped],
        )
        for s in scan.skipped:  # what keeps the device docked must say why on the screen
            if s.reason in INCOMPLETE_REASONS:
                self._board.add_error(self._id, f"{s.rel_path}：{SKIP_REASONS[s.reason]}")

    def copying(self, row: JournalRow) -> None: ...

    def copied_bytes(self, row: JournalRow, n: int) -> None:
        with self._lock:
            self._copied += n
            copied = self._copied
        self._board.update(self._id, bytes_copied=copied)

    def reached(self, row: JournalRow, state: FileState) -> None:
        refused = None
        with self._lock:
            if state is FileState.STAGED:
                self._staged += 1
            elif state is FileState.REGISTERED:
                self._registered += 1
                facts = row.facts.registered
                if facts is not None and facts.case_not_linked and not self._case_refused:
                    self._case_refused = refused = facts.case_not_linked
            staged, registered = self._staged, self._registered
        self._board.update(self._id, files_staged=staged, files_registered=registered)
        if refused is not None:
            self._board.add_error(
                self._id,
                f"案件编号 {refused} 未能关联：该案件不属于本设备的单位。录像已入库，"
                "请联系案管中心核对后人工关联",
            )

    def failed(self, row: JournalRow, error: Exception) -> None:
        self._board.add_error(self._id, f"{row.path}：{describe_error(error)}")

    def safe_to_undock(self, receipt: Receipt | None) -> None:
        if receipt is not None:
            self._board.add_receipt(self._id, receipt)
        self._board.update(self._id, state=DockState.SAFE_TO_UNDOCK)

    def keep_docked(self, not_copied: list[JournalRow]) -> None:
        self._board.update(self._id, state=DockState.KEEP_DOCKED)
