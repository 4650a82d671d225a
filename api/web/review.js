// Find footage: by case number, officer, device, unit, recorded time, important. The filters
// live in the address, so a result can be bookmarked, shared and come back to.
import {
  $, ApiError, api, caseLink, duration, failed, fill, fromLocal, h, mediaLink, may, query,
  start, table, time, toLocal,
} from "/ui/common.js";

const KIND = { video: "视频", audio: "音频", photo: "照片", other: "其他" };
const FIELDS = ["case_no", "officer_id", "device_id", "unit_id", "kind"];
const form = $("#search");
let cursor = null;
let rows = [];
let shown = {}; // the filters of the rows shown: "下一页" goes on with them, not with edits since

function filters() {
  const f = Object.fromEntries(FIELDS.map((k) => [k, form[k].value.trim()]));
  f.start = fromLocal(form.start.value);
  f.end = fromLocal(form.end.value);
  if (form.important.checked) f.important = "true";
  return f;
}

function fromAddress() {
  const p = new URLSearchParams(location.search);
  for (const k of FIELDS) form[k].value = p.get(k) || "";
  form.start.value = p.get("start") ? toLocal(p.get("start")) : "";
  form.end.value = p.get("end") ? toLocal(p.get("end")) : "";
  form.important.checked = p.get("important") === "true";
  return [...p.keys()].length > 0;
}

function thumbnail(m) {
  if (m.kind === "video" || m.kind === "photo") {
    return h("img", { class: "thumb", src: `/api/v1/media/${encodeURIComponent(m.id)}/thumbnail`, alt: "缩略图", loading: "lazy" });
  }
  return h("span", { class: "chip" }, KIND[m.kind] || m.kind);
}

function render() {
  fill("#results", h("h2", {}, `检索结果（${rows.length}${cursor ? "+" : ""} 条）`), table([
    ["", thumbnail],
    ["录制时间", (m) => time(m.recorded_start)],
    ["时长", (m) => duration(m.duration_s)],
    ["文件", (m) => mediaLink(m.id, m.original_name)],
    ["警号", (m) => m.officer_id || "—"],
    ["设备", (m) => m.device_id],
    ["单位", (m) => m.unit_id || "—"],
    ["案件", (m) => m.case_nos.length ? m.case_nos.map((no) => h("span", { class: "chip" }, caseLink(no))) : "未关联"],
    ["标记", (m) => [m.important && h("span", { class: "chip warn" }, "重要"), m.legal_hold && h("span", { class: "chip bad" }, "保全"), m.recording_id && h("span", { class: "chip" }, "分段录像")]],
  ], rows, "没有符合条件的音视频"));
  $("#more").hidden = !cursor;
}

async function caseHit(no) {
  // The case itself, where this person may open cases (reviewer+).
  if (!no || !may("cases")) return fill("#case-hit");
  try {
    const c = await api(`/api/v1/cases/${encodeURIComponent(no)}`);
    fill("#case-hit", h("section", { class: "panel" }, "案件 ", caseLink(c.case_no), `：${c.title}（${c.events.length} 个执法事项，${c.media_ids.length} 个音视频）`));
  } catch (err) {
    fill("#case-hit", err instanceof ApiError && err.status === 404 ? h("p", { class: "empty" }, `没有案件 ${no}`) : null);
  }
}

async function search(more = false) {
  const f = more ? shown : filters();
  try {
    const page = await api(`/api/v1/media${query({ ...f, limit: 50, cursor: more ? cursor : null })}`);
    rows = more ? rows.concat(page.items) : page.items;
    cursor = page.next_cursor;
    shown = f;
    render();
    if (!more) await caseHit(f.case_no);
  } catch (err) {
    failed(err);
  }
}

await start("/ui/review.html");
form.addEventListener("submit", (e) => {
  e.preventDefault();
  history.replaceState(null, "", `/ui/review.html${query(filters())}`);
  search();
});
$("#more").addEventListener("click", () => search(true));
if (fromAddress()) search();
else fill("#results", h("p", { class: "empty" }, "输入条件后检索；不填条件则列出最近入库的音视频。"));
