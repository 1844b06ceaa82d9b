// Users and roles (IT): list by role, create.
import { getAll, post, query } from "./api.js";
import { $, busy, esc, notify, showError, showFieldErrors } from "./ui.js";

const ROLE_NAMES = { officer: "Officer", operator: "Operator", clerk: "Records clerk", it: "IT administrator" };

async function load() {
  const role = $("#role-filter").value;
  try {
    const list = await getAll(`users${query({ role, page_size: 500 })}`);
    $("#users tbody").innerHTML = list.length ? list.map((u) => `<tr data-user="${esc(u.id)}"><td class="mono">${esc(u.username)}</td><td>${esc(u.full_name)}</td>
      <td>${esc(ROLE_NAMES[u.role] || u.role)}</td><td>${esc(u.badge_number || "")}</td><td>${u.is_active === false ? "no" : "yes"}</td></tr>`).join("")
      : '<tr><td colspan="5" class="empty">No users.</td></tr>';
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
