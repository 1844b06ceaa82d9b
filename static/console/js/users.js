// Users and roles (IT): list by role, create, and change a person: role, name, badge, a new
// password, deactivate or reactivate, reset a lost second factor. Each change is confirmed
// first; the server audits it (user.update, auth.mfa_reset).
import { del, getAll, patch, post, query } from "./api.js";
import { $, busy, confirmDialog, html, notify, setHtml, showError, showFieldErrors } from "./ui.js";

const ROLE_NAMES = { officer: "Officer", operator: "Operator", clerk: "Records clerk", it: "IT administrator" };
const users = new Map();
let selected = null; // the user being changed

async function load() {
  const role = $("#role-filter").value;
  try {
    const list = await getAll(`users${query({ role, page_size: 500 })}`);
    users.clear();
    for (const u of list) users.set(u.id, u);
    setHtml($("#users tbody"), list.length ? list.map((u) => html`<tr data-user="${u.id}" data-active="${u.is_active === false ? "no" : "yes"}"><td class="mono">${u.username}</td><td>${u.full_name}</td>
      <td>${ROLE_NAMES[u.role] || u.role}</td><td>${u.badge_number || ""}</td><td>${u.is_active === false ? "no" : "yes"}</td>
      <td><button type="button" class="secondary small" data-edit="${u.id}">Change…</button></td></tr>`)
      : html`<tr><td colspan="6" class="empty">No users.</td></tr>`);
    $("#count").textContent = `${list.length} user${list.length === 1 ? "" : "s"}`;
    if (selected && users.has(selected.id)) select(users.get(selected.id));
  } catch (err) { showError(err, "Users"); }
}

function select(user) {
  selected = user;
  const form = $("#edit-form");
  $("#edit-card").classList.remove("hidden");
  $("#edit-username").textContent = user.username;
  $("#edit-state").textContent = user.is_active === false
    ? "Deactivated: they cannot sign in until reactivated."
    : `${ROLE_NAMES[user.role] || user.role}, active.`;
  form.role.value = user.role;
  form.full_name.value = user.full_name || "";
  form.badge_number.value = user.badge_number || "";
  showFieldErrors(form, null);
  showFieldErrors($("#password-form"), null);
  $("#password-form").password.value = "";
  $("#toggle-active").textContent = user.is_active === false ? "Reactivate" : "Deactivate";
  $("#toggle-active").className = user.is_active === false ? "secondary" : "danger";
}

// One confirmed change: ask, send, report, reload the list.
async function change(button, { title, message, confirm, danger = false, send, done, form = null }) {
  if (!(await confirmDialog({ title, message, confirm, danger }))) return;
  try {
    const result = await busy(button, "Saving…", send);
    if (form) showFieldErrors(form, null);
    notify(done, "ok");
    if (result && result.id) users.set(result.id, result);
    await load();
  } catch (err) {
    if (form) showFieldErrors(form, err);
    showError(err, title);
  }
}

$("#users").addEventListener("click", (e) => {
  const button = e.target.closest("[data-edit]");
  if (button && users.has(button.dataset.edit)) select(users.get(button.dataset.edit));
});
$("#edit-close").addEventListener("click", () => { selected = null; $("#edit-card").classList.add("hidden"); });

$("#edit-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.target;
  const user = selected;
  const changes = {};
  for (const name of ["role", "full_name", "badge_number"]) {
    const value = form[name].value.trim();
    if (value !== (user[name] || "")) changes[name] = value;
  }
  if (!Object.keys(changes).length) { notify("Nothing to change.", "info"); return; }
  const lines = Object.entries(changes).map(([k, v]) => `${k.replace("_", " ")}: ${k === "role" ? ROLE_NAMES[v] : v || "(none)"}`);
  change($("#edit-save"), {
    title: `Change ${user.username}`,
    message: lines.join("; "),
    confirm: "Save changes",
    form,
    send: () => patch(`users/${encodeURIComponent(user.id)}`, changes),
    done: `${user.username} changed.`,
  });
});

$("#password-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = e.target;
  const user = selected;
  const password = form.password.value;
  if (!password) { showFieldErrors(form, { fields: { password: ["Type the new password."] } }); return; }
  change($("#set-password"), {
    title: `New password for ${user.username}`,
    message: "They are signed out everywhere and sign in with the new password.",
    confirm: "Set password",
    form,
    send: () => patch(`users/${encodeURIComponent(user.id)}`, { password }),
    done: `${user.username} has a new password.`,
  });
});

$("#toggle-active").addEventListener("click", (e) => {
  const user = selected;
  const deactivate = user.is_active !== false;
  change(e.currentTarget, {
    title: `${deactivate ? "Deactivate" : "Reactivate"} ${user.username}`,
    message: deactivate
      ? "They are signed out everywhere at once and can no longer sign in."
      : "They can sign in again with their password.",
    confirm: deactivate ? "Deactivate" : "Reactivate",
    danger: deactivate,
    send: () => patch(`users/${encodeURIComponent(user.id)}`, { is_active: !deactivate }),
    done: `${user.username} ${deactivate ? "deactivated" : "reactivated"}.`,
  });
});

$("#reset-mfa").addEventListener("click", (e) => {
  const user = selected;
  change(e.currentTarget, {
    title: `Reset ${user.username}'s second factor`,
    message: "For a lost phone: they sign in with their password alone and set up a new authenticator.",
    confirm: "Reset second factor",
    danger: true,
    send: () => del(`users/${encodeURIComponent(user.id)}/mfa`),
    done: `${user.username}'s second factor was reset.`,
  });
});

$("#role-filter").addEventListener("change", load);
$("#user-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = Object.fromEntries(["username", "role", "full_name", "badge_number", "password"].map((n) => [n, form[n].value.trim()]));
  body.password = form.password.value;
  try {
    const user = await busy(form.querySelector("button[type=submit]"), "Creating…", () => post("users", body));
    showFieldErrors(form, null);
    form.reset();
    notify(`${ROLE_NAMES[user.role] || user.role} ${user.username} created.`, "ok");
    load();
  } catch (err) {
    showFieldErrors(form, err);
    showError(err, "New user");
  }
});
load();
