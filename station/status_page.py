"""The status page on the station's own screen: what each dock is doing, for the officer.

`create_status_app(board)` serves one self-contained page (a kiosk browser on localhost
shows it), `/status.json` that the page polls every second, and the 导入 button's
`POST /docks/{dock_id}/import`.

Everything a dock shows (volume names, device ids, file names in errors) comes from a
volume someone handed in, so it is hostile: the page writes it with `textContent` only,
and a Content-Security-Policy that allows just this page's own inline script and style
is the second line of defence. The server only answers requests addressed to localhost
(so a web page that rebinds its DNS name to 127.0.0.1 cannot read officers' numbers)
and refuses cross-site POSTs (so another site cannot press 导入).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ingest.scan import INCOMPLETE_REASONS
from station.status import StatusBoard
from wire.text import CaseNo

LOCAL_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")


class BoardView(BaseModel):
    docks: list[dict[str, Any]] = Field(description="StatusBoard.snapshot(): one entry per dock")
    now: datetime = Field(description="the station's clock (UTC), for the page's header")
    alerts: list[str] = Field(
        default_factory=list, description="what IT must look at on this station (Chinese)"
    )


class TouchIn(BaseModel):
    """What the officer gave with 导入: the case the footage belongs to, if known."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    case_no: CaseNo | None = None


class TouchResult(BaseModel):
    dock_id: str
    case_no: str | None = None
    touched: bool = True


_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; padding: 24px 32px; background: #eef1f4; color: #111;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
  "WenQuanYi Zen Hei", sans-serif; font-size: 28px; line-height: 1.4; }
header { display: flex; justify-content: space-between; align-items: baseline; }
h1 { font-size: 40px; margin: 0 0 16px; }
#clock { font-size: 28px; color: #333; font-variant-numeric: tabular-nums; }
#offline { background: #8a1c1c; color: #fff; padding: 16px 24px; margin-bottom: 16px;
  border-radius: 8px; font-size: 30px; font-weight: bold; }
