// The collection stations (采集工作站) as their heartbeats describe them: online, offline or
// silent, their storage, the cameras docked and their alarms (api/routes/stations.py).
import { api, bytes, failed, fill, h, percent, table, time } from "/ui/common.js";
import { chip } from "/ui/equipment_shared.js";

function ago(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} 秒前`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} 分钟前`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} 小时前`;
  return `${Math.round(seconds / 86400)} 天前`;
}

export async function loadStations() {
  let items;
  try {
    items = (await api("/api/v1/stations")).items;
  } catch (err) {
    fill("#stations-table", h("p", { class: "empty" }, "无法读取采集工作站"));
    return failed(err);
  }
  fill("#stations-table", table([
    ["采集站", (s) => h("span", { class: "hash" }, s.station_id)],
    ["状态", (s) => (s.silent ? chip("失联", "bad") : !s.online ? chip("离线", "warn") : chip("在线", "ok"))],
    ["最近心跳", (s) => [time(s.last_heartbeat_at), h("div", { class: "empty" }, `${ago(s.silent_for_s)}，每 ${Math.round(s.heartbeat_interval_s)} 秒一次`)]],
    ["存储", (s) => s.storage_total_bytes
      ? [`${bytes(s.storage_used_bytes)} / ${bytes(s.storage_total_bytes)}`, h("div", {}, s.free_fraction !== null && s.free_fraction < 0.1 ? chip(`剩余 ${percent(s.free_fraction)}`, "bad") : `剩余 ${percent(s.free_fraction)}`)]
      : "—"],
    ["接入设备", (s) => (s.docked_devices.length ? s.docked_devices.map((d) => chip(d.officer_id ? `${d.device_id}（${d.officer_id}）` : d.device_id)) : "—")],
    ["告警", (s) => (s.alarms.length ? s.alarms.map((a) => chip(a.message, "warn")) : "—")],
    ["版本", (s) => s.version || "—"],
    ["地址", (s) => s.client || "—"],
  ], items, "还没有采集工作站发送过心跳"));
}
