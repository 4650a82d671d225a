// What every page shares: calling the api with the session's cookie and CSRF token, the
// header with the pages this person may open, writing elements (text only, never HTML), and
// times shown in Asia/Shanghai. The api decides what anyone sees; the pages only show it.

export const ZONE = "Asia/Shanghai";

// Each page and the role list (labels.json's `access`, from the api's routes) it needs.
const PAGES = [
  { href: "/ui/review.html", name: "案件与音视频", access: "media" },
  { href: "/ui/supervision.html", name: "督察监管", access: "supervisors" },
  { href: "/ui/audit.html", name: "审计日志", access: "supervisors" },
  { href: "/ui/equipment.html", name: "装备管理", access: "unit_readers" },
];

let csrf = null;
export let me = null;
export let labels = { access: {}, activity: {}, status: {}, custody: {}, requirement: {}, role: {}, device_kind: {}, warning: {}, per: {} };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function describe(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("；");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

export function toSignIn(page = "/ui/login.html") {
  const next = location.pathname + location.search;
  location.assign(`${page}?next=${encodeURIComponent(next)}`);
}

// Where `next` (from the address) may send someone: only a page of this site.
export function nextPage() {
  const asked = new URLSearchParams(location.search).get("next") || "/ui/";
  const target = new URL(asked, location.origin);
  return target.origin === location.origin && target.pathname.startsWith("/ui/")
    ? target.pathname + target.search : "/ui/";
}

// The api's answer as JSON (null for 204); ApiError with the api's own words otherwise.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new ApiError(0, "无法连接服务器，请检查网络后重试");
  }
  if (response.status === 401 && path !== "/api/v1/sign-in") {
    toSignIn();
    return new Promise(() => {}); // the page is leaving for the sign-in page
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = describe((await response.json()).detail);
    } catch (e) {
      // not JSON: keep the status text
    }
    if (response.status === 403 && detail.includes("X-CSRF-Token")) {
      // Signed in again elsewhere (another tab): this page's session is gone.
      location.reload();
      return new Promise(() => {});
    }
    if (response.status === 403) detail = `无权进行此操作（${detail}）`;
    const id = response.headers.get("X-Request-ID");
    throw new ApiError(response.status, id && response.status >= 500 ? `${detail}（请求编号 ${id}）` : detail);
  }
  return response.status === 204 ? null : response.json();
}

// `h("a", {href: "..."}, "text", child)`: an element; strings become text nodes, so
// nothing from the api is ever read as HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector) {
  return document.querySelector(selector);
}

export function fill(target, ...children) {
  const node = typeof target === "string" ? $(target) : target;
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

// "2026-12-03 20:15:04", in Shanghai time.
export function time(iso) {
  if (!iso) return "—";
  const parts = Object.fromEntries(TIME.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

// A datetime-local field's value ("2026-12-03T08:00"), read as Shanghai time, as ISO 8601.
export function fromLocal(value) {
  if (!value) return null;
  return `${value.length === 16 ? value + ":00" : value}+08:00`;
}

// An ISO time as a datetime-local value in Shanghai time.
export function toLocal(iso) {
  return time(iso).replace(" ", "T").slice(0, 16);
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function duration(s) {
  if (s === null || s === undefined) return "—";
  const t = Math.round(s);
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = t % 60;
  const two = (x) => String(x).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`;
}

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// The first page this person may open, or null.
export function firstPage() {
  return PAGES.find((p) => may(p.access))?.href ?? null;
}

// Whether this person's role is in the api's role list `access` (labels.json).
export function may(access) {
  return me !== null && (labels.access[access] || []).includes(me.role);
}

// A message in the page's live region: `kind` is "ok" or "error".
export function say(message, kind = "ok") {
  const box = $("#message");
  box.className = kind;
  box.textContent = message;
  box.hidden = false;
  if (kind === "ok") setTimeout(() => { if (box.textContent === message) box.hidden = true; }, 6000);
}

export function failed(err) {
  say(err instanceof ApiError ? err.message : `出错了：${err}`, "error");
}

// Signs the page in (or sends the person to sign in, or to set their own password first),
// draws the header; the session.
export async function start(active) {
  const [session, names] = await Promise.all([
    api("/api/v1/session"),
    fetch("/ui/labels.json").then((r) => r.json()),
  ]);
  me = session;
  csrf = session.csrf_token;
  labels = names;
  if (me.must_change_password && active !== "/ui/password.html") {
    toSignIn("/ui/password.html");
    return new Promise(() => {});
  }
  const links = PAGES.filter((p) => may(p.access)).map((p) =>
    h("a", { href: p.href, "aria-current": p.href === active ? "page" : null }, p.name));
  fill("#top",
    h("span", { class: "brand" }, "执法音视频管理"),
    h("nav", { "aria-label": "页面" }, links),
    h("span", { class: "who" }, `${me.username}（${labels.role[me.role] || me.role}${me.unit_id ? "，" + me.unit_id : ""}）`),
    me.via === "password" ? h("a", { class: "quiet", href: "/ui/password.html" }, "修改密码") : null,
    h("button", { type: "button", class: "quiet", onclick: signOut }, "退出登录"));
  if (!document.querySelector("#message")) {
    document.body.prepend(h("div", { id: "message", role: "status", "aria-live": "polite", hidden: true }));
  }
  return me;
}

async function signOut() {
  try {
    await api("/api/v1/sign-out", { method: "POST" });
  } finally {
    location.assign("/ui/login.html");
  }
}

// A table: `columns` are [header, (row) => cell content]; `empty` when there are no rows.
export function table(columns, rows, empty = "没有记录") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

export function mediaLink(id, text) {
  return h("a", { href: `/ui/media.html${query({ id })}` }, text || id);
}

export function caseLink(no) {
  return h("a", { href: `/ui/case.html${query({ no })}` }, no);
}
