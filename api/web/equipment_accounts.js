// The accounts (用户账号, 接口令牌): people's sign-ins, with a password reset and disabling,
// and the api tokens for systems and stations, whose secret is shown once when issued
// (api/routes/people.py).
import { $, api, failed, fill, h, labels, me, say, table, time } from "/ui/common.js";
import { blank, chip, options, show, unitName } from "/ui/equipment_shared.js";


const roleName = (role) => labels.role[role] || role;

export function prepareAccountForms() {
  // Only an admin makes admins (api/routes/people.py refuses it from anyone else).
  const grantable = (roles) => roles.filter((r) => r !== "admin" || me.role === "admin").map((r) => [r, roleName(r)]);
  options($("#user-form").role, grantable(labels.access.people_roles), "officer");
  options($("#token-form").role, grantable(Object.keys(labels.role)), "station");
  for (const form of [$("#user-form"), $("#token-form")]) form.unit_id.value = me.unit_id || "";
}

// ---- users ---------------------------------------------------------------------------------

export async function loadUsers() {
  let items;
  try {
    items = (await api("/api/v1/users")).items;
  } catch (err) {
    fill("#users-table", h("p", { class: "empty" }, "无法读取用户"));
    return failed(err);
  }
  const now = Date.now();
  fill("#users-table", table([
    ["用户名", (u) => u.username],
    ["姓名", (u) => u.name || "—"],
    ["角色", (u) => roleName(u.role)],
    ["所属单位", (u) => unitName(u.unit_id)],
    ["警号", (u) => u.officer_id || "—"],
    ["状态", (u) => (u.disabled ? chip("已停用", "bad")
      : u.locked_until && Date.parse(u.locked_until) > now ? chip(`锁定至 ${time(u.locked_until)}`, "warn") : chip("正常", "ok"))],
    ["密码修改", (u) => time(u.password_changed_at)],
    ["", (u) => (u.disabled ? null : h("span", { class: "actions" },
      h("button", { type: "button", class: "secondary", "aria-label": `重置 ${u.username} 的密码`, onclick: () => askPassword(u.username) }, "重置密码"),
      u.username === me.username ? null : h("button", { type: "button", class: "danger", "aria-label": `停用 ${u.username}`, onclick: () => disable(u.username) }, "停用")))],
  ], items, "没有用户"));
}

function askPassword(username) {
  const form = $("#password-form");
  form.reset();
  form.username.value = username;
  fill("#password-title", `重置 ${username} 的密码（其已登录的会话将失效）`);
  show("#password-title", true);
  show("#password-form", true);
  form.password.focus();
}

function closePassword() {
  show("#password-title", false);
  show("#password-form", false);
}

$("#password-cancel").addEventListener("click", closePassword);
$("#password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    await api(`/api/v1/users/${encodeURIComponent(form.username.value)}/password`, { method: "POST", body: { password: form.password.value } });
    say(`已为 ${form.username.value} 设置新密码`);
    closePassword();
    await loadUsers();
  } catch (err) {
    failed(err);
  }
});

async function disable(username) {
  if (!confirm(`停用用户 ${username}？停用后该账号不能再登录，也不能在此恢复。`)) return;
  try {
    await api(`/api/v1/users/${encodeURIComponent(username)}/disable`, { method: "POST" });
    say(`已停用用户 ${username}`);
    await loadUsers();
  } catch (err) {
    failed(err);
  }
}

$("#user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = {
    username: form.username.value.trim(), password: form.password.value, role: form.role.value,
    unit_id: blank(form.unit_id.value), officer_id: blank(form.officer_id.value), name: blank(form.name.value),
  };
  try {
    await api("/api/v1/users", { method: "POST", body });
    say(`已创建用户 ${body.username}（${roleName(body.role)}）`);
    form.reset();
    form.unit_id.value = me.unit_id || "";
    await loadUsers();
  } catch (err) {
    failed(err);
  }
});

// ---- tokens --------------------------------------------------------------------------------

export async function loadTokens() {
  let items;
  try {
    items = (await api("/api/v1/tokens")).items;
  } catch (err) {
    fill("#tokens-table", h("p", { class: "empty" }, "无法读取令牌"));
    return failed(err);
  }
  const now = Date.now();
  const expired = (t) => t.expires_at && Date.parse(t.expires_at) <= now;
  items.sort((a, b) => Boolean(a.revoked_at || expired(a)) - Boolean(b.revoked_at || expired(b)) || b.created_at.localeCompare(a.created_at));
  fill("#tokens-table", table([
    ["名称", (t) => t.name || "—"],
    ["角色", (t) => roleName(t.role)],
    ["范围", (t) => [t.unit_id && `单位 ${unitName(t.unit_id)}`, t.officer_id && `警号 ${t.officer_id}`, t.station_id && `采集站 ${t.station_id}`].filter(Boolean).join("，") || "全部单位"],
    ["发放时间", (t) => time(t.created_at)],
    ["到期", (t) => (t.expires_at ? time(t.expires_at) : "不过期")],
    ["状态", (t) => (t.revoked_at ? chip(`已吊销 ${time(t.revoked_at)}`, "bad") : expired(t) ? chip("已过期", "warn") : chip("有效", "ok"))],
    ["编号", (t) => h("span", { class: "hash" }, t.id.slice(0, 8))],
    ["", (t) => (t.revoked_at || expired(t) ? null
      : h("button", { type: "button", class: "danger", "aria-label": `吊销令牌 ${t.name || t.id}`, onclick: () => revoke(t) }, "吊销"))],
  ], items, "没有令牌"));
}

async function revoke(t) {
  if (!confirm(`吊销令牌“${t.name || t.id}”？使用它的系统或采集站将立即无法访问。`)) return;
  try {
    await api(`/api/v1/tokens/${encodeURIComponent(t.id)}/revoke`, { method: "POST" });
    say(`已吊销令牌 ${t.name || t.id}`);
    await loadTokens();
  } catch (err) {
    failed(err);
  }
}

// The secret exists only in this answer: shown once, with a way to copy it.
function showSecret(made) {
  const secret = h("p", { class: "hash", "aria-label": "新令牌" }, made.token);
  const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(made.token);
      say("已复制令牌");
    } catch (e) {
      getSelection().selectAllChildren(secret);
      say("请按 Ctrl+C 复制已选中的令牌", "error");
    }
  } }, "复制令牌");
  fill("#new-token", h("section", { class: "panel" },
    h("strong", {}, `已发放令牌“${made.name || roleName(made.role)}”，到期 ${made.expires_at ? time(made.expires_at) : "不过期"}。`),
    h("p", {}, "令牌只显示这一次，关闭或刷新本页后无法再查看，请立即复制并交给使用方妥善保存："),
    secret,
    h("div", { class: "actions" }, copy,
      h("button", { type: "button", class: "secondary", onclick: () => fill("#new-token") }, "我已保存，关闭"))));
  copy.focus();
}

$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const days = form.expires_in_days.value;
  const body = {
    role: form.role.value, name: blank(form.name.value), unit_id: blank(form.unit_id.value),
    officer_id: blank(form.officer_id.value), station_id: blank(form.station_id.value),
    expires_in_days: days ? Number(days) : null,
  };
  try {
    const made = await api("/api/v1/tokens", { method: "POST", body });
    form.reset();
    form.unit_id.value = me.unit_id || "";
    showSecret(made);
    await loadTokens();
  } catch (err) {
    failed(err);
  }
});