body.stale #docks { opacity: 0.55; }
.receipt { display: block; margin-top: 12px; font-size: 26px; color: #0b4f8a; }
#empty { font-size: 34px; color: #444; padding: 48px 0; }
.dock { background: #fff; border-radius: 12px; padding: 24px 28px; margin-bottom: 24px;
  border-left: 16px solid #888; box-shadow: 0 2px 6px rgba(0,0,0,.12); }
.dock.ok { border-left-color: #0a7d28; }
.dock.stop { border-left-color: #c21818; }
.dock.wait { border-left-color: #1456b8; }
.verdict { font-size: 64px; font-weight: 900; padding: 8px 24px; border-radius: 10px;
  display: inline-block; margin-bottom: 12px; }
.ok .verdict { background: #0a7d28; color: #fff; }
.stop .verdict { background: #c21818; color: #fff; }
.wait .verdict { background: #dde8fa; color: #0b3d8c; }
.info .verdict, .gone .verdict { background: #e4e4e4; color: #333; }
button.import { display: block; font: inherit; font-size: 56px; font-weight: 900;
  padding: 16px 96px; margin: 8px 0 16px; color: #fff; background: #1456b8;
  border: 0; border-radius: 14px; cursor: pointer; }
label.case-no { display: block; font-size: 28px; margin: 8px 0 0; color: #333; }
label.case-no input { display: block; font: inherit; font-size: 36px; padding: 8px 16px; width: 100%;
  max-width: 640px; margin-top: 4px; border: 2px solid #1456b8; border-radius: 10px; }
button.import:disabled { background: #7f9cc8; cursor: default; }
.device { font-size: 40px; margin: 4px 0 8px; overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 20px; margin: 0; }
.facts dt { color: #555; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.unregistered { color: #a33b00; font-weight: bold; }
.state { font-size: 34px; font-weight: bold; margin: 12px 0 4px; }
progress { width: 100%; height: 40px; appearance: none; -webkit-appearance: none; }
progress::-webkit-progress-bar { background: #dcdfe3; border-radius: 8px; }
progress::-webkit-progress-value { background: #1456b8; border-radius: 8px; }
.ok progress::-webkit-progress-value { background: #0a7d28; }
.progress-text, .counts, .message { font-variant-numeric: tabular-nums; }
.message { color: #8a1c1c; font-weight: bold; }
.errors { color: #8a1c1c; margin: 12px 0 0; padding-left: 1.2em; font-size: 24px; }
.errors li { overflow-wrap: anywhere; }
.errors-title { color: #8a1c1c; font-weight: bold; margin-top: 12px; }
"""

_SCRIPT = """
"use strict";
const CAN_UNDOCK = new Set(["safe_to_undock", "done"]);
const KEEP_DOCKED = new Set(["copying", "keep_docked", "wiping"]);
const MAX_ERRORS_SHOWN = 20;
const STALE_AFTER_MS = 3000;
// Skip reasons that already show as errors (the file may hold footage).
const INCOMPLETE_REASONS = new Set(__INCOMPLETE_REASONS__);
const docksEl = document.getElementById("docks");
const emptyEl = document.getElementById("empty");
const offlineEl = document.getElementById("offline");
const alertsEl = document.getElementById("alerts");
const clockEl = document.getElementById("clock");
const cards = new Map();
let lastOk = Date.now();

function pad(n) { return String(n).padStart(2, "0"); }

// Asia/Shanghai is UTC+8 all year (no daylight saving since 1991): a fixed offset keeps
// the shown time right whatever zone the kiosk's own clock is set to.
function shanghaiTime(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) { return "未知"; }
  const d = new Date(ms + 8 * 3600 * 1000);
  return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
    " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
}

function sizeText(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = Number(n) || 0;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
}

function add(parent, tag, cls) {
  const node = document.createElement(tag);
  if (cls) { node.className = cls; }
  parent.appendChild(node);
  return node;
}

function fact(dl, label) {
  add(dl, "dt").textContent = label;
  return add(dl, "dd");
}

function makeCard(dockId) {
  const root = document.createElement("section");
  root.className = "dock";
  const c = { root: root, dockId: dockId, pending: false, pendingSince: 0 };
  c.verdict = add(root, "div", "verdict");
  // The case the footage belongs to, if the officer knows it: optional, typed before 导入.
  c.caseLabel = add(root, "label", "case-no");
  c.caseLabel.textContent = "案件编号（可不填）";
  c.caseInput = add(c.caseLabel, "input");
  c.caseInput.maxLength = 64;
  c.caseInput.autocomplete = "off";
  c.button = add(root, "button", "import");
  c.button.type = "button";
  c.button.textContent = "导入";
  c.button.addEventListener("click", function () { pressImport(c); });
  c.device = add(root, "h2", "device");
  const dl = add(root, "dl", "facts");
  c.serial = fact(dl, "序列号");
  c.officer = fact(dl, "警号");
  c.caseNo = fact(dl, "案件编号");
  c.registration = fact(dl, "设备登记");
  c.volume = fact(dl, "存储卷");
  c.dockedAt = fact(dl, "接入时间");
  c.state = add(root, "div", "state");
  c.message = add(root, "div", "message");
  c.message.hidden = true;
  c.progress = add(root, "progress");
  c.progressText = add(root, "div", "progress-text");
  c.counts = add(root, "div", "counts");
  c.receipt = add(root, "a", "receipt");
  c.receipt.hidden = true;
  c.errorsTitle = add(root, "div", "errors-title");
  c.errors = add(root, "ul", "errors");
  return c;
}

function verdictFor(state) {
  if (CAN_UNDOCK.has(state)) { return ["ok", "可以拔出"]; }
  if (KEEP_DOCKED.has(state)) { return ["stop", "请勿拔出"]; }
  if (state === "waiting_touch") { return ["wait", "请按下方“导入”按钮"]; }
  if (state === "undocked") { return ["gone", "已拔出"]; }
  return ["info", "正在识别设备，请稍候"];
}

function registrationText(registered) {
  if (registered === true) { return ["已登记设备", ""]; }
  if (registered === false) {
    return ["未登记设备（已导入，已通知信息通信部门）", "unregistered"];
  }
  return ["正在核对…", ""];
}

function fillCard(c, d) {
  const [kind, verdict] = verdictFor(d.state);
  c.root.className = "dock " + kind;
  // The press is done once the agent moves on; if it has not after a while, let the
  // officer press again (a second touch is harmless).
  if (d.state !== "waiting_touch" || Date.now() - c.pendingSince > 10000) { c.pending = false; }
  c.verdict.textContent = verdict;
  c.button.hidden = d.state !== "waiting_touch";
  c.caseLabel.hidden = d.state !== "waiting_touch";
  c.caseNo.textContent = d.case_no || "未指定";
  c.button.disabled = c.pending;
  c.button.textContent = c.pending ? "已确认，正在开始…" : "导入";
  c.device.textContent = d.device_id ? "设备 " + d.device_id : "未识别的设备";
  c.serial.textContent = d.device_serial || "未知";
  c.officer.textContent = d.officer_id || "未知";
  const [regText, regClass] = registrationText(d.registered);
  c.registration.textContent = regText;
  c.registration.className = regClass;
  c.volume.textContent = d.volume || "";
  c.dockedAt.textContent = shanghaiTime(d.docked_at);
  c.state.textContent = d.state_text || "";

  const copying = d.state === "copying" && d.bytes_copied < d.bytes_total;
  if (copying) {
    c.progress.hidden = false;
    c.progress.max = d.bytes_total;
    c.progress.value = d.bytes_copied;
    const pct = Math.floor((100 * d.bytes_copied) / d.bytes_total);
    c.progressText.textContent =
      "已复制 " + sizeText(d.bytes_copied) + " / " + sizeText(d.bytes_total) + "（" + pct + "%）";
  } else if (d.files_total > 0) {
    c.progress.hidden = false;
    c.progress.max = d.files_total;
    c.progress.value = d.files_registered;
    c.progressText.textContent =
      "已登记入库 " + d.files_registered + " / " + d.files_total + " 个文件";
  } else {
    c.progress.hidden = true;
    c.progressText.textContent = CAN_UNDOCK.has(d.state) ? "设备上没有需要导入的新文件" : "";
  }

  const counts = [];
  if (d.already_imported > 0) { counts.push("另有 " + d.already_imported + " 个文件此前已导入"); }
  const skipped = (Array.isArray(d.skipped) ? d.skipped : []).filter(function (s) {
    return !INCOMPLETE_REASONS.has(s && s.reason);
  });
  if (skipped.length > 0) {
    counts.push("跳过 " + skipped.length + " 个非视音频条目（非媒体文件、空文件、系统文件等）");
  }
  if (d.wiped > 0 || CAN_UNDOCK.has(d.state)) {
    counts.push("已从设备清除 " + d.wiped + " 个已入库文件");
  }
  c.counts.textContent = counts.join("；");
  c.receipt.hidden = !d.receipt_id;
  if (d.receipt_id) {
    c.receipt.href = "/receipts/" + encodeURIComponent(d.receipt_id);
    c.receipt.textContent = "采集回执已签名（" + d.receipt_files + " 个文件）：点此下载";
  }

  const errors = Array.isArray(d.errors) ? d.errors : [];
  c.errorsTitle.hidden = errors.length === 0;
  c.errorsTitle.textContent = "错误（" + errors.length + " 条）：";
  const shown = errors.slice(-MAX_ERRORS_SHOWN);
  const lines = shown.map(String);
  if (errors.length > shown.length) {
    lines.unshift("……另有 " + (errors.length - shown.length) + " 条较早的错误");
  }
  while (c.errors.children.length > lines.length) { c.errors.lastChild.remove(); }
  while (c.errors.children.length < lines.length) { add(c.errors, "li"); }
  lines.forEach(function (line, i) { c.errors.children[i].textContent = line; });
}

function render(data) {
  clockEl.textContent = "当前时间 " + shanghaiTime(data.now);
  const alerts = Array.isArray(data.alerts) ? data.alerts : [];
  alertsEl.replaceChildren(...alerts.map(function (a) {
    const li = document.createElement("li"); li.textContent = String(a); return li;
  }));
  alertsEl.hidden = alerts.length === 0;
  const docks = Array.isArray(data.docks) ? data.docks : [];
  const seen = new Set();
  docks.forEach(function (d, i) {
    const id = String(d.dock_id);
    seen.add(id);
    let c = cards.get(id);
    if (!c) { c = makeCard(id); cards.set(id, c); }
    fillCard(c, d);
    // Move a card only when it is out of place: moving the node under a finger would
    // swallow the click on its button.
    if (docksEl.children[i] !== c.root) { docksEl.insertBefore(c.root, docksEl.children[i] || null); }
  });
  cards.forEach(function (c, id) {
    if (!seen.has(id)) { c.root.remove(); cards.delete(id); }
  });
  emptyEl.hidden = docks.length > 0;
}

function showMessage(c, text) {
  c.message.textContent = text;
  c.message.hidden = !text;
}

async function pressImport(c) {
  if (c.pending) { return; }
  c.pending = true;
  c.pendingSince = Date.now();
  c.button.disabled = true;
  c.button.textContent = "已确认，正在开始…";
  showMessage(c, "");
  try {
    const caseNo = c.caseInput.value.trim();
    const r = await fetch("docks/" + encodeURIComponent(c.dockId) + "/import", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ case_no: caseNo || null }),
    });
    if (r.status === 404) {
      showMessage(c, "该设备已不在采集站上，请重新插入");
    } else if (r.status === 422) {
      showMessage(c, "案件编号格式不对（最多 64 个字符，不含控制字符），请改正后再按“导入”");
    } else if (!r.ok) {
      showMessage(c, "导入请求失败（" + r.status + "），请再按一次或联系信息通信部门");
    }
    if (!r.ok) { c.pending = false; }
  } catch (e) {
    c.pending = false;
    showMessage(c, "无法连接采集站程序，请再按一次或联系信息通信部门");
  }
  c.button.disabled = c.pending;
  c.button.textContent = c.pending ? "已确认，正在开始…" : "导入";
  poll(false);
}

async function poll(again) {
  const ctl = new AbortController();
  const timer = setTimeout(function () { ctl.abort(); }, 2500);
  try {
    const r = await fetch("status.json", { cache: "no-store", signal: ctl.signal });
    if (!r.ok) { throw new Error("HTTP " + r.status); }
    render(await r.json());
    lastOk = Date.now();
    offlineEl.hidden = true;
    document.body.classList.remove("stale");
  } catch (e) {
    if (Date.now() - lastOk > STALE_AFTER_MS) {
      offlineEl.hidden = false;
      document.body.classList.add("stale");
    }
  } finally {
    clearTimeout(timer);
    if (again) { setTimeout(function () { poll(true); }, 1000); }
  }
}

poll(true);
""".replace("__INCOMPLETE_REASONS__", json.dumps(sorted(INCOMPLETE_REASONS)))

_PAGE = (
    """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>采集站状态</title>
<style>"""
    + _STYLE
    + """</style>
</head>
<body>
<header><h1>执法记录仪采集站</h1><div id="clock"></div></header>
<ul id="alerts" class="errors" hidden></ul>
<div id="offline" hidden>无法连接采集站程序：以下状态可能已过时。请勿拔出正在导入的设备，并联系信息通信部门。</div>
<div id="empty">暂无设备接入。请将执法记录仪或执法终端插入采集站。</div>
<main id="docks"></main>
<script>"""
    + _SCRIPT
    + """</script>
</body>
</html>
"""
)


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


# Only this page's own script and style run; it may talk only to this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"script-src {_csp_hash(_SCRIPT)}; "
    f"style-src {_csp_hash(_STYLE)}; "
    "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_status_app(board: StatusBoard, *, allowed_hosts: Sequence[str] = LOCAL_HOSTS) -> FastAPI:
    """The status page over `board`.

    Serve it on 127.0.0.1 only. Requests whose Host header is not in `allowed_hosts`
    get 400 (pass ``["*"]`` to accept any, e.g. behind a proxy that checks it); tests with
    TestClient should use ``base_url="http://localhost"``.
    """
    app = FastAPI(
        title="Station status",
        # The kiosk is offline and the docs pages load from a CDN: leave them out.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        return response

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(_PAGE)

    @app.get("/status.json")
    def status() -> BoardView:
        return BoardView(docks=board.snapshot(), now=datetime.now(UTC), alerts=board.alerts())

    @app.get("/receipts/{receipt_id}", response_class=FileResponse)
    def receipt(receipt_id: str) -> FileResponse:
        """A dock's signed receipt, to keep (`station receipt verify FILE` checks it)."""
        path = board.receipt_path(receipt_id)
        if path is None:
            raise HTTPException(status_code=404, detail=f"no receipt {receipt_id!r}")
        return FileResponse(
            path, media_type="application/json", filename=f"dock-receipt-{receipt_id}.json"
        )

    # `:path` so that a dock id holding "/" (the agent may use the volume's path) still routes.
    @app.post("/docks/{dock_id:path}/import")
    def touch(dock_id: str, request: Request, body: TouchIn | None = None) -> TouchResult:
        _refuse_cross_site(request)
        case_no = body.case_no if body is not None else None
        if not board.touch(dock_id, case_no):
            raise HTTPException(status_code=404, detail=f"no dock {dock_id!r}")
        return TouchResult(dock_id=dock_id, case_no=case_no)

    return app


def _refuse_cross_site(request: Request) -> None:
    """403 when a browser sends the POST from another site's page.

    Browsers send Origin on every POST; scripts (curl, the agent's tests) send none and are
    let through, since they run on the station itself.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin == "null" or urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(status_code=403, detail="cross-site request refused")
