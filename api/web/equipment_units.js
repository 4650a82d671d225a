// The units (单位): the tree to choose one from, the unit ids devices name that the tree does
// not have yet, and the chosen unit's facts with the form IT files or changes a unit with
// (api/routes/units.py).
import { $, api, failed, fill, h, may, me, say, time } from "/ui/common.js";
import { chip, choose, options, show, state, subtree, unitName } from "/ui/equipment_shared.js";

// The api takes any code for a unit's kind; these are the ones the form offers.
const UNIT_KINDS = {
  bureau: "公安局", sub_bureau: "分局", detachment: "支队", brigade: "大队",
  police_station: "派出所", squadron: "中队", department: "部门", unit: "其他单位",
};

export async function loadUnits() {
  try {
    state.units = (await api("/api/v1/units")).items;
  } catch (err) {
    fill("#tree", h("p", { class: "empty" }, "无法读取单位"));
    return failed(err);
  }
  state.byId = new Map(state.units.map((u) => [u.unit_id, u]));
  fill("#unit-ids", state.units.map((u) => h("option", { value: u.unit_id }, u.name)));
  drawTree();
  drawUnfiled();
}

// The first unit to show: the one in the address, the person's own, else the first root.
export function startingUnit() {
  const asked = new URLSearchParams(location.search).get("unit");
  const roots = state.units.filter((u) => !u.parent_id || !state.byId.has(u.parent_id)).sort((a, b) => a.unit_id.localeCompare(b.unit_id));
  return [asked, me.unit_id, roots[0]?.unit_id].find((id) => id && state.byId.has(id)) || null;
}

export function drawTree() {
  const children = new Map();
  for (const u of state.units) {
    const above = u.parent_id && state.byId.has(u.parent_id) ? u.parent_id : null;
    if (!children.has(above)) children.set(above, []);
    children.get(above).push(u);
  }
  const branch = (parent, depth) => {
    const units = (children.get(parent) || []).sort((a, b) => a.unit_id.localeCompare(b.unit_id));
    if (!units.length) return null;
    return h("ul", { role: depth ? "group" : null }, units.map((u) => {
      const current = u.unit_id === state.selected;
      return h("li", {},
        h("button", {
          type: "button", class: "link", "aria-current": current ? "true" : null,
          title: u.unit_id, onclick: () => choose(u.unit_id),
        }, u.name),
        current ? chip("当前") : null,
        branch(u.unit_id, depth + 1));
    }));
  };
  fill("#tree", branch(null, 0) || h("p", { class: "empty" }, "尚未建立单位。"));
  show("#tree-actions", may("unit_admins") && !me.unit_id);
}

// Unit ids that devices or accounts name but the tree does not have yet: IT files them here.
export function drawUnfiled() {
  if (!may("unit_admins")) return;
  const named = new Set(state.devices.map((d) => d.unit_id).filter((id) => id && !state.byId.has(id)));
  if (!named.size) return fill("#unfiled");
  fill("#unfiled",
    h("h3", {}, "设备所属但尚未建档的单位"),
    h("ul", {}, [...named].sort().map((id) => h("li", {}, id, " ",
      h("button", { type: "button", class: "link", "aria-label": `为 ${id} 建档`, onclick: () => newUnit(null, id) }, "建档")))));
}

export function drawUnit() {
  const u = state.byId.get(state.selected);
  show("#unit", Boolean(u) || may("unit_admins"));
  show("#unit-actions", Boolean(u) && may("unit_admins"));
  if (!u) {
    fill("#unit-title", "单位信息");
    return fill("#unit-facts", h("p", { class: "empty" }, state.units.length ? "请在左侧选择单位。" : "尚未建立单位：请先新增单位，再为它设定配备标准。"));
  }
  fill("#unit-title", u.name);
  const fact = (name, value) => h("span", {}, h("span", { class: "empty" }, `${name} `), value);
  fill("#unit-facts", h("p", { class: "fact-row" },
    fact("单位编号", h("span", { class: "hash" }, u.unit_id)),
    fact("类型", UNIT_KINDS[u.kind] || u.kind),
    fact("上级单位", u.parent_id ? unitName(u.parent_id) : "无（顶级单位）"),
    fact("民警", `${u.officer_count} 人`),
    fact("在岗民警", `${u.on_duty_officer_count} 人`),
    fact("最近修改", `${time(u.updated_at)}（${u.updated_by}）`)));
}

function parentChoices(form, unitId, parentId) {
  const below = unitId ? subtree(unitId) : new Set(); // a unit never goes below itself
  const entries = state.units.filter((u) => !below.has(u.unit_id)).map((u) => [u.unit_id, `${u.name}（${u.unit_id}）`]);
  if (!me.unit_id || parentId === null) entries.unshift(["", "（无：顶级单位）"]);
  if (parentId && !state.byId.has(parentId)) entries.unshift([parentId, parentId]);
  options(form.parent_id, entries, parentId || "");
  // A unit-bound IT may not move its own unit (api/routes/units.py).
  form.parent_id.disabled = Boolean(me.unit_id) && unitId === me.unit_id;
}

function unitKinds(form, kind) {
  const entries = Object.entries(UNIT_KINDS);
  if (kind && !UNIT_KINDS[kind]) entries.push([kind, kind]);
  options(form.kind, entries, kind || "police_station");
}

function showUnitForm(title, visible = true) {
  fill("#unit-form-title", title);
  show("#unit-form-title", visible);
  show("#unit-form", visible);
}

export function closeUnitForm() {
  showUnitForm("", false);
}

function editUnit(u) {
  const form = $("#unit-form");
  form.dataset.mode = "edit";
  form.unit_id.value = u.unit_id;
  form.unit_id.readOnly = true;
  form.name.value = u.name;
  unitKinds(form, u.kind);
  parentChoices(form, u.unit_id, u.parent_id);
  form.officer_count.value = u.officer_count;
  form.on_duty_officer_count.value = u.on_duty_officer_count;
  showUnitForm(`修改单位：${u.name}`);
  form.name.focus();
}

export function newUnit(parentId, unitId = "", focus = true) {
  const form = $("#unit-form");
  form.reset();
  form.dataset.mode = "new";
  form.unit_id.readOnly = false;
  form.unit_id.value = unitId;
  unitKinds(form, null);
  parentChoices(form, null, parentId);
  form.officer_count.value = 0;
  form.on_duty_officer_count.value = 0;
  show("#unit", true);
  showUnitForm(parentId ? `新增下级单位（上级：${unitName(parentId)}）` : "新增单位");
  if (focus) (unitId ? form.name : form.unit_id).focus();
}

$("#new-top").addEventListener("click", () => newUnit(null));
$("#new-child").addEventListener("click", () => newUnit(state.selected));
$("#edit-unit").addEventListener("click", () => editUnit(state.byId.get(state.selected)));
$("#unit-cancel").addEventListener("click", () => {
  closeUnitForm();
  $(state.selected ? "#edit-unit" : "#new-top").focus();
});

$("#unit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const unitId = form.unit_id.value.trim();
  const body = {
    name: form.name.value.trim(), kind: form.kind.value, parent_id: form.parent_id.value || null,
    officer_count: Number(form.officer_count.value), on_duty_officer_count: Number(form.on_duty_officer_count.value),
  };
  try {
    await api(`/api/v1/units/${encodeURIComponent(unitId)}`, { method: "PUT", body });
    say(form.dataset.mode === "new" ? `已新增单位 ${body.name}` : `已保存单位 ${body.name}`);
    closeUnitForm();
    await loadUnits();
    await choose(unitId);
  } catch (err) {
    failed(err);
  }
});
