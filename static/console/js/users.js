// Users and roles (IT): list by role, create.
import { getAll, post, query } from "./api.js";
import { $, busy, html, notify, setHtml, showError, showFieldErrors } from "./ui.js";

const ROLE_NAMES = { officer: "Officer", operator: "Operator", clerk: "Records clerk", it: "IT administrator" };

async function load() {
  const role = $("#role-filter").value;
  try {
    const list = await getAll(`users${query({ role, page_size: 500 })}`);
    setHtml($("#users tbody"), list.length ? list.map((u) => html`<tr data-user="${u.id}"><td class="mono">${u.username}</td><td>${u.full_name}</td>
      <td>${ROLE_NAMES[u.role] || u.role}</td><td>${u.badge_number || ""}</td><td>${u.is_active === false ? "no" : "yes"}</td></tr>`)
      : html`<tr><td colspan="5" class="empty">No users.</td></tr>`);
    $("#count").textContent = `${list.length} user${list.length === 1 ? "" : "s"}`;
  } catch (err) { showError(err, "Users"); }
}

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
