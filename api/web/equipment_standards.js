// The chosen unit's equipment standards (配备标准): the one that applies to each device kind,
// whether it is the unit's own or one it inherits from a unit above, and for IT the form
// that sets the unit's own (api/routes/equipment.py).
import { $, api, failed, fill, h, labels, may, say, table } from "/ui/common.js";
import { loadReport } from "/ui/equipment_report.js";
import { chip, kindName, show, standard, state, unitName } from "/ui/equipment_shared.js";

export async function loadStandards() {
  show("#standards", Boolean(state.selected));
  if (!state.selected) return;
  let standards;
  try {
    standards = (await api(`/api/v1/units/${encodeURIComponent(state.selected)}/standards`)).standards;
  } catch (err) {
    fill("#standards-table", h("p", { class: "empty" }, "无法读取配备标准"));
    return failed(err);
  }
  const editable = may("unit_admins");
  const applied = new Map(standards.map((s) => [s.device_kind, s]));
  const own = (kind) => (applied.get(kind)?.source === state.selected ? applied.get(kind) : null);
  const columns = [
    ["设备类型", ([kind]) => kindName(kind)],
    ["当前适用标准", ([kind]) => standard(applied.get(kind)?.per, applied.get(kind)?.ratio)],
    ["来源", ([kind]) => {
      const s = applied.get(kind);
      if (!s) return "—";
      return s.source === state.selected ? chip("本单位设定", "ok") : chip(`沿用 ${unitName(s.source)}`);
    }],
  ];
  if (editable) {
    columns.push(["本单位配备基数", ([kind, name]) => {
      const choice = h("select", { name: `per-${kind}`, "aria-label": `${name}配备基数` },
        h("option", { value: "" }, "不单独设定（沿用上级）"),
        Object.entries(labels.per).map(([v, t]) => h("option", { value: v }, `按${t}`)));
      choice.value = own(kind)?.per || "";
      return choice;
    }]);
    columns.push(["每人配备数", ([kind, name]) => h("input", {
      name: `ratio-${kind}`, type: "number", min: "0", max: "100", step: "0.01",
      "aria-label": `${name}每人配备数`, value: own(kind)?.ratio ?? "",
    })]);
  }
  fill("#standards-table", table(columns, Object.entries(labels.device_kind)));
  show("#standards-actions", editable);
}

$("#standards-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const standards = [];
  for (const [kind, name] of Object.entries(labels.device_kind)) {
    const per = form[`per-${kind}`].value;
    if (!per) continue;
    const ratio = form[`ratio-${kind}`].value;
    if (ratio === "") {
      form[`ratio-${kind}`].focus();
      return say(`请填写${name}的每人配备数`, "error");
    }
    standards.push({ device_kind: kind, per, ratio: Number(ratio) });
  }
  try {
    await api(`/api/v1/units/${encodeURIComponent(state.selected)}/standards`, { method: "PUT", body: { standards } });
    say("已保存配备标准");
    await Promise.all([loadStandards(), loadReport()]);
  } catch (err) {
    failed(err);
  }
});
