// Sign in with a user name and password, or a token; then back to the page asked for.
import { $, api } from "/ui/common.js";

function next() {
  const target = new URLSearchParams(location.search).get("next") || "/ui/";
  // Only a page of this site: a link may not send someone elsewhere after signing in.
  return target.startsWith("/") && !target.startsWith("//") ? target : "/ui/";
}

async function signIn(event, body) {
  event.preventDefault();
  const why = $("#why");
  why.textContent = "";
  const button = event.target.querySelector("button");
  button.disabled = true;
  try {
    await api("/api/v1/sign-in", { method: "POST", body });
    location.assign(next());
  } catch (err) {
    why.textContent = err.message;
    button.disabled = false;
  }
}

$("#password-form").addEventListener("submit", (e) =>
  signIn(e, { username: e.target.username.value, password: e.target.password.value }));
$("#token-form").addEventListener("submit", (e) => signIn(e, { token: e.target.token.value.trim() }));
