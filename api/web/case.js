// A case: its events and its footage on one time line (a merged recording is one item and
// its gaps show), the media with how each came to the case, the hold and the export.
import {
  $, ApiError, api, duration, failed, fill, h, labels, mediaLink, param, query, say, start,
  table, time,
} from "/ui/common.js";

const no = param("no");
const focus = param("recording");

function span(items) {
  const times = items.flatMap((i) => [i.start, i.end]).filter(Boolean).map((t) => Date.parse(t));
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  return { lo, hi: hi > lo ? hi : lo + 1000 };
}

// A bar's place on the axis, as left/width percentages.
function place(range, startIso, endIso) {
  const s = Date.parse(startIso);
  const e = Date.parse(endIso || startIso);
  const left = ((s - range.lo) / (range.hi - range.lo)) * 100;
  return { left: `${left.toFixed(3)}%`, width: `${Math.max(((e - s) / (range.hi - range.lo)) * 100, 0.3).toFixed(3)}%` };
}

function bar(range, cls, startIso, endIso, text, href, title) {
  const attrs = { class: `bar ${cls}`, style: place(range, startIso, endIso), title };
  return href ? h("a", { ...attrs, href }, text) : h("span", attrs, text);
}

// Every medium of the case, page by page (a large case has more than one page).
async function allMedia(caseNo) {
  const media = [];
  let cursor = null;
  do {
    const page = await api(`/api/v1/media${query({ case_no: caseNo, limit: 500, cursor })}`);
    media.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return media;
}

async function recordings(media) {
  const ids = [...new Set(media.map((m) => m.recording_id).filter(Boolean))];
  if (focus && !ids.includes(focus)) ids.push(focus);
  const found = await Promise.all(ids.map((r) => api(`/api/v1/recordings/${encodeURIComponent(r)}`).catch(() => null)));
  return found.filter(Boolean);
}

function drawTimeline(events, media, recs) {
  const inRecording = new Set(recs.flatMap((r) => r.parts.map((p) => p.media_id)));
  const singles = media.filter((m) => !inRecording.has(m.id) && m.recorded_start);
  const items = [
    ...events.map((e) => ({ start: e.start, end: e.end })),
    ...singles.map((m) => ({ start: m.recorded_start, end: m.recorded_end })),
    ...recs.map((r) => ({ start: r.recorded_start, end: r.recorded_end })),
  ];
  if (!items.length) return fill("#timeline", h("p", { class: "empty" }, "没有可显示的时间"));
  const range = span(items);
  const rows = [];
  for (const e of events) {
    const name = labels.activity[e.activity] || e.activity;
    rows.push(h("div", { class: "row" }, h("span", { class: "name" }, `事项 ${e.event_id} ${name}`),
      bar(range, "event", e.start, e.end, name, null, `${name}：${time(e.start)} 至 ${time(e.end)}`)));
  }
  for (const r of recs) {
    // One item for the whole recording (its parts are in the recording's own view).
    const gaps = r.gaps.filter((g) => g.from && g.to).map((g) => bar(range, "gap", g.from, g.to, "",
      null, `缺失 ${g.gap_s.toFixed(1)} 秒：${time(g.from)} 至 ${time(g.to)}`));
    rows.push(h("div", { class: "row recording", dataset: { recording: r.id } },
      h("span", { class: "name", title: r.device_id }, `分段录像（${r.parts.length} 段）`),
      bar(range, "media", r.recorded_start, r.recorded_end, "分段录像", `/ui/case.html${query({ no, recording: r.id })}`,
        `分段录像 ${r.parts.length} 段：${time(r.recorded_start)} 至 ${time(r.recorded_end)}${r.gaps.length ? `，缺失 ${r.gaps.length} 处` : ""}`),
      gaps));
  }
  for (const m of singles) {
    rows.push(h("div", { class: "row" }, h("span", { class: "name", title: m.original_name }, m.original_name.split("_").pop()),
      bar(range, "media", m.recorded_start, m.recorded_end, m.original_name, `/ui/media.html${query({ id: m.id })}`,
        `${m.original_name}：${time(m.recorded_start)}，${duration(m.duration_s)}`)));
  }
  fill("#timeline", rows, h("div", { class: "axis" }, h("span", {}, time(new Date(range.lo).toISOString())), h("span", {}, time(new Date(range.hi).toISOString()))));
}

function drawRecording(recs) {
  const r = recs.find((x) => x.id === focus);
  if (!r) return;
  // The recording's own line, scaled to it: each part to open, each gap to see.
  const range = span(r.parts.map((p) => ({ start: p.recorded_start, end: p.recorded_end })));
  const line = h("div", { class: "timeline", id: "parts" },
    h("div", { class: "row" }, h("span", { class: "name" }, "各段"),
      r.parts.map((p, i) => bar(range, "media", p.recorded_start, p.recorded_end, `第 ${i + 1} 段`,
        `/ui/media.html${query({ id: p.media_id })}`, `${p.original_name}：${time(p.recorded_start)}，${duration(p.duration_s)}`)),
      r.gaps.filter((g) => g.from && g.to).map((g) => bar(range, "gap", g.from, g.to, "", null, `缺失 ${g.gap_s.toFixed(1)} 秒`))),
    h("div", { class: "axis" }, h("span", {}, time(r.recorded_start)), h("span", {}, time(r.recorded_end))));
  fill("#recording", h("section", { class: "panel", id: "recording-panel" },
    h("h2", {}, `整段录像 ${r.device_id}：${time(r.recorded_start)} 至 ${time(r.recorded_end)}`),
    r.has_merged_proxy ? h("video", { controls: true, preload: "metadata", src: `/api/v1/recordings/${encodeURIComponent(r.id)}/proxy` }) : h("p", { class: "empty" }, "整段播放副本尚未生成，可逐段播放。"),
    line,
    r.gaps.length ? h("p", { class: "chip bad" }, `有 ${r.gaps.length} 处缺失：` + r.gaps.map((g) => `${time(g.from)} 起 ${g.gap_s.toFixed(1)} 秒`).join("；")) : h("p", {}, "各段之间没有缺失。")));
}

async function hold(on) {
  const reason = $("#hold-reason").value.trim();
  if (!reason) { $("#hold-reason").focus(); return say("请填写原因：它将记入每个音视频的监管链", "error"); }
  try {
    await api(`/api/v1/cases/${encodeURIComponent(no)}/hold`, { method: "PUT", body: { hold: on, reason } });
    say(on ? "已对案件设置法律保全" : "已解除案件的法律保全");
    await load();
  } catch (err) { failed(err); }
}

async function dissociate(mediaId) {
  const reason = $("#hold-reason").value.trim();
  if (!reason) { $("#hold-reason").focus(); return say("请填写原因：它将记入监管链", "error"); }
  try {
    await api(`/api/v1/cases/${encodeURIComponent(no)}/media/${encodeURIComponent(mediaId)}${query({ reason })}`, { method: "DELETE" });
    say("已解除关联（音视频本身保留）");
    await load();
  } catch (err) { failed(err); }
}

async function load() {
  if (!no) {
    const recs = await recordings([]);
    $("#facts-panel").hidden = true;
    $("#title").textContent = "整段录像";
    drawTimeline([], [], recs);
    return drawRecording(recs);
  }
  const c = await api(`/api/v1/cases/${encodeURIComponent(no)}`);
  const media = await allMedia(no);
  const recs = await recordings(media);
  $("#title").textContent = `案件 ${c.case_no}：${c.title}`;
  document.title = `案件 ${c.case_no} · 执法音视频管理`;
  const held = c.legal_hold;
  fill("#facts",
    h("dt", {}, "办案单位"), h("dd", {}, c.unit_id || "—"),
    h("dt", {}, "更新"), h("dd", {}, `${time(c.updated_at)}（${c.updated_by}）`),
    h("dt", {}, "音视频"), h("dd", {}, `${c.media_ids.length} 个`),
    h("dt", {}, "法律保全"), h("dd", {}, held ? h("span", { class: "chip bad" }, "已保全") : "无"));
  fill("#case-actions",
    h("a", { class: "button", href: `/api/v1/cases/${encodeURIComponent(no)}/export`, download: `${no}.zip` }, "导出证据包（BagIt）"),
    h("label", {}, "原因（保全、解除关联时必填）", h("input", { id: "hold-reason", maxlength: 500 })),
    h("button", { type: "button", class: held ? "secondary" : "danger", onclick: () => hold(!held) }, held ? "解除法律保全" : "设置法律保全"));
  drawTimeline(c.events, media, recs);
  drawRecording(recs);
  fill("#events", table([
    ["事项", (e) => e.event_id],
    ["类型", (e) => labels.activity[e.activity] || e.activity],
    ["民警", (e) => e.officer_ids.join("、")],
    ["开始", (e) => time(e.start)],
    ["结束", (e) => time(e.end)],
    ["讯问室", (e) => e.room_id || "—"],
  ], c.events, "没有执法事项"));
  const links = Object.fromEntries(c.links.map((l) => [l.media_id, l]));
  const RULE = { officer: "按警号", room: "按讯问室" };
  const how = (l) => l.source === "auto" ? `自动关联（事项 ${l.event_id}，${RULE[l.rule] || l.rule}）`
    : `${l.source === "dock" ? "采集时指定" : "人工关联"}${l.reason ? "：" + l.reason : ""}（${l.actor}）`;
  fill("#media", table([
    ["文件", (m) => mediaLink(m.id, m.original_name)],
    ["录制时间", (m) => time(m.recorded_start)],
    ["时长", (m) => duration(m.duration_s)],
    ["警号", (m) => m.officer_id || "—"],
    ["设备", (m) => m.device_id],
    ["关联方式", (m) => links[m.id] ? how(links[m.id]) : "—"],
    ["", (m) => h("button", { type: "button", class: "link", onclick: () => dissociate(m.id) }, "解除关联")],
  ], media, "还没有关联的音视频"));
}

await start("/ui/review.html");
try {
  await load();
} catch (err) {
  if (err instanceof ApiError && err.status === 404) fill("main", h("h1", {}, `没有案件 ${no}`), h("p", {}, "它不存在，或不在您可查看的范围内。"));
  else if (err instanceof ApiError && err.status === 403) fill("main", h("h1", {}, `无权查看案件 ${no}`), h("p", {}, "该案件不属于您所在的单位。"));
  else failed(err);
}
