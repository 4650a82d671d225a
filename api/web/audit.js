// The audit trail of the person's units, newest first, with the chain's verification.
import { $, api, failed, fill, fromLocal, h, labels, query, start, table, time } from "/ui/common.js";

const form = $("#filters");
const OUTCOME = { ok: "成功", denied: "拒绝", failed: "失败" };
let before = null;
let rows = [];
let shown = {}; // the filters of the rows shown: "更早的记录" goes on with them

async function verify() {
  try {
    const v = await api("/api/v1/audit/verify");
    fill("#verify", v.ok
      ? h("span", { class: "chip ok" }, `审计链完整：已校验 ${v.entries} 条记录`)
      : h("span", { class: "chip bad" }, `审计链被篡改：第 ${v.first_bad} 条记录不符（${v.reason}）。请立即报告信息通信部门。`));
  } catch (err) {
    fill("#verify", h("span", { class: "chip bad" }, `无法校验审计链：${err.message}`));
  }
}

function filters() {
  return {
    since: fromLocal(form.since.value), until: fromLocal(form.until.value),
    actor: form.actor.value.trim(), action: form.action.value.trim(),
    target: form.target.value.trim(), outcome: form.outcome.value,
  };
}

// What the common requests are, in words; anything else is shown as the api names it.
const ACTIONS = {
  "GET /api/v1/media": "检索音视频", "GET /api/v1/media/{media_id}": "查看音视频",
  "GET /api/v1/media/{media_id}/original": "下载原始文件", "GET /api/v1/media/{media_id}/proxy": "播放",
  "GET /api/v1/media/{media_id}/thumbnail": "查看缩略图", "GET /api/v1/media/{media_id}/custody": "查看监管链",
  "GET /api/v1/cases/{case_no}": "查看案件", "POST /api/v1/cases/{case_no}/media": "关联案件",
  "DELETE /api/v1/cases/{case_no}/media/{media_id}": "解除案件关联", "GET /api/v1/compliance": "查看合规统计",
  "GET /api/v1/audit": "查看审计日志", "GET /api/v1/session": "打开页面", "user.sign_in": "登录", "session.open": "令牌登录",
  "user.create": "创建用户", "user.passwd": "重置密码", "user.disable": "停用用户",
  "token.create": "创建令牌", "token.revoke": "吊销令牌", "POST /api/v1/ingest": "登记入库",
};

function what(e) {
  const name = ACTIONS[e.action] || labels.custody[e.action];
  return name ? [name, h("div", { class: "empty" }, e.action)] : e.action;
}

async function load(more = false) {
  const f = more ? shown : filters();
  try {
    const page = await api(`/api/v1/audit${query({ ...f, before: more ? before : null, limit: 100 })}`);
    rows = more ? rows.concat(page.items) : page.items;
    before = page.next_before;
    shown = f;
    fill("#entries", table([
      ["序号", (e) => e.seq],
      ["时间", (e) => time(e.at)],
      ["操作人", (e) => `${e.actor}${e.role ? "（" + (labels.role[e.role] || e.role) + "）" : ""}`],
      ["操作", what],
      ["对象", (e) => e.target || "—"],
      ["结果", (e) => h("span", { class: `chip ${e.outcome === "ok" ? "ok" : "bad"}` }, `${OUTCOME[e.outcome] || e.outcome}${e.status ? " " + e.status : ""}`)],
      ["来源", (e) => e.client || "—"],
    ], rows, "没有符合条件的记录"));
    $("#more").hidden = !before;
  } catch (err) {
    failed(err);
  }
}

await start("/ui/audit.html");
form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
$("#more").addEventListener("click", () => load(true));
verify();
load();
