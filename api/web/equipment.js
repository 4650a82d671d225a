// Equipment, for IT (装备管理): the unit tree, each unit's standards and equipment report,
// the devices and whom they are issued to, the cameras stations saw that nobody registered,
// the stations' heartbeats, and the accounts (users, tokens). Each part is shown only to the
// roles the api lets read it (api/deps.py, api/routes/*): what it refuses is never asked for.
// This module decides which parts a person gets and what redraws when a unit is chosen;
// the parts are the equipment_*.js modules.
import { $, fill, h, labels, may, me, start } from "/ui/common.js";
import { loadUsers, loadTokens, prepareAccountForms } from "/ui/equipment_accounts.js";
import { drawDevices, loadDevices, loadUnregistered, prepareDeviceForm } from "/ui/equipment_devices.js";
import { loadReport } from "/ui/equipment_report.js";
import { choose, onChoose, show, state } from "/ui/equipment_shared.js";
import { loadStandards } from "/ui/equipment_standards.js";
import { loadStations } from "/ui/equipment_stations.js";
import { closeUnitForm, drawTree, drawUnit, loadUnits, newUnit, startingUnit } from "/ui/equipment_units.js";

const ADMIN_PARTS = ["#devices", "#unregistered", "#users", "#tokens"];

function sectionsNav() {
  const parts = [["#unit", "单位信息"], ["#standards", "配备标准"], ["#report", "装备报表"],
    ["#devices", "设备"], ["#unregistered", "未登记设备"], ["#stations", "采集工作站"], ["#users", "用户"], ["#tokens", "令牌"]];
  const links = parts.filter(([id]) => $(id) && !$(id).hidden)
    .map(([id, name]) => h("li", {}, h("a", { href: id }, name)));
  fill("#sections", h("h2", {}, "本页栏目"), h("ul", {}, links));
}

await start("/ui/equipment.html");
const loads = [];
if (may("unit_readers")) {
  onChoose(drawTree, drawUnit, closeUnitForm, loadStandards, loadReport);
  loads.push(loadUnits());
} else {
  show("#side", false);
  $("#layout").classList.add("one-column");
}
if (may("device_admins") && may("account_admins")) {
  prepareDeviceForm();
  prepareAccountForms();
  onChoose(drawDevices); // its "only this unit" filter follows the tree
  for (const id of ADMIN_PARTS) show(id, true);
  loads.push(loadDevices(), loadUnregistered(), loadUsers(), loadTokens());
} else {
  for (const id of ADMIN_PARTS) $(id).remove();
  fill("#not-allowed", `设备登记、未登记设备、用户账号和接口令牌由信息通信部门管理，您的角色（${labels.role[me.role] || me.role}）无权查看。`);
  show("#not-allowed", true);
}
if (may("station_readers")) {
  show("#stations", true);
  loads.push(loadStations());
} else {
  $("#stations").remove();
}
await Promise.all(loads);
if (may("unit_readers")) {
  const first = startingUnit();
  if (first) await choose(first);
  else {
    drawUnit();
    // Nothing filed yet: offer to file the unit the first device names.
    if (may("unit_admins")) newUnit(null, state.devices.map((d) => d.unit_id).find(Boolean) || "", false);
  }
}
sectionsNav();
document.body.dataset.ready = "true";
