// A person sets their own password: at first sign-in, after IT reset it, or when they wish.
import { $, api, nextPage, start } from "/ui/common.js";

const me = await start("/ui/password.html");
$("#why").hidden = !me.must_change_password;
$("#change").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const problem = $("#problem");
  problem.textContent = "";
  if (form.fresh.value !== form.again.value) {
    problem.textContent = "两次输入的新密码不一致";
    form.again.focus();
    return;
  }
  try {
    await api("/api/v1/session/password", { method: "POST", body: { current_password: form.current.value, new_password: form.fresh.value } });
    location.assign(nextPage());
  } catch (err) {
    problem.textContent = err.message;
  }
});
