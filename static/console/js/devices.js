// Device administration (IT): register, enrollment codes with a QR code, assign, unassign, revoke.
import { api, getAll, post } from "./api.js";
import { Live } from "./live.js";
import { $, agoSpan, askText, busy, confirmDialog, directoryOf, fmtDateTime, html, notify, officerName, readJson, safe, setHtml, showError, showFieldErrors, startAgoTicker } from "./ui.js";

const officerList = readJson("officers-data", []);
const officers = directoryOf(officerList);
const devices = new Map();
const live = new Live();

function stateCell(d) {
  if (d.revoked) return html`<span class="badge revoked">REVOKED</span>`;
  if (d.enrolled === false) return html`<span class="state queued">not enrolled</span>`;
  return html`<span class="dot${d.online ? " on" : ""}"></span> ${d.online ? "online" : "offline"}`;
}

function row(d) {
  const off = d.revoked ? safe("disabled") : "";
  return html`<tr data-device="${d.id}" data-serial="${d.serial}" class="${d.revoked ? "revoked" : ""}">
    <td class="nowrap">${stateCell(d)}</td>
    <td><strong>${d.label || d.serial}</strong><br><span class="muted">${d.kind} · <span class="mono">${d.serial}</span>${d.model ? ` · ${d.model}` : ""}</span></td>
    <td>${d.officer ? officerName(officers, d.officer) : html`<span class="muted">unassigned</span>`}</td>
    <td class="nowrap">${d.enrolled_at ? fmtDateTime(d.enrolled_at) : html`<span class="muted">–</span>`}</td>
    <td class="nowrap">${agoSpan(d.last_seen)}</td>
    <td><div class="row">
      <button type="button" class="secondary small" data-act="assign" ${off}>${d.officer ? "Reassign" : "Assign"}</button>
      ${d.officer ? html`<button type="button" class="secondary small" data-act="unassign" ${off}>Unassign</button>` : ""}
      <button type="button" class="secondary small" data-act="enroll" ${off}>${d.enrolled === false ? "New code" : "Re-enroll"}</button>
      <button type="button" class="danger small" data-act="revoke" ${off}>Revoke</button>
    </div></td></tr>`;
}

function paint() {
  const q = $("#find").value.trim().toLowerCase();
  const kind = $("#kind").value;
  const list = [...devices.values()].filter((d) => (!kind || d.kind === kind)
    && (!q || `${d.serial} ${d.label} ${d.officer ? officerName(officers, d.officer) : ""}`.toLowerCase().includes(q)))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.serial.localeCompare(b.serial));
  setHtml($("#devices tbody"), list.length ? list.map(row) : html`<tr><td colspan="6" class="empty">No devices match.</td></tr>`);
  $("#count").textContent = `${list.length} of ${devices.size}`;
}

async function load() {
  try {
    const list = await getAll("devices?page_size=500");
    devices.clear();
    for (const d of list) devices.set(d.id, d);
    paint();
  } catch (err) { showError(err, "Devices"); }
}

async function showEnrollment(device, code, expiresAt) {
  $("#enroll-card").classList.remove("hidden");
  $("#enroll-device").textContent = device.label || device.serial;
  $("#enroll-serial").textContent = device.serial;
  $("#enroll-code").textContent = code;
  $("#enroll-expiry").textContent = expiresAt ? `Valid once, until ${fmtDateTime(expiresAt)}.` : "";
  $("#enroll-qr").replaceChildren();
  const payload = JSON.stringify({ rtcc: location.origin, serial: device.serial, code });
  try {
    const data = new FormData();
    data.append("data", payload);
    const response = await api("POST", "/console/qr", data, { raw: true, headers: { Accept: "image/svg+xml" } });
    if (!response.ok) throw new Error(`QR code: ${response.status}`);
    const svg = new DOMParser().parseFromString(await response.text(), "image/svg+xml").documentElement;
    svg.removeAttribute("width"); svg.removeAttribute("height");
    $("#enroll-qr").append(document.importNode(svg, true));
  } catch (err) { showError(err, "QR code"); }
  $("#enroll-card").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

$("#enroll-hide").addEventListener("click", () => {
  $("#enroll-card").classList.add("hidden");
  $("#enroll-code").textContent = "";
  $("#enroll-qr").replaceChildren();
});

// A plate reader's place: asked for only when registering one (any kind may give one in the API).
// Hidden, its inputs are disabled too: a value left in them must not stop a camera's form.
// Named as the API names them (location.lat), so that its field errors appear under them.
function showLocationFields() {
  const form = $("#register-form");
  const alpr = form.kind.value === "alpr";
  for (const el of form.querySelectorAll("[data-alpr]")) el.classList.toggle("hidden", !alpr);
  for (const input of form.querySelectorAll("[data-alpr] input")) input.disabled = !alpr;
}
$("#register-form").kind.addEventListener("change", showLocationFields);

$("#register-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = { kind: form.kind.value, serial: form.serial.value.trim(), model: form.model.value.trim(), label: form.label.value.trim() };
  const lat = form.elements["location.lat"], lon = form.elements["location.lon"];
  if (body.kind === "alpr" && (lat.value !== "" || lon.value !== "")) {
    // Both or neither: a half-given place goes to the API as typed, which says what is missing.
    body.location = { lat: lat.value === "" ? null : Number(lat.value), lon: lon.value === "" ? null : Number(lon.value) };
  }
  try {
    const device = await busy(form.querySelector("button[type=submit]"), "Registering…", () => post("devices", body));
    showFieldErrors(form, null);
    devices.set(device.id, device);
    paint();
    form.serial.value = ""; form.label.value = ""; lat.value = ""; lon.value = "";
    notify(`${device.kind} ${device.serial} registered.`, "ok");
    showEnrollment(device, device.enrollment_code, device.enrollment_expires_at);
  } catch (err) {
    showFieldErrors(form, err);
    showError(err, "Register");
  }
});

