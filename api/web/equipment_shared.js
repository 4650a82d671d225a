// What the parts of the equipment page share: the units and devices read so far, the unit
// chosen (and what each part redraws when it changes), who may change things, and how a
// unit, a device kind and a standard are written. No part imports another part to be told
// a unit was chosen: they say what to redraw with onChoose().
import { $, fill, h, labels, table } from "/ui/common.js";

export const state = { units: [], byId: new Map(), selected: null, devices: [] };

const redraws = [];

// What to redraw when a unit is chosen; choose() waits for all of them.
export function onChoose(...parts) {
  redraws.push(...parts);
}

export async function choose(unitId) {
  state.selected = unitId;
  const address = new URL(location.href);
  address.searchParams.set("unit", unitId); // a reload comes back to this unit
  history.replaceState(null, "", address);
  await Promise.all(redraws.map((redraw) => redraw()));
}

// The unit and every unit below it.
export function subtree(unitId) {
  const below = new Set([unitId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const u of state.units) if (u.parent_id && below.has(u.parent_id) && !below.has(u.unit_id)) { below.add(u.unit_id); grew = true; }
  }
  return below;
}

export const kindName = (k) => labels.device_kind[k] || k;
export const unitName = (id) => (id && state.byId.has(id) ? `${state.byId.get(id).name}（${id}）` : id || "—");
export const standard = (per, ratio) => (per ? `每名${labels.per[per] || per}配 ${ratio} 台` : "未设定");
export const chip = (text, kind = "") => h("span", { class: kind ? `chip ${kind}` : "chip" }, text);
export const blank = (v) => (v.trim() === "" ? null : v.trim());

// table() with the columns whose index is in `numbers` right-aligned (td.num).
export function numTable(columns, rows, empty, numbers) {
  const built = table(columns, rows, empty);
  for (const tr of built.querySelectorAll("tr")) {
    for (const i of numbers) tr.children[i]?.classList.add("num");
  }
  return built;
}

export function options(select, entries, value) {
  fill(select, entries.map(([v, text]) => h("option", { value: v }, text)));
  if (value !== undefined) select.value = value;
}

export function show(id, visible) {
  $(id).hidden = !visible;
}
