// The devices (设备登记与配发): the register, the form that registers a device or issues it
// to an officer and unit, and the cameras stations imported footage from that nobody has
// registered yet, each one click from the form (api/routes/devices.py).
import { $, api, failed, fill, h, labels, me, query, say, table, time } from "/ui/common.js";
import { loadReport } from "/ui/equipment_report.js";
import { blank, chip, kindName, options, state, subtree, unitName } from "/ui/equipment_shared.js";
import { drawUnfiled } from "/ui/equipment_units.js";

// The values of DeviceStatus (storage/catalogue/models.py); test_pages_equipment checks them.
const DEVICE_STATUS = { active: "在用", inactive: "库存", repair: "维修", lost: "遗失", retired: "报废" };
const STATUS_CHIP = { active: "ok", lost: "bad", repair: "warn" };

export function prepareDeviceForm() {
  options($("#device-form").kind, Object.entries(labels.device_kind), "body_camera");
  options($("#device-form").status, Object.entries(DEVICE_STATUS), "active");
}

export async function loadDevices() {
  const devices = [];
  let cursor = null;
  try {
    do {
      const page = await api(`/api/v1/devices${query({ limit: 500, cursor })}`);
      devices.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && devices.length < 5000);
  } catch (err) {
    fill("#device-table", h("p", { class: "empty" }, "无法读取设备"));
    return failed(err);
  }
  state.devices = devices;
  drawDevices();
  drawUnfiled();
}

export function drawDevices() {
  const only = $("#only-unit").checked && state.selected;
  const within = only ? subtree(state.selected) : null;
  const shown = within ? state.devices.filter((d) => within.has(d.unit_id)) : state.devices;
  fill("#device-table", h("p", { class: "empty" }, `共 ${shown.length} 台${within ? `（${unitName(state.selected)}及下级单位）` : ""}`), table([
    ["设备编号", (d) => h("span", { class: "hash" }, d.device_id)],
    ["类型", (d) => kindName(d.kind)],
    ["序列号", (d) => d.serial || "—"],
    ["所属单位", (d) => unitName(d.unit_id)],
    ["配发民警", (d) => d.officer_id || "未配发"],
    ["状态", (d) => chip(DEVICE_STATUS[d.status] || d.status, STATUS_CHIP[d.status])],
    ["最近修改", (d) => time(d.updated_at)],
    ["", (d) => h("button", { type: "button", class: "link", "aria-label": `修改设备 ${d.device_id}`, onclick: () => editDevice(d) }, "修改")],
  ], shown, "没有登记的设备"));
}

function editDevice(d, note = null) {
  const form = $("#device-form");
  form.device_id.value = d.device_id;
  form.kind.value = d.kind || "body_camera";
  form.serial.value = d.serial || "";
  form.unit_id.value = d.unit_id || "";
  form.officer_id.value = d.officer_id || "";
  form.status.value = d.status || "active";
  fill("#device-form-title", d.created_at ? `修改设备 ${d.device_id}` : `登记设备 ${d.device_id}`);
  $("#device-note").hidden = !note;
  fill("#device-note", note);
  $("#device-form-title").scrollIntoView({ block: "start" });
  const next = [form.unit_id, form.officer_id].find((f) => !f.value) || form.querySelector("button[type=submit]");
  next.focus();
}

$("#device-form").addEventListener("reset", () => {
  fill("#device-form-title", "登记或修改设备");
  $("#device-note").hidden = true;
});

$("#device-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const deviceId = form.device_id.value.trim();
  const body = {
    kind: form.kind.value, serial: blank(form.serial.value), unit_id: blank(form.unit_id.value),
    officer_id: blank(form.officer_id.value), status: form.status.value,
  };
  const known = state.devices.some((d) => d.device_id === deviceId);
  try {
    await api(`/api/v1/devices/${encodeURIComponent(deviceId)}`, { method: "PUT", body });
    say(known ? `已更新设备 ${deviceId}` : `已登记设备 ${deviceId}`);
    form.reset();
    await Promise.all([loadDevices(), loadUnregistered(), state.selected ? loadReport() : null]);
  } catch (err) {
    failed(err);
  }
});

$("#only-unit").addEventListener("change", drawDevices);

// ---- cameras stations saw that nobody registered -------------------------------------------

export async function loadUnregistered() {
  let items;
  try {
    items = (await api("/api/v1/devices/unregistered")).items;
  } catch (err) {
    fill("#unregistered-table", h("p", { class: "empty" }, "无法读取未登记设备"));
    return failed(err);
  }
  fill("#unregistered-title", `未登记设备（采集站已接入）${items.length ? `：${items.length} 台` : ""}`);
  fill("#unregistered-table", table([
    ["设备编号（音视频中）", (u) => h("span", { class: "hash" }, u.device_id)],
    ["序列号", (u) => u.serial || "—"],
    ["接入的采集站", (u) => u.station_ids.map((s) => chip(s))],
    ["音视频", (u) => `${u.media_count} 个`],
    ["首次出现", (u) => time(u.first_seen)],
    ["最近出现", (u) => time(u.last_seen)],
    ["说明", (u) => (u.serial_registered_as ? chip(`该序列号现属设备 ${u.serial_registered_as}，这些音视频仍用旧编号`, "warn") : chip("未登记", "bad"))],
    ["", (u) => h("button", { type: "button", "aria-label": `登记 ${u.device_id}`, onclick: () => registerSeen(u) }, "登记")],
  ], items, "没有未登记的设备：采集站接入的设备都已登记"));
}

function registerSeen(u) {
  // Its serial, unless a registered device already has it (the api would refuse it: 409).
  const serial = u.serial && !u.serial_registered_as ? u.serial : "";
  editDevice({ device_id: u.device_id, kind: "body_camera", serial, unit_id: state.selected || me.unit_id || "", officer_id: "", status: "active" },
    `在 ${u.station_ids.join("、")} 接入过，已导入 ${u.media_count} 个音视频；请核对设备类型与所属单位，填写配发民警的警号后保存。`);
}
