// Sign in with a user name and password, or a token; then back to the page asked for.
import { $, api, nextPage } from "/ui/common.js";

async function signIn(event, body) {
  event.preventDefault();
  const why = $("#why");
  why.textContent = "";
  const button = event.target.querySelector("button");
  button.disabled = true;
  try {
    const session = await api("/api/v1/sign-in", { method: "POST", body });
    // A password someone else set is replaced before anything else.
    location.assign(session.must_change_password
      ? `/ui/password.html?next=${encodeURIComponent(nextPage())}` : nextPage());
  } catch (err) {
    why.textContent = err.message;
    button.disabled = false;
  }
}

$("#password-form").addEventListener("submit", (e) =>
  signIn(e, { username: e.target.username.value, password: e.target.password.value }));
$("#token-form").addEventListener("submit", (e) => signIn(e, { token: e.target.token.value.trim() }));
