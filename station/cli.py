"""The `station` command (CONTRACT.md): the composition root that wires the packages together."""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import secrets
import shutil
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from ingest.encoders import EncoderUnavailable, choose_encoder, encoder_works
from ingest.ffmpeg_run import kill_running
from station.api_client import ApiClient, UntrustedApi
from station.backlog import Backlog, DerivedOutcome
from station.cli_audit import audit_app
from station.cli_backup import db_backup, db_restore
from station.cli_export import export_command
from station.cli_fixity import fixity_app
from station.cli_receipt import receipt_app
from station.cli_retention import retention_app
from station.cli_storage import storage_app
from station.cli_user import user_app
from station.importer import Importer, ImportOptions
from station.journal import Journal, JournalBusy, JournalRow
from station.pipeline import Pipeline
from station.progress import ImportResult, RichImportProgress, describe_error, print_summary
from station.receipts import ReceiptBook
from station.recordings import Recordings
from station.settings import StationSettings
from station.status import StatusBoard
from storage.key_file import KeyFileError
from storage.object_store import ObjectStore, open_store
from wire.media_kinds import MediaKind
from wire.zones import SHOWN_ZONE

app = typer.Typer(help="执法记录仪采集站 / evidence media station", no_args_is_help=True)
token_app = typer.Typer(help="api tokens", no_args_is_help=True)
db_app = typer.Typer(help="the catalogue database", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
db_app.command("backup")(db_backup)
db_app.command("restore")(db_restore)
app.add_typer(audit_app, name="audit")
app.add_typer(fixity_app, name="fixity")
app.add_typer(retention_app, name="retention")
app.add_typer(receipt_app, name="receipt")
app.add_typer(user_app, name="user")
app.add_typer(storage_app, name="storage")
app.command("export")(export_command)

console = Console()


def _json_logs() -> bool:
    """STATION_LOG_FORMAT: `text` (the default) or `json`."""
    chosen = os.environ.get("STATION_LOG_FORMAT", "text")
    if chosen not in ("text", "json"):
        raise _fail(f"STATION_LOG_FORMAT={chosen!r}：应为 text 或 json")
    return chosen == "json"


@app.callback()
def _configure_logging() -> None:
    """Logs to stderr as text, or with STATION_LOG_FORMAT=json one JSON object a line (for a
    log shipper; the api's lines carry their request's id)."""
    handler = logging.StreamHandler(sys.stderr)
    if _json_logs():
        from pythonjsonlogger.core import RESERVED_ATTRS
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            # uvicorn's copy of each line with terminal colours
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        ))  # fmt: skip
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]错误：[/bold red]{message}")
    return typer.Exit(code)


def open_pipeline(
    settings: StationSettings, journal: Journal, store: ObjectStore, api: ApiClient
) -> Pipeline:
    """The station's steps bound to its journal, staging area, store, api and encoder."""
    try:
        encoder = choose_encoder(settings.transcode, works=encoder_works)
    except EncoderUnavailable as exc:
        raise _fail(f"无法使用所选的转码器（STATION_TRANSCODE）：{exc}") from exc
    return Pipeline(
        journal=journal,
        staging_root=settings.state_dir / "staging",
        store=store,
        api=api,
        zone=settings.zone(),
        encoder=encoder,
    )


def open_receipts(settings: StationSettings) -> ReceiptBook:
    """The station's dock receipts and the key that signs them (made at first start)."""
    try:
        return ReceiptBook.open(settings.state_dir, settings.receipt_key_path())
    except KeyFileError as exc:
        raise _fail(f"无法读取或创建采集站签名密钥：{exc}") from exc


