"""The `station` command (CONTRACT.md): the composition root that wires the packages together."""

from __future__ import annotations

import json
import logging
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from station.api_client import ApiClient
from station.importer import Importer, ImportOptions, ImportReport
from station.journal import Journal, JournalBusy
from station.progress import RichImportProgress, describe_error, print_summary
from station.settings import StationSettings
from storage.object_store import open_store

app = typer.Typer(help="执法记录仪采集站 / evidence media station", no_args_is_help=True)
token_app = typer.Typer(help="api tokens", no_args_is_help=True)
db_app = typer.Typer(help="the catalogue database", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")

console = Console()


@app.callback()
def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]错误：[/bold red]{message}")
    return typer.Exit(code)


def import_volume(settings: StationSettings, volume: Path, options: ImportOptions) -> ImportReport:
    """Import one volume in the foreground with progress bars; returns the report."""
    if not settings.api_token:
        raise _fail(
            "未设置 STATION_API_TOKEN。请先运行 `station token create --role station` 并导出该令牌。"
        )
    try:
        store = open_store(settings.storage_url)
    except Exception as exc:
        raise _fail(f"无法打开对象存储（STATION_STORAGE_URL）：{exc}") from exc
    try:
        journal = Journal(settings.state_dir / "journal.db")
    except JournalBusy as exc:
        raise _fail(f"另一个导入任务或采集站代理正在运行，请等待其完成。（{exc}）") from exc
    api = ApiClient.connect(settings.api_url, settings.api_token)
    try:
        with (
            Importer(
                journal=journal, staging_root=settings.state_dir / "staging", store=store, api=api
            ) as importer,
            RichImportProgress(console) as progress,
        ):
            report = importer.run(volume, options, progress)
    finally:
        api.close()
        journal.close()
    print_summary(console, report)
    return report


def _summary_json(report: ImportReport) -> dict[str, object]:
    return {
        "ok": report.ok,
        "safe_to_undock_s": report.safe_to_undock_s,
        "registered_s": report.registered_s,
        "already_imported": report.already_imported,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "files": [
            {
                "path": o.rel_path,
                "state": o.state.value,
                "media_id": o.media_id,
                "error": describe_error(o.error) if o.error else None,
            }
            for o in report.outcomes
        ],
        "skipped": [{"path": s.rel_path, "reason": s.reason.value} for s in report.skipped],
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
) -> None:
    """One-touch import of a docked volume: copy+hash, proxy, upload, verify, register."""
    volume = path.resolve()
    if not volume.is_dir():
        raise _fail(f"{path} 不是一个目录：请给出设备挂载的目录。")
    settings = StationSettings()
    options = ImportOptions(
        device_id=device_id or volume.name,
        station_id=settings.id,
        officer_id=officer_id,
        case_no=case_no,
    )
    report = import_volume(settings, volume, options)
    if summary_json is not None:
        summary_json.write_text(json.dumps(_summary_json(report), ensure_ascii=False, indent=2))
    raise typer.Exit(0 if report.ok else 1)


