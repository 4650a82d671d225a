// The chosen unit's equipment report (装备配备与使用情况): what its standards require against
// what is in service, the shortfall, which devices were used in the period, each unit below
// it, and the same as CSV or Excel (api/routes/equipment.py).
import { $, api, failed, fill, fromLocal, h, percent, query, time, toLocal } from "/ui/common.js";
import { chip, choose, kindName, numTable, show, standard, state } from "/ui/equipment_shared.js";

function period() {
  const form = $("#period");
  return { start: fromLocal(form.start.value), end: fromLocal(form.end.value) };
}

function shortfall(n) {
  return n > 0 ? chip(`缺 ${n} 台`, "bad") : chip("无缺口", "ok");
}

function rateBar(rate) {
  if (rate === null || rate === undefined) return "—";
  const bar = h("div", { class: rate < 1 ? "fill bad" : "fill", style: { width: `${Math.min(100, rate * 100)}%` } });
  return h("div", { class: "bars rate" },
    h("div", { class: "track", role: "img", "aria-label": `配备率 ${percent(rate)}` }, bar), percent(rate));
}

function card(name, value, note, kind) {
  return h("div", { class: "card" },
    h("div", { class: "empty" }, name),
    h("div", { class: kind ? `value chip ${kind}` : "value" }, value),
    note ? h("div", { class: "empty" }, note) : null);
}

export async function loadReport() {
  show("#report", Boolean(state.selected));
  if (!state.selected) return;
  const base = `/api/v1/units/${encodeURIComponent(state.selected)}/equipment`;
  const p = period();
  fill("#downloads",
    h("a", { class: "button secondary", href: base + query({ ...p, format: "csv" }), download: "" }, "导出 CSV"),
    h("a", { class: "button secondary", href: base + query({ ...p, format: "xlsx" }), download: "" }, "导出 Excel"));
  let report;
  try {
    report = await api(base + query(p));
  } catch (err) {
    fill("#report-body", h("p", { class: "empty" }, "无法读取装备报表"));
    return failed(err);
  }
  const usage = report.usage;
  const form = $("#period");
  if (!form.start.value && !form.end.value) {
    form.start.value = toLocal(usage.start);
    form.end.value = toLocal(usage.end);
  }
  const gaps = report.rows.reduce((n, r) => n + r.shortfall, 0);
  const rows = [
    ["设备类型", (r) => kindName(r.device_kind)],
    ["配备标准", (r) => standard(r.per, r.ratio)],
    ["人数", (r) => r.headcount],
    ["应配", (r) => r.required],
    ["在用", (r) => r.active],
    ["配备率", (r) => rateBar(r.rate)],
    ["缺口", (r) => shortfall(r.shortfall)],
  ];
  const parts = [
    h("div", { class: "cards" },
      card("配备缺口", gaps ? `${gaps} 台` : "无", "本单位及下级单位合计", gaps ? "bad" : null),
      card("在用设备", `${usage.active} 台`),
      card("期间采集过的设备", `${usage.docked} 台`, `${time(usage.start).slice(0, 10)} 至 ${time(usage.end).slice(0, 10)}`),
      card("使用率", percent(usage.rate), "期间采集过的在用设备占比")),
    h("h3", {}, "配备情况（本单位及下级单位合计）"),
    numTable(rows, report.rows, "尚未设定配备标准，也没有在用设备", [2, 3, 4]),
  ];
  if (report.units.length > 1) {
    parts.push(h("h3", {}, "各单位配备与使用"), numTable([
      ["单位", (u) => h("button", { type: "button", class: "link", onclick: () => choose(u.unit_id) }, u.name || u.unit_id)],
      ["配备（在用 / 应配）", (u) => u.rows.length ? u.rows.map((r) => h("div", {}, `${kindName(r.device_kind)} ${r.active} / ${r.required} `, r.shortfall ? chip(`缺 ${r.shortfall}`, "bad") : null)) : "—"],
      ["在用设备", (u) => u.usage.active],
      ["期间采集", (u) => u.usage.docked],
      ["使用率", (u) => percent(u.usage.rate)],
    ], report.units, "", [2, 3, 4]));
  }
  const idle = [...report.never_docked.map((d) => [d, "从未采集"]), ...report.idle.map((d) => [d, "期间未采集"])];
  parts.push(h("h3", {}, "闲置设备"), idle.length
    ? h("p", {}, idle.map(([d, why]) => chip(`${d}：${why}`, "warn")))
    : h("p", { class: "empty" }, "所有在用设备在统计期间都采集过音视频"));
  fill("#report-body", parts);
}

$("#period").addEventListener("submit", (event) => {
  event.preventDefault();
  loadReport();
});
