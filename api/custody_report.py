"""A medium's chain-of-custody report: every step from the dock to now, oldest first, signed
by the api's key, as JSON (wire/signatures.py) and as a printable page in Chinese.

The steps are the medium's custody events (dock, copy and hash, upload and verification,
registration, browser copies, wipe, reads, case links, marks, holds, exports) merged with the
audit trail's entries about it (every request that named it, fixity checks). The page states
the hashes and how to check the signature offline; what is signed is the JSON, which the page
shows the SHA-256 of.
"""

from __future__ import annotations

import hashlib
import html
import json
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.retention import PERMANENT_CATEGORIES, RetentionClass
from storage.catalogue import custody_repo, receipt_repo
from storage.catalogue.custody_repo import utc_text
from storage.catalogue.models import AuditEntry, Media
from storage.deletion import keeping
from wire.signatures import sign
from wire.zones import SHOWN_ZONE

KIND = "custody_report"

EVENT_NAMES = {
    "device_clock_set": "校准设备时钟", "copied_from_device": "从设备复制并计算哈希（采集）",
    "stored": "上传至存储并校验", "registered": "登记入库", "seen_again": "再次采集到相同文件",
    "wiped_from_device": "核验存储后从设备删除", "wipe_failed": "从设备删除失败",
    "downloaded_original": "下载原始文件", "played_proxy": "播放", "proxy_made": "生成播放副本",
    "associated_with_case": "关联案件", "dissociated_from_case": "解除案件关联",
    "marked_important": "标记为重要", "unmarked_important": "取消重要标记", "classified": "分类",
    "legal_hold_set": "设置法律保全", "legal_hold_released": "解除法律保全",
    "deletion_requested": "申请提前删除", "exported": "导出证据包",
    "fixity.check": "原始文件完整性校验",
}  # fmt: skip


def report_document(session: Session, media: Media, *, now: datetime, by: str) -> dict[str, Any]:
    """The report of `media` as a document to sign."""
    viewings = custody_repo.viewings_of(session, media.id)
    steps: list[dict[str, Any]] = []
    for event in custody_repo.chain(session, media.id):
        viewing = viewings.get(event.id)
        steps.append({
            "at": utc_text(event.at), "source": "custody", "what": event.event,
            "actor": event.actor, "role": event.role, "station_id": event.station_id,
            "device_id": event.device_id, "client": event.client, "outcome": event.outcome,
            "detail": event.detail,
            "viewing": {"requests": viewing.requests, "bytes": viewing.bytes,
                        "last_at": utc_text(viewing.last_at)} if viewing else None,
        })  # fmt: skip
    for entry in session.scalars(
        select(AuditEntry).where(AuditEntry.target == media.id).order_by(AuditEntry.seq)
    ):
        steps.append({
            "at": utc_text(entry.at), "source": "audit", "what": entry.action,
            "actor": entry.actor, "role": entry.role, "client": entry.client,
            "outcome": entry.outcome, "status": entry.status, "audit_seq": entry.seq,
            "audit_hash": entry.hash,
            "detail": json.loads(entry.detail) if entry.detail else None,
        })  # fmt: skip
    steps.sort(key=lambda s: s["at"])
    kept = keeping(session, media)
    return {
        "kind": KIND,
        "generated_at": utc_text(now),
        "generated_by": by,
        "media": {
            "id": media.id,
            "sha256": media.sha256,
            "size_bytes": media.size_bytes,
            "kind": media.kind,
            "original_name": media.original_name,
            "original_path": media.original_path,
            "original_key": media.original_key,
            "device_id": media.device_id,
            "device_serial": media.device_serial,
            "officer_id": media.officer_id,
            "unit_id": media.unit_id,
            "station_id": media.station_id,
            "recorded_start": utc_text(media.recorded_start) if media.recorded_start else None,
            "recorded_end": utc_text(media.recorded_end) if media.recorded_end else None,
            "clock_offset_s": media.clock_offset_s,
            "staged_at": utc_text(media.staged_at),
            "ingested_at": utc_text(media.ingested_at),
            "case_nos": media.case_nos,
            "important": media.important,
            "classification": media.classification,
            "retention_class": (
                RetentionClass.PERMANENT if kept.retention_until is None else RetentionClass.DEFAULT
            ).value,
            "retention_until": utc_text(kept.retention_until) if kept.retention_until else None,
            "legal_hold": kept.legal_hold,
            "dock_receipts": [
                {
                    "receipt_id": r.receipt_id,
                    "station_id": r.station_id,
                    "signed_at": utc_text(r.signed_at),
                    "key_id": r.key_id,
                }
                for r in receipt_repo.of_media(session, media.sha256)
            ],  # fmt: skip
        },
        "steps": steps,
    }


def signed_report(
    session: Session, media: Media, key: Ed25519PrivateKey, *, now: datetime, by: str
) -> dict[str, Any]:
    return sign(report_document(session, media, now=now, by=by), key)


def _shown(text: str | None) -> str:
    """A UTC time of the document, as people read it (Asia/Shanghai)."""
    if not text:
        return "—"
    return datetime.fromisoformat(text).astimezone(SHOWN_ZONE).strftime("%Y-%m-%d %H:%M:%S")