def import_volume(
    settings: StationSettings,
    volume: Path,
    options: ImportOptions,
    *,
    originals_only: bool = False,
) -> ImportResult:
    """Import one volume in the foreground with progress bars; then, unless `originals_only`,
    make the browser copies of what was registered (the agent's backlog does it otherwise)."""
    if not settings.api_token:
        raise _fail(
            "未设置 STATION_API_TOKEN。请先运行 `station token create --role station --station-id 本站ID` 并导出该令牌。"
        )
    try:
        store = open_store(settings.storage_url)
    except Exception as exc:
        raise _fail(f"无法打开对象存储（STATION_STORAGE_URL）：{exc}") from exc
    try:
        journal = Journal(settings.state_dir / "journal.db")
    except JournalBusy as exc:
        raise _fail(f"另一个导入任务或采集站代理正在运行，请等待其完成。（{exc}）") from exc
    api = _trusted_api(settings)
    started = time.monotonic()
    derived: list[DerivedOutcome] = []
    try:
        pipeline = open_pipeline(settings, journal, store, api)
        recordings = Recordings(journal, store, api, settings.state_dir / "recordings")
        receipts = open_receipts(settings)
        with (
            Importer(pipeline, receipts=receipts) as importer,
            RichImportProgress(console) as progress,
        ):
            quarantined = importer.sweep_staging()
            report = importer.run(volume, options, progress, finish_leftovers=True)
            receipts.send_pending(api, settings.id)
            recordings.assemble_all()  # at once, without merged proxies where they wait
            if not originals_only:  # this import's files, and the staged ones it finished
                ours = [o.row_id for o in report.outcomes if o.row_id is not None]
                derived = progress.derive(Backlog(pipeline), ours)
                recordings.assemble_all()
        report.quarantined = quarantined
        proxies = {
            o.row_id: job.facts.status
            for o in report.outcomes
            if o.row_id is not None and (job := journal.derived_of(o.row_id)) is not None
        }
        unreadable = {
            o.row_id: probed.unreadable
            for o in report.outcomes
            if o.row_id is not None
            and (probed := journal.get(o.row_id).facts.probe) is not None
            and probed.unreadable
        }
    finally:
        api.close()
        journal.close()
    result = ImportResult(report, derived, proxies, unreadable, time.monotonic() - started)
    print_summary(console, result, originals_only=originals_only)
    return result


def _summary_json(result: ImportResult) -> dict[str, object]:
    report = result.report
    return {
        "ok": report.ok,
        "safe_to_undock_s": report.safe_to_undock_s,
        "originals_registered_s": report.originals_registered_s,
        "registered_s": report.originals_registered_s,
        "derived_done_s": result.finished_s if result.derived else None,
        "already_imported": report.already_imported,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "files": [
            {
                "path": o.rel_path,
                "state": o.state.value,
                "media_id": o.media_id,
                "error": describe_error(o.error) if o.error else None,
                "proxy_status": result.proxy_status[o.row_id].value
                if o.row_id in result.proxy_status
                else None,
            }
            for o in report.outcomes
        ],
        "skipped": [
            {"path": s.rel_path, "reason": s.reason.value, "detail": s.detail}
            for s in report.skipped
        ],
        "quarantined": report.quarantined,
    }


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="the mounted volume or folder to import")],
    device_id: Annotated[
        str | None, typer.Option(help="device id (default: the volume's folder name)")
    ] = None,
    officer_id: Annotated[
        str | None, typer.Option(help="officer number (警号) of the footage")
    ] = None,
    case_no: Annotated[
        str | None, typer.Option(help="associate the footage with this case")
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option(help="also write a JSON summary to this file")
    ] = None,
    originals_only: Annotated[
        bool,
        typer.Option(
            "--originals-only",
            help="exit once every original is registered; the agent makes the browser copies",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="show warnings on the screen too")
    ] = False,
) -> None:
    """One-touch import of a docked volume: copy+hash, upload, verify, register; then the
    browser copies (unless --originals-only)."""
    volume = path.resolve()
    if not volume.is_dir():
        raise _fail(f"{escape(str(path))} 不是一个目录：请给出设备挂载的目录。")
    settings = StationSettings()
    _log_to(settings.state_dir / "import.log", verbose=verbose)
    options = ImportOptions(
        device_id=device_id or volume.name,
        station_id=settings.id,
        officer_id=officer_id,
        case_no=case_no,
    )
    result = import_volume(settings, volume, options, originals_only=originals_only)
    if summary_json is not None:
        summary_json.write_text(json.dumps(_summary_json(result), ensure_ascii=False, indent=2))
    raise typer.Exit(0 if result.report.ok else 1)


def _log_to(path: Path, *, verbose: bool) -> None:
    """Warnings of a foreground import go to its log file (never between the progress
    bars); with -v also to the screen, above the bars."""
    from rich.logging import RichHandler

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    if verbose:
        root.addHandler(RichHandler(console=console, markup=False, show_path=False))


@app.command("agent")
def agent_command() -> None:
    """Run the station agent: watch mount roots and export folders, import, upload, wipe."""
    import signal

    settings = StationSettings()
    if not settings.api_token:
        raise _fail(
            "未设置 STATION_API_TOKEN。请先运行 `station token create --role station --station-id 本站ID` 并导出该令牌。"
        )
    board = StatusBoard()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if settings.status_port:
        _serve_status_page(board, settings.status_port)
        console.print(f"采集站状态页：http://127.0.0.1:{settings.status_port}/")
    _run_agent(settings, board, stop)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the catalogue's migrations (STATION_DATABASE_URL)."""
    from api.settings import ApiSettings
    from storage.catalogue.db import upgrade

    url = ApiSettings().database_url
    upgrade(url)
    console.print(f"数据库已升级到最新版本：{url}")


