// The compliance report of a period for supervisors (督察/法制): the rates by unit and by
// officer and day by day, every number opening the events and media behind it, the early
// warnings, and the same report as CSV or XLSX.
import {
  $, api, caseLink, failed, fill, h, labels, mediaLink, percent, query, start, table, time,
} from "/ui/common.js";

const form = $("#period");
const DAY = 86400000;
let report = null;

function day(offsetDays) {
  const d = new Date(Date.now() + 8 * 3600000 + offsetDays * DAY);
  return d.toISOString().slice(0, 10);
}

function params() {
  return {
    unit_id: form.unit_id.value.trim() || null,
    start: `${form.start.value}T00:00:00+08:00`,
    // The end day counts whole: events starting before the next day's midnight.
    end: new Date(Date.parse(`${form.end.value}T00:00:00+08:00`) + DAY).toISOString(),
  };
}

function drillButton(value, label, filter) {
  // Media and cases of no unit cannot be asked for by unit: that row's figures stay figures.
  if ("unit_id" in filter && filter.unit_id === null) return String(value);
  return h("button", { type: "button", class: "link", "aria-label": `${label}：${value}，查看明细`, onclick: () => drill(label, filter) }, String(value));
}

function card(name, value, filter) {
  return h("div", { class: "card" }, h("div", {}, name),
    filter ? h("button", { type: "button", class: "value", "aria-label": `${name} ${value}，查看明细`, onclick: () => drill(name, filter) }, String(value)) : h("div", { class: "value" }, String(value)));
}

function rateBar(rate) {
  return h("div", { class: "bars" }, h("div", {}, percent(rate)),
    h("div", { class: "track" }, h("div", { class: "fill", style: { width: `${Math.round((rate || 0) * 100)}%` } })));
}

function mediaSearch(extra) {
  const p = params();
  if ("unit_id" in extra && extra.unit_id === null) return null;
  return `/ui/review.html${query({ unit_id: extra.unit_id ?? p.unit_id, officer_id: extra.officer_id, start: p.start, end: p.end })}`;
}

function tallyColumns(filterOf) {
  return [
    ["应录事项", (t) => drillButton(t.required, "应录事项", { ...filterOf(t) })],
    ["合规", (t) => drillButton(t.compliant, "合规", { ...filterOf(t), status: "compliant" })],
    ["不完整", (t) => drillButton(t.partial, "不完整", { ...filterOf(t), status: "partial" })],
    ["未录", (t) => drillButton(t.missing, "未录", { ...filterOf(t), status: "missing" })],
    ["逾期存储", (t) => drillButton(t.late, "逾期存储", { ...filterOf(t), status: "late" })],
    ["合规率", (t) => rateBar(t.compliance_rate)],
    ["启用率", (t) => percent(t.activation_rate)],
    ["音视频", (t) => t.media === undefined ? "—" : h("a", { href: mediaSearch(filterOf(t)) }, String(t.media))],
  ];
}