function pickOfficer(device) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    setHtml(dialog, html`<form method="dialog"><h2>Assign ${device.label || device.serial}</h2>
      <label>Officer <select name="officer" required><option value="">choose…</option>${officerList.map((o) => html`<option value="${o.id}" ${o.id === device.officer ? safe("selected") : ""}>${officerName(officers, o.id)}</option>`)}</select></label>
      ${device.officer ? html`<p class="muted">Currently with ${officerName(officers, device.officer)}; the assignment history is kept.</p>` : ""}
      <div class="row end"><button type="button" class="secondary" data-role="cancel">Cancel</button><button type="submit">Assign</button></div></form>`);
    document.body.append(dialog);
    const close = (v) => { dialog.close(); dialog.remove(); resolve(v); };
    dialog.querySelector("[data-role=cancel]").addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(null); });
    dialog.querySelector("form").addEventListener("submit", (e) => { e.preventDefault(); const v = dialog.querySelector("select").value; if (v) close(v); });
    dialog.showModal();
  });
}

$("#devices").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-act]");
  if (!b) return;
  const d = devices.get(b.closest("tr").dataset.device);
  const name = d.label || d.serial;
  try {
    if (b.dataset.act === "assign") {
      const officer = await pickOfficer(d);
      if (!officer) return;
      await busy(b, "…", () => post(`devices/${d.id}/assign`, { officer }));
      notify(`${name} assigned to ${officerName(officers, officer)}.`, "ok");
    } else if (b.dataset.act === "unassign") {
      await busy(b, "…", () => post(`devices/${d.id}/unassign`, {}));
      notify(`${name} unassigned.`, "ok");
    } else if (b.dataset.act === "enroll") {
      const sure = await confirmDialog({ title: `New enrollment code for ${name}`, message: "Enrolling with the new code replaces the device's current credentials.", confirm: "Issue code" });
      if (!sure) return;
      const r = await busy(b, "…", () => post(`devices/${d.id}/enrollment`, {}));
      showEnrollment(d, r.enrollment_code, r.enrollment_expires_at);
    } else if (b.dataset.act === "revoke") {
      const typed = await askText({ title: `Revoke ${name}?`, message: html`Its credentials stop working at once and its connection is closed. Type the serial <strong class="mono">${d.serial}</strong> to confirm.`, label: "Serial", confirm: "Revoke now", danger: true, missing: `Type the serial ${d.serial} to confirm.` });
      if (typed === null) return;
      if (typed !== d.serial) { notify("The serial did not match; nothing was revoked.", "error"); return; }
      await busy(b, "…", () => post(`devices/${d.id}/revoke`, {}));
      notify(`${name} revoked.`, "ok");
    }
    await load();
  } catch (err) { showError(err, name); }
});

$("#find").addEventListener("input", paint);
$("#kind").addEventListener("change", paint);
live.on("device.status", (e) => {
  if (!e.device || !e.device.id) return;
  devices.set(e.device.id, { ...(devices.get(e.device.id) || {}), ...e.device });
  paint();
});
live.onOpen(({ reconnect }) => { if (reconnect) load(); });
live.start();
startAgoTicker();
load();