@token_app.command("create")
def token_create(
    role: Annotated[
        str,
        typer.Option(help="station, officer, reviewer, supervisor, it_admin, case_system or admin"),
    ],
    unit: Annotated[str | None, typer.Option(help="unit the token is limited to")] = None,
    officer_id: Annotated[
        str | None, typer.Option(help="officer an officer token is bound to")
    ] = None,
    station_id: Annotated[
        str | None, typer.Option(help="the station a station token speaks for (its STATION_ID)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="who or what holds the token")] = None,
    expires_in: Annotated[
        str | None,
        typer.Option(
            help="lifetime: 30m, 12h, 90d; people's tokens default to 12h, station and "
            "case_system tokens live until revoked"
        ),
    ] = None,
) -> None:
    """Create a bearer token; it is printed once, as the last line, and stored hashed."""
    from api.settings import ApiSettings
    from rules.token_life import parse_duration
    from storage.catalogue.db import session_scope, upgrade
    from storage.catalogue.tokens import create_token

    try:
        lifetime = parse_duration(expires_in) if expires_in is not None else None
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    url = ApiSettings().database_url
    upgrade(url)
    try:
        with session_scope(url) as session:
            token = create_token(
                session,
                role=role,
                unit_id=unit,
                officer_id=officer_id,
                station_id=station_id,
                name=name,
                expires_in=lifetime,
            )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    print(token)


@token_app.command("list")
def token_list() -> None:
    """Every token: id, name, role, unit, officer, station, created, expires, state."""
    from rich.table import Table

    from api.settings import ApiSettings
    from rules.token_life import is_live
    from storage.catalogue.db import session_scope, upgrade
    from storage.catalogue.models import utc_now
    from storage.catalogue.tokens import list_tokens

    url = ApiSettings().database_url
    upgrade(url)
    table = Table("id", "名称", "角色", "单位", "警员", "采集站", "创建", "到期", "状态")
    now = utc_now()
    with session_scope(url) as session:
        for t in list_tokens(session):
            if t.revoked_at is not None:
                state = "已吊销"
            elif is_live(revoked_at=None, expires_at=t.expires_at, now=now):
                state = "有效"
            else:
                state = "已过期"
            table.add_row(
                t.id,
                escape(t.name or ""),
                t.role,
                escape(t.unit_id or ""),
                escape(t.officer_id or ""),
                escape(t.station_id or ""),
                _shown(t.created_at),
                _shown(t.expires_at) if t.expires_at else "不过期",
                state,
            )
    Console(width=200).print(table)


def _shown(at: datetime) -> str:
    return at.astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M")


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="the token's id or name (see `station token list`)")],
) -> None:
    """Revoke a token: from now on it gets 401."""
    from api.settings import ApiSettings
    from storage.catalogue.db import session_scope, upgrade
    from storage.catalogue.tokens import AmbiguousToken, UnknownToken, revoke

    url = ApiSettings().database_url
    upgrade(url)
    try:
        with session_scope(url) as session:
            revoked = revoke(session, token)
            console.print(f"已吊销令牌 {revoked.id}（{escape(revoked.name or revoked.role)}）")
    except (UnknownToken, AmbiguousToken) as exc:
        raise _fail(str(exc)) from exc


@app.command("api")
def api_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the api (applies migrations first)."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings
    from storage.catalogue.db import upgrade

    settings = ApiSettings()
    upgrade(settings.database_url)
    api = create_app(settings)
    # What is loaded by now (modules, models, schemas) lives as long as the process: kept
    # out of the collector's full passes, which would otherwise walk it all and stall a
    # request for 100-200 ms every few hundred requests.
    gc.collect()
    gc.freeze()
    if _json_logs():
        from api.gate import RequestIdFilter

        for handler in logging.getLogger().handlers:
            handler.addFilter(RequestIdFilter())
        # No handlers of uvicorn's own: its lines go to the JSON handler too.
        uvicorn.run(api, host=host, port=port, log_level="info", log_config=None)
    else:
        uvicorn.run(api, host=host, port=port, log_level="info")


