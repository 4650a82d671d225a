// One medium: the player on its proxy (Range-served, so seeking works), its facts and
// SHA-256, the original's download, and for reviewers the work on it (cases, mark, judgement,
// hold) with a reason each time, and its chain of custody.
import {
  $, ApiError, api, bytes, caseLink, duration, failed, fill, h, labels, may, param, query,
  say, start, table, time,
} from "/ui/common.js";

const CLASS = { non_evidential: "无证据价值", obstruction: "妨碍执法", major_incident: "重大突发事件", major_case: "重大案件" };
const id = param("id");
const path = `/api/v1/media/${encodeURIComponent(id || "")}`;
let media = null;

function player(src, kind) {
  if (kind === "audio") return h("audio", { controls: true, preload: "metadata", src });
  return h("video", { controls: true, preload: "metadata", src, id: "video" });
}

function showPlayer() {
  if (media.kind === "photo") {
    return fill("#player", h("img", { src: `${path}/thumbnail`, alt: media.original_name, class: "photo" }));
  }
  if (!media.has_proxy) {
    const why = media.proxy_status === "pending" ? "播放副本正在生成，请稍后刷新" : (media.proxy_error || media.unplayable_reason || "此文件不能在浏览器中播放，可下载原始文件查看");
    return fill("#player", h("p", { class: "empty" }, why));
  }
  fill("#player", player(`${path}/proxy`, media.kind));
  const choices = [];
  // The HEVC rendition, where this browser decodes HEVC.
  const probe = document.createElement("video");
  for (const r of media.renditions || []) {
    const codec = (r.codec || "").toLowerCase();
    const hevc = codec.startsWith("hev") || codec.startsWith("hvc");
    if (hevc && probe.canPlayType(`${r.content_type}; codecs="hvc1"`)) {
      choices.push(h("button", { type: "button", class: "secondary", onclick: () => fill("#player", player(`${path}/renditions/${encodeURIComponent(r.name)}`, media.kind)) }, `播放高清（HEVC，${r.name}）`));
    }
  }
  if (media.recording_id) {
    choices.push(h("a", { class: "button secondary", href: `/ui/case.html${query({ recording: media.recording_id, no: media.case_nos[0] })}` }, "查看整段录像"));
  }
  fill("#renditions", choices);
}

function fact(name, ...value) {
  return [h("dt", {}, name), h("dd", {}, ...value)];
}

function showFacts() {
  $("#title").textContent = media.original_name;
  document.title = `${media.original_name} · 执法音视频管理`;
  const kept = media.retention_until ? `至 ${time(media.retention_until)}` : "永久保存";
  fill("#facts",
    fact("录制时间", `${time(media.recorded_start)} 至 ${time(media.recorded_end)}`),
    fact("时长", duration(media.duration_s)),
    fact("警号", media.officer_id || "未知"),
    fact("设备", media.device_id),
    fact("单位", media.unit_id || "—"),
    fact("采集站", media.station_id),
    fact("入库时间", time(media.ingested_at)),
    fact("大小", bytes(media.size_bytes)),
    fact("编码", [media.video_codec, media.audio_codec].filter(Boolean).join(" / ") || "—",
      media.width ? `，${media.width}×${media.height}` : ""),
    fact("SHA-256", h("span", { class: "hash", id: "sha256" }, media.sha256)),
    fact("案件", media.case_nos.length ? media.case_nos.map((no) => h("span", { class: "chip" }, caseLink(no), may("reviewers") ? h("button", { type: "button", class: "link", "aria-label": `解除与案件 ${no} 的关联`, onclick: () => dissociate(no) }, " ×") : null)) : "未关联"),
    fact("保存", kept, media.legal_hold ? h("span", { class: "chip bad" }, " 法律保全") : null),
    fact("标记", media.important ? h("span", { class: "chip warn" }, "重要") : "—",
      media.classification ? h("span", { class: "chip" }, CLASS[media.classification] || media.classification) : null));
  const name = media.original_name;
  fill("#downloads",
    h("a", { class: "button", href: `${path}/original`, download: name, id: "download" }, "下载原始文件"),
    may("reviewers") ? h("a", { class: "button secondary", href: `${path}/custody/report?format=html`, target: "_blank", rel: "noopener" }, "监管链报告") : null);
}

function reason() {
  const value = $("#reason").value.trim();
  if (!value) {
    $("#reason").focus();
    throw new ApiError(0, "请先填写操作原因：它将记入监管链");
  }
  return value;
}

async function act(what, run) {
  try {
    await run();
    say(`${what}：已完成`);
    await load();
  } catch (err) {
    failed(err);
  }
}

function dissociate(no) {
  act(`解除与案件 ${no} 的关联`, () => api(`/api/v1/cases/${encodeURIComponent(no)}/media/${encodeURIComponent(id)}${query({ reason: reason() })}`, { method: "DELETE" }));
}

function showWork() {
  if (!may("reviewers")) return;
  $("#work").hidden = false;
  const judged = media.classification === "non_evidential";
  fill("#toggles",
    h("button", { type: "button", class: "secondary", onclick: () => act(media.important ? "取消重要标记" : "标记为重要", () => api(`${path}/important`, { method: "PUT", body: { important: !media.important, reason: reason() } })) }, media.important ? "取消重要标记" : "标记为重要"),
    h("button", { type: "button", class: "secondary", onclick: () => act(judged ? "撤销无证据价值" : "判定为无证据价值", () => api(`${path}/classification`, { method: "PUT", body: { classification: judged ? null : "non_evidential", reason: reason() } })) }, judged ? "撤销无证据价值" : "判定为无证据价值"),
    h("button", { type: "button", class: media.legal_hold ? "secondary" : "danger", onclick: () => act(media.legal_hold ? "解除法律保全" : "设置法律保全", () => api(`${path}/hold`, { method: "PUT", body: { hold: !media.legal_hold, reason: reason() } })) }, media.legal_hold ? "解除法律保全" : "设置法律保全"));
}

async function showCustody() {
  if (!may("reviewers")) return;
  $("#custody-panel").hidden = false;
  const chain = await api(`${path}/custody`);
  fill("#custody", table([
    ["时间", (e) => time(e.at)],
    ["事件", (e) => labels.custody[e.event] || e.event],
    ["操作人", (e) => `${e.actor}（${labels.role[e.role] || e.role}）`],
    ["地点", (e) => e.station_id || e.client || "—"],
    ["结果", (e) => e.outcome === "ok" ? "成功" : e.outcome],
    ["说明", (e) => e.detail ? Object.entries(e.detail).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("；") : ""],
  ], chain.events));
}

async function load() {
  media = await api(path);
  showFacts();
  showWork();
  await showCustody();
}

$("#associate").addEventListener("click", () => {
  const no = $("#case-no").value.trim();
  if (!no) { $("#case-no").focus(); return; }
  act(`关联到案件 ${no}`, () => api(`/api/v1/cases/${encodeURIComponent(no)}/media`, { method: "POST", body: { media_ids: [id], reason: reason() } }));
});

await start("/ui/review.html");
try {
  await load();
  showPlayer();
} catch (err) {
  if (err instanceof ApiError && err.status === 410) fill("main", h("h1", {}, "该音视频已按保存期限删除"), h("p", {}, "删除记录保存在审计日志中。"));
  else if (err instanceof ApiError && err.status === 404) fill("main", h("h1", {}, "没有这个音视频"), h("p", {}, "它不存在，或不在您可查看的范围内。"));
  else failed(err);
}