@app.command("agent")
def agent_command() -> None:
    """Run the station agent: watch mount roots and export folders, import, upload, wipe."""
    import signal

    import uvicorn

    from station.agent import Agent
    from station.status import StatusBoard
    from station.status_page import create_status_app

    settings = StationSettings()
    if not settings.api_token:
        raise _fail(
            "未设置 STATION_API_TOKEN。请先运行 `station token create --role station` 并导出该令牌。"
        )
    try:
        store = open_store(settings.storage_url)
        journal = Journal(settings.state_dir / "journal.db")
    except JournalBusy as exc:
        raise _fail(f"采集站代理已在运行，或有导入任务正在进行。（{exc}）") from exc
    except Exception as exc:
        raise _fail(f"无法打开对象存储（STATION_STORAGE_URL）：{exc}") from exc
    board = StatusBoard()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if settings.status_port:
        page = uvicorn.Server(
            uvicorn.Config(
                create_status_app(board),
                host="127.0.0.1",
                port=settings.status_port,
                log_level="warning",
            )
        )
        threading.Thread(target=page.run, name="status page", daemon=True).start()
        console.print(f"采集站状态页：http://127.0.0.1:{settings.status_port}/")
    api = ApiClient.connect(settings.api_url, settings.api_token)
    with Importer(
        journal=journal, staging_root=settings.state_dir / "staging", store=store, api=api
    ) as importer:
        Agent(settings=settings, journal=journal, importer=importer, api=api, board=board).run(stop)
    api.close()
    journal.close()


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
    role: Annotated[str, typer.Option(help="station, it_admin or admin")],
    unit: Annotated[str | None, typer.Option(help="unit the token is limited to")] = None,
    officer_id: Annotated[
        str | None, typer.Option(help="officer an officer token is bound to")
    ] = None,
    name: Annotated[str | None, typer.Option(help="who or what holds the token")] = None,
) -> None:
    """Create a bearer token; it is printed once, as the last line, and stored hashed."""
    from api.settings import ApiSettings
    from storage.catalogue.db import session_scope, upgrade
    from storage.catalogue.tokens import create_token

    url = ApiSettings().database_url
    upgrade(url)
    try:
        with session_scope(url) as session:
            token = create_token(session, role=role, unit_id=unit, officer_id=officer_id, name=name)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    print(token)


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
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command("demo")
def demo_command(
    port: Annotated[int, typer.Option(help="port of the api")] = 8000,
) -> None:
    """The main job on embedded defaults: api + a simulated body camera docked and imported."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings
    from devices.simulator import SimulatedCamera, build_camera_volume
    from storage.catalogue.db import session_scope, upgrade
    from storage.catalogue.tokens import create_token

    base = Path("var/demo").resolve()
    database_url = f"sqlite:///{base}/station.db"
    storage_url = f"file://{base}/objects"
    upgrade(database_url)
    with session_scope(database_url) as session:
        admin_token = create_token(session, role="admin", name="demo-admin")
        station_token = create_token(session, role="station", name="demo-station")

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
    address = f"http://127.0.0.1:{port}"

    camera = SimulatedCamera()
    volume = base / "mnt" / camera.label
    if not volume.exists():
        console.print("首次运行：正在用 ffmpeg 生成模拟执法记录仪的录像……")
        volume = build_camera_volume(base / "mnt", camera)
    console.print(f"模拟执法记录仪已接入：{volume}")
    settings = StationSettings(
        storage_url=storage_url,
        api_url=address,
        api_token=station_token,
        state_dir=base / "station",
        id="demo-station",
    )
    report = import_volume(
        settings,
        volume,
        ImportOptions(
            device_id=camera.device_id, station_id=settings.id, officer_id=camera.officer_id
        ),
    )
    video = next(
        (o.media_id for o in report.outcomes if o.media_id and o.rel_path.endswith(".MP4")), None
    )
    auth = f"-H 'Authorization: Bearer {admin_token}'"
    lines = [
        "",
        f"[bold]管理平台 api 已启动：[/bold]{address}    接口文档：{address}/docs",
        f"管理员令牌（admin）：{admin_token}",
        f"采集站令牌（station）：{station_token}",
        "",
        "试一试：",
        f"  列出媒体：curl {auth} {address}/api/v1/media",
    ]
    if video:
        lines.append(
            f"  下载可在浏览器播放的视频：curl {auth} -o demo.mp4 {address}/api/v1/media/{video}/proxy"
        )
    lines += [
        f"  或在浏览器中打开 {address}/docs ，点 Authorize 填入管理员令牌，即可查询和下载媒体。",
        "按 Ctrl-C 退出。",
    ]
    console.print("\n".join(lines), soft_wrap=True)
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        server.should_exit = True
        thread.join(5)
    if not report.ok:
        raise typer.Exit(1)