@app.command("demo")
def demo_command(
    port: Annotated[
        int, typer.Option(help="port of the api (the status page uses the next one)")
    ] = 8000,
) -> None:
    """The main job on embedded defaults: the api, the agent, and a simulated body camera
    docked under ./var/demo/media, imported and wiped after verify."""
    from simulation.simulator import SimulatedCamera, build_camera_volume
    from station.status import DockState
    from storage.catalogue.db import session_scope, upgrade
    from storage.catalogue.device_repo import DeviceFields, put_device
    from storage.catalogue.models import DeviceKind, DeviceStatus
    from storage.catalogue.tokens import create_token

    base = Path("var/demo").resolve()
    database_url = f"sqlite:///{base}/station.db"
    storage_url = f"file://{base}/objects"
    camera = SimulatedCamera()
    upgrade(database_url)
    with session_scope(database_url) as session:
        admin_token = create_token(session, role="admin", name="demo-admin")
        station_token = create_token(
            session, role="station", station_id="demo-station", name="demo-station"
        )
        # IT registered this camera: it is attributed to its officer and wiped after verify.
        put_device(
            session,
            camera.device_id,
            DeviceFields(
                kind=DeviceKind.BODY_CAMERA,
                status=DeviceStatus.ACTIVE,
                serial=camera.label,
                unit_id="130100000000",
                officer_id=camera.officer_id,
            ),
        )
    address = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    _serve_api(database_url, storage_url, port)
    settings = StationSettings(
        storage_url=storage_url,
        api_url=address,
        api_token=station_token,
        state_dir=base / "station",
        id="demo-station",
        mount_roots=str(base / "media"),
        status_port=port + 1,
    )
    board = StatusBoard()
    _serve_status_page(board, settings.status_port)
    agent = threading.Thread(target=_run_agent, args=(settings, board, stop), name="agent")
    agent.start()

    volume = base / "media" / camera.label
    if volume.exists() and not any(p.is_file() and p.suffix != ".log" for p in volume.rglob("*")):
        shutil.rmtree(volume)  # wiped at the last demo: the camera recorded a new shift since
    if not volume.exists():
        console.print("正在用 ffmpeg 生成模拟执法记录仪的录像……")
        build_camera_volume(base / "media", camera)
    console.print(f"模拟执法记录仪已接入：{volume}（采集站状态页：http://127.0.0.1:{port + 1}/）")
    dock: dict[str, object] = {}
    while not stop.is_set() and dock.get("state") not in (DockState.DONE, DockState.KEEP_DOCKED):
        dock = next((d for d in board.snapshot() if d["dock_id"] == str(volume)), {})
        if dock:
            console.print(
                f"  {dock['state_text']}：已复制 {dock['files_staged']}/{dock['files_total']}，"
                f"已登记 {dock['files_registered']}/{dock['files_total']}，"
                f"已从设备清除 {dock['wiped']}"
            )
        stop.wait(1.0)
    auth = f"-H 'Authorization: Bearer {admin_token}'"
    # A stop-and-check over the last two hours by the camera's officer, as the case-handling
    # system would push it: the shift's footage is associated with it automatically (自动关联).
    now = datetime.now(UTC).replace(microsecond=0)
    demo_case = {
        "title": "演示案件",
        "unit_id": "130100000000",
        "events": [
            {
                "event_id": "E1",
                "activity": "stop_and_check",
                "officer_ids": [camera.officer_id],
                "start": (now - timedelta(hours=2)).isoformat(),
                "end": now.isoformat(),
            }
        ],
    }
    pushed = httpx.put(
        f"{address}/api/v1/cases/DEMO-0001",
        json=demo_case,
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    if pushed.status_code not in (200, 201):
        raise _fail(f"演示案件推送失败：{pushed.status_code} {pushed.text}")
    with session_scope(database_url) as session:
        demo_password = _demo_user(session)
    console.print(
        "\n".join(
            [
                "",
                f"[bold]管理页面：[/bold]{address}/ui/    用户名：demo    密码：{demo_password}",
                f"[bold]管理平台 api：[/bold]{address}    接口文档：{address}/docs",
                f"[bold]采集站状态页：[/bold]http://127.0.0.1:{port + 1}/",
                f"管理员令牌（admin）：{admin_token}",
                f"采集站令牌（station）：{station_token}",
                "",
                "试一试：",
                "  在管理页面搜索案件编号 DEMO-0001，打开案件，播放录像，下载原始文件并核对 SHA-256。",
                f"  列出媒体：curl {auth} {address}/api/v1/media",
                f"  下载可播放的视频：curl {auth} -o demo.mp4 {address}/api/v1/media/<id>/proxy",
                f"  查看演示案件及其自动关联的录像：curl {auth} {address}/api/v1/cases/DEMO-0001",
                f"  查看自动合成的录像：curl {auth} {address}/api/v1/recordings/<recording_id>",
                f"  或在浏览器中打开 {address}/docs ，点 Authorize 填入管理员令牌。",
                f"  再接入一台设备：把一个装有录像的文件夹放到 {base / 'media'} 下。",
                "按 Ctrl-C 退出。",
            ]
        ),
        soft_wrap=True,
    )
    try:
        while agent.is_alive():
            agent.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        agent.join(15)


def _demo_user(session: Session) -> str:
    """The demo's user `demo` (admin), with a new random password each run; the password."""
    from storage.catalogue import users

    password = f"Ev-{secrets.token_urlsafe(9)}"
    if any(u.username == "demo" for u in users.list_users(session)):
        user = users.set_password(session, "demo", password)
        # The demo prints the password for the person running it: theirs to use as it is.
        user.must_change_password = False
        session.commit()
    else:
        users.create_user(session, username="demo", password=password, role="admin",
                          name="演示管理员", must_change_password=False)  # fmt: skip
    return password


def _serve_api(database_url: str, storage_url: str, port: int) -> None:
    """The api on 127.0.0.1:port in a background thread; returns once it accepts requests."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ApiSettings(database_url=database_url, storage_url=storage_url)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise _fail(f"api 无法在端口 {port} 启动（端口被占用？可用 --port 指定其他端口）")
        time.sleep(0.05)


def _serve_status_page(board: StatusBoard, port: int) -> None:
    import uvicorn

    from station.status_page import create_status_app

    page = uvicorn.Server(
        uvicorn.Config(create_status_app(board), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=page.run, name="status page", daemon=True).start()


def _trusted_api(settings: StationSettings) -> ApiClient:
    """The api client, refusing to start when the api's certificate is not one this station
    trusts (STATION_API_CA_FILE): nothing of the evidence goes to an impostor."""
    assert settings.api_token is not None
    try:
        api = ApiClient.connect(settings.api_url, settings.api_token, settings.api_ca_file)
        api.check_trust()
    except ValueError as exc:
        raise _fail(f"无法读取管理平台的 CA 证书（STATION_API_CA_FILE）：{exc}") from exc
    except UntrustedApi as exc:
        raise _fail(f"管理平台的证书不可信，已拒绝连接：{exc}") from exc
    return api


def _run_agent(settings: StationSettings, board: StatusBoard, stop: threading.Event) -> None:
    """The agent until `stop` is set (the composition of journal, store, api and importer)."""
    from station.agent import Agent
    from station.metrics import AgentMetrics

    assert settings.api_token is not None
    try:
        store = open_store(settings.storage_url)
        journal = Journal(settings.state_dir / "journal.db")
    except JournalBusy as exc:
        raise _fail(f"采集站代理已在运行，或有导入任务正在进行。（{exc}）") from exc
    except ValueError as exc:
        raise _fail(f"无法打开对象存储（STATION_STORAGE_URL）：{exc}") from exc
    except OSError as exc:
        raise _fail(f"无法使用采集站状态目录 {settings.state_dir}：{exc}") from exc
    api = _trusted_api(settings)
    try:
        pipeline = open_pipeline(settings, journal, store, api)
        recordings = Recordings(journal, store, api, settings.state_dir / "recordings")

        # A medium's browser copy made: its recording's merged proxy may be ready to make.
        def assemble(row: JournalRow) -> None:
            probed = row.facts.probe
            if probed is not None and probed.kind in (MediaKind.VIDEO, MediaKind.AUDIO):
                recordings.assemble(row.device_key)  # only recordings are made of segments

        with Importer(
            pipeline, on_registered=lambda _row: backlog.wake(), receipts=open_receipts(settings)
        ) as importer:
            backlog = Backlog(pipeline, on_finished=assemble, yield_to=importer.copying)
            for moved in importer.sweep_staging():
                board.add_station_error(
                    f"采集站暂存区中有未能与导入记录对应的文件，已移至 {moved}，未删除；请信息通信部门检查"
                )
            metrics = AgentMetrics(journal, settings.state_dir, lambda: len(backlog.due()))
            if settings.metrics_port:
                address = f"{settings.metrics_host}:{settings.metrics_port}"
                try:
                    metrics.serve(settings.metrics_host, settings.metrics_port)
                except OSError as exc:
                    raise _fail(
                        f"无法在 {address} 提供监控指标（STATION_METRICS_PORT）：{exc}"
                    ) from exc
                console.print(f"监控指标：http://{address}/metrics")
            Agent(
                settings=settings,
                journal=journal,
                importer=importer,
                api=api,
                board=board,
                recordings=recordings,
                backlog=backlog,
                metrics=metrics,
                stop_tools=kill_running,
            ).run(stop)
    finally:
        api.close()
        journal.close()