def _what(step: dict[str, Any]) -> str:
    what = str(step["what"])
    if what in EVENT_NAMES:
        return EVENT_NAMES[what]
    if step["source"] == "audit":
        return f"访问记录：{what}"
    return what


def render_html(signed: dict[str, Any], json_url: str) -> str:
    """The report as a printable page (A4), Chinese, from the signed document."""
    doc, signature = signed["document"], signed["signature"]
    m = doc["media"]
    e = html.escape
    payload_sha256 = hashlib.sha256(signed["payload"].encode()).hexdigest()
    retention = (
        "永久保存"
        if m["retention_class"] == RetentionClass.PERMANENT.value
        else f"保存至 {_shown(m['retention_until'])}"
    )
    category = PERMANENT_CATEGORIES.get(m["classification"] or "", m["classification"] or "—")
    facts = [
        ("媒体编号", m["id"]), ("原始文件名", m["original_name"]),
        ("原始文件 SHA-256", m["sha256"]), ("文件大小（字节）", str(m["size_bytes"])),
        ("设备编号", m["device_id"]), ("设备序列号", m["device_serial"] or "—"),
        ("警员编号", m["officer_id"] or "—"), ("单位", m["unit_id"] or "—"),
        ("采集站", m["station_id"]), ("录制开始（北京时间）", _shown(m["recorded_start"])),
        ("录制结束（北京时间）", _shown(m["recorded_end"])),
        ("设备时钟偏差（秒）", "—" if m["clock_offset_s"] is None else str(m["clock_offset_s"])),
        ("采集时间", _shown(m["staged_at"])), ("入库时间", _shown(m["ingested_at"])),
        ("关联案件", "、".join(m["case_nos"]) or "无"), ("重要标记", "是" if m["important"] else "否"),
        ("分类", category), ("保存期限", retention), ("法律保全", "是" if m["legal_hold"] else "否"),
        ("采集回执", "、".join(r["receipt_id"] for r in m["dock_receipts"]) or "无"),
    ]  # fmt: skip
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
    steps = "".join(
        "<tr>"
        f"<td>{e(_shown(s['at']))}</td><td>{e(_what(s))}</td>"
        f"<td>{e(s.get('actor') or '')}（{e(s.get('role') or '')}）</td>"
        f"<td>{e(s.get('client') or s.get('station_id') or '')}</td>"
        f"<td>{'成功' if s.get('outcome') == 'ok' else e(str(s.get('outcome')))}</td>"
        f"<td class='detail'>{e(json.dumps(s.get('detail'), ensure_ascii=False)) if s.get('detail') else ''}</td>"
        "</tr>"
        for s in doc["steps"]
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>证据保管链报告 {e(m["id"])}</title>
<style>
@page {{ size: A4; margin: 15mm; }}
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
       font-size: 10pt; color: #000; }}
h1 {{ font-size: 16pt; text-align: center; }} h2 {{ font-size: 12pt; margin-top: 1.2em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 3px 5px; text-align: left; vertical-align: top; }}
th {{ background: #eee; width: 12em; }} .steps th {{ width: auto; }}
.detail {{ font-size: 8pt; word-break: break-all; }} code {{ word-break: break-all; }}
</style></head><body>
<h1>执法音视频证据保管链报告</h1>
<p>生成时间：{e(_shown(doc["generated_at"]))}（北京时间）　生成人：{e(doc["generated_by"])}</p>
<h2>一、证据文件</h2><table>{rows}</table>
<h2>二、保管记录（按时间先后）</h2>
<table class="steps"><tr><th>时间（北京时间）</th><th>事项</th><th>操作人（角色）</th>
<th>来源地址 / 采集站</th><th>结果</th><th>详情</th></tr>{steps}</table>
<h2>三、签名与核验</h2>
<table>
<tr><th>签名算法</th><td>{e(signature["algorithm"])}</td></tr>
<tr><th>签名公钥指纹（SHA-256）</th><td><code>{e(signature["key_id"])}</code></td></tr>
<tr><th>签名内容 SHA-256</th><td><code>{payload_sha256}</code></td></tr>
<tr><th>签名值（Base64）</th><td><code>{e(signature["value"])}</code></td></tr>
</table>
<p>本页为签名报告的打印版。签名报告（JSON）：<code>{e(json_url)}</code>。离线核验方法：
先核对公钥指纹与本单位公布的公钥（/api/v1/keys）一致，再执行：</p>
<pre>jq -j .payload report.json &gt; payload.bin
jq -r .signature.value report.json | base64 -d &gt; signature.bin
jq -r .signature.public_key_pem report.json &gt; key.pem
sha256sum payload.bin        # 应与上表“签名内容 SHA-256”一致
openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in payload.bin -sigfile signature.bin</pre>
<p>输出 “Signature Verified Successfully” 即报告自签名后未被改动；原始文件的 SHA-256
可用 <code>sha256sum</code> 与上表核对。</p>
</body></html>
"""