function chart(events) {
  // Day by day (Shanghai), of the events that had to be recorded: the share compliant.
  const days = new Map();
  for (const e of events) {
    if (e.requirement === "none") continue;
    const key = time(e.start).slice(0, 10);
    const d = days.get(key) || { required: 0, compliant: 0 };
    d.required += 1;
    if (e.status === "compliant") d.compliant += 1;
    days.set(key, d);
  }
  const keys = [...days.keys()].sort();
  if (!keys.length) return fill("#chart", h("p", { class: "empty" }, "期间没有应录事项"));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "按日合规率柱状图");
  const width = 1000;
  const height = 200;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const step = (width - 40) / keys.length;
  keys.forEach((key, i) => {
    const d = days.get(key);
    const rate = d.compliant / d.required;
    const barHeight = rate * (height - 50);
    const rect = document.createElementNS(ns, "rect");
    Object.entries({ x: 30 + i * step + (step - Math.min(step * 0.7, 48)) / 2, y: height - 30 - barHeight, width: Math.min(step * 0.7, 48), height: barHeight, fill: rate >= 0.9 ? "#0a7d28" : rate >= 0.6 ? "#a15c00" : "#b3261e" })
      .forEach(([k, v]) => rect.setAttribute(k, v));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${key}：合规 ${d.compliant}/${d.required}（${percent(rate)}）`;
    rect.append(title);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 30 + i * step + step / 2);
    label.setAttribute("y", height - 12);
    label.setAttribute("text-anchor", "middle");
    label.textContent = key.slice(5);
    const value = document.createElementNS(ns, "text");
    value.setAttribute("x", 30 + i * step + step / 2);
    value.setAttribute("y", height - 34 - barHeight);
    value.setAttribute("text-anchor", "middle");
    value.textContent = percent(rate);
    svg.append(rect, label, value);
  });
  fill("#chart", svg);
}

async function drill(title, filter) {
  if (!form.reportValidity()) return;
  const p = params();
  const asked = { ...p, unit_id: filter.unit_id ?? p.unit_id, officer_id: filter.officer_id, status: filter.status };
  try {
    const found = await api(`/api/v1/compliance${query(asked)}`);
    const events = filter.status || filter.all ? found.events : found.events.filter((e) => e.requirement !== "none");
    const where = [asked.unit_id && `单位 ${asked.unit_id}`, asked.officer_id && `警号 ${asked.officer_id}`].filter(Boolean).join("，");
    fill("#drill", h("section", { class: "panel", id: "drill-panel" },
      h("h2", { tabindex: "-1" }, `明细：${title}${where ? "（" + where + "）" : ""}，${events.length} 个事项`),
      h("p", { class: "actions" }, h("a", { class: "button secondary", href: `/api/v1/compliance${query({ ...asked, format: "csv" })}` }, "导出 CSV"),
        h("a", { class: "button secondary", href: `/api/v1/compliance${query({ ...asked, format: "xlsx" })}` }, "导出 XLSX")),
      table([
        ["案件", (e) => caseLink(e.case_no)],
        ["事项", (e) => `${e.event_id} ${labels.activity[e.activity] || e.activity}`],
        ["民警", (e) => e.officer_ids.join("、")],
        ["开始", (e) => time(e.start)],
        ["要求", (e) => labels.requirement[e.requirement] || e.requirement],
        ["结论", (e) => h("span", { class: `chip ${e.status === "compliant" ? "ok" : e.status === "late" ? "warn" : "bad"}` }, labels.status[e.status] || e.status)],
        ["覆盖", (e) => percent(e.coverage)],
        ["逾期", (e) => e.late_by_s ? `${(e.late_by_s / 3600).toFixed(1)} 小时` : "—"],
        ["音视频", (e) => e.media_ids.length ? e.media_ids.map((id, i) => [i ? "、" : "", mediaLink(id, `#${i + 1}`)]) : "无"],
      ], events, "没有这样的事项")));
    $("#drill-panel h2").focus();
  } catch (err) {
    failed(err);
  }
}

async function run() {
  if (!form.reportValidity()) return;
  const p = params();
  history.replaceState(null, "", `/ui/supervision.html${query({ unit_id: p.unit_id, from: form.start.value, to: form.end.value })}`);
  try {
    report = await api(`/api/v1/compliance${query(p)}`);
  } catch (err) {
    return failed(err);
  }
  const t = report.summary.total;
  fill("#cards",
    card("执法事项", t.events, { all: true }),
    card("应录事项", t.required, {}),
    card("合规", t.compliant, { status: "compliant" }),
    card("不完整", t.partial, { status: "partial" }),
    card("未录", t.missing, { status: "missing" }),
    card("逾期存储", t.late, { status: "late" }),
    h("div", { class: "card" }, h("div", {}, "合规率"), h("div", { class: "value" }, percent(t.compliance_rate))),
    h("div", { class: "card" }, h("div", {}, "音视频（已分类）"), h("a", { class: "value", href: mediaSearch({}) }, `${t.media}`), ` （${percent(t.categorisation_rate)}）`));
  fill("#files",
    h("a", { class: "button secondary", href: `/api/v1/compliance${query({ ...p, format: "csv" })}` }, "导出 CSV"),
    h("a", { class: "button secondary", href: `/api/v1/compliance${query({ ...p, format: "xlsx" })}` }, "导出 XLSX"));
  chart(report.events);
  fill("#units-table", table([
    ["单位", (u) => u.name ? `${u.name}（${u.unit_id}）` : (u.unit_id || "未归属单位")],
    ...tallyColumns((u) => ({ unit_id: u.unit_id })),
  ], report.summary.by_unit, "没有单位"));
  fill("#officers-table", table([
    ["警号", (o) => o.officer_id],
    ...tallyColumns((o) => ({ officer_id: o.officer_id })),
  ], report.summary.by_officer, "期间没有民警的执法事项"));
  try {
    const warned = await api(`/api/v1/warnings${query({ unit_id: p.unit_id })}`);
    fill("#warnings", table([
      ["类型", (w) => labels.warning[w.kind] || w.kind],
      ["对象", (w) => w.subject.includes("/") ? caseLink(w.subject.split("/")[0]) : w.subject],
      ["单位", (w) => w.unit_id || "—"],
      ["起始", (w) => time(w.since)],
      ["详情", (w) => Object.entries(w.detail).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("；")],
    ], warned.items, "没有预警"));
  } catch (err) {
    failed(err);
  }
}

await start("/ui/supervision.html");
const asked = new URLSearchParams(location.search);
form.unit_id.value = asked.get("unit_id") || "";
form.start.value = asked.get("from") || day(-29);
form.end.value = asked.get("to") || day(0);
api("/api/v1/units").then((u) => fill("#units", u.items.map((x) => h("option", { value: x.unit_id }, x.name)))).catch(failed);
form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
run();
