// Incidents: create a scene, assign officers to it, and jump to composing a briefing for it.
import { ApiError, get, getAll, post } from "./api.js";
import { audienceText } from "./briefing_view.js";
import { Live } from "./live.js";
import { $, agoSpan, busy, directoryOf, fmtDateTime, html, notify, officerName, readJson, safe, setHtml, showError, showFieldErrors, startAgoTicker } from "./ui.js";

const officerList = readJson("officers-data", []);
const officers = directoryOf(officerList);
const incidents = new Map();
const live = new Live();

function incidentHtml(i) {
  const names = (i.officers || []).map((id) => officerName(officers, id));
  return html`<div class="list-item" data-incident="${i.id}">
    <div class="row"><strong style="font-size:1.1rem">${i.title}</strong>${i.case_number ? html`<span class="muted">case ${i.case_number}</span>` : ""}
      <span class="spacer"></span>
      <button type="button" class="secondary small" data-assign>Assign officers</button>
      <a class="button small" href="/briefings/new/?incident=${encodeURIComponent(i.id)}">Brief this scene</a></div>
    <div class="muted">${i.location ? `${Number(i.location.lat).toFixed(5)}, ${Number(i.location.lon).toFixed(5)}` : ""}${i.radius_m ? ` · radius ${i.radius_m} m` : ""} · opened ${agoSpan(i.created_at)}</div>
    <div>${names.length ? `Officers (${names.length}): ${names.join(", ")}` : html`<span class="muted">No officers assigned.</span>`}</div>
  </div>`;
}

function paint() {
  const list = [...incidents.values()].sort((a, b) => new Date(b.created_at) - new Date(a.created_at));
  setHtml($("#incidents"), list.length ? list.map(incidentHtml) : html`<p class="empty">No incidents yet: create one on the right.</p>`);
}

async function load() {
  try {
    const list = await getAll("incidents?page_size=200", { limit: 200 });
    incidents.clear();
    for (const i of list) incidents.set(i.id, i);
    paint();
  } catch (err) { showError(err, "Incidents"); }
  loadBriefings();
}

const DELIVERY_STATES = ["queued", "sent", "acknowledged", "failed", "unregistered"];
async function loadBriefings() {
  const box = $("#briefings");
  try {
    const data = await get("briefings?page_size=20");
    const list = Array.isArray(data) ? data : data.results || [];
    setHtml(box, list.length ? list.map((b) => html`<a class="list-item" style="display:block;text-decoration:none;color:inherit" href="/briefings/${encodeURIComponent(b.id)}/">
        <div class="row"><span class="state ${b.priority}">${b.priority}</span><strong>${b.title}</strong><span class="spacer"></span><span class="muted">${fmtDateTime(b.created_at)}</span></div>
        <div class="muted">${b.recipients === undefined ? "? officers" : audienceText(b)}${b.deliveries ? ` · ${DELIVERY_STATES.filter((s) => b.deliveries[s]).map((s) => `${b.deliveries[s]} ${s}`).join(" · ")}` : ""}</div></a>`)
      : html`<p class="empty">No briefings sent yet.</p>`);
  } catch (err) {
    setHtml(box, err instanceof ApiError && (err.status === 404 || err.status === 405)
      ? html`<p class="empty">The briefing list is not available on this server.</p>`
      : html`<p class="empty">Could not load briefings: ${err.message}</p>`);
  }
}

function assignDialog(incident) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    const current = new Set(incident.officers || []);
    setHtml(dialog, html`<form method="dialog">
      <h2>Officers at “${incident.title}”</h2>
      <input type="search" placeholder="Find an officer" data-role="find">
      <div class="checklist">${officerList.length ? officerList.map((o) => html`<label class="inline" data-name="${`${o.full_name} ${o.username} ${o.badge_number}`.toLowerCase()}">
        <input type="checkbox" value="${o.id}" ${current.has(o.id) ? safe("checked disabled") : ""}> ${officerName(officers, o.id)}${current.has(o.id) ? html` <span class="muted">(assigned)</span>` : ""}</label>`) : html`<p class="empty">No officers exist yet.</p>`}</div>
      <div class="row end"><button type="button" class="secondary" data-role="cancel">Cancel</button><button type="submit">Assign selected</button></div></form>`);
    document.body.append(dialog);
    const close = (v) => { dialog.close(); dialog.remove(); resolve(v); };
    dialog.querySelector("[data-role=find]").addEventListener("input", (e) => {
      const q = e.target.value.toLowerCase();
      for (const l of dialog.querySelectorAll("[data-name]")) l.hidden = q && !l.dataset.name.includes(q);
    });
    dialog.querySelector("[data-role=cancel]").addEventListener("click", () => close(null));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(null); });
    dialog.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      close([...dialog.querySelectorAll("input[type=checkbox]:checked:not(:disabled)")].map((c) => c.value));
    });
    dialog.showModal();
  });
}

$("#incidents").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-assign]");
  if (!b) return;
  const incident = incidents.get(b.closest("[data-incident]").dataset.incident);
  const chosen = await assignDialog(incident);
  if (!chosen || !chosen.length) return;
  try {
    const updated = await busy(b, "Assigning…", () => post(`incidents/${incident.id}/officers`, { officers: chosen }));
    incidents.set(updated.id, updated);
    paint();
    notify(`${chosen.length} officer(s) assigned to ${incident.title}.`, "ok");
  } catch (err) { showError(err, "Assign"); }
});

$("#incident-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = {
    title: form.title.value.trim(),
    location: { lat: Number(form.lat.value), lon: Number(form.lon.value) },
    case_number: form.case_number.value.trim(),
  };
  if (form.radius_m.value) body.radius_m = Number(form.radius_m.value);
  if (form.lat.value.trim() === "" || Number.isNaN(body.location.lat)) body.location.lat = form.lat.value;
  if (form.lon.value.trim() === "" || Number.isNaN(body.location.lon)) body.location.lon = form.lon.value;
  try {
    const incident = await busy(form.querySelector("button[type=submit]"), "Creating…", () => post("incidents", body));
    showFieldErrors(form, null);
    incidents.set(incident.id, incident);
    paint();
    form.reset();
    notify(`Incident “${incident.title}” created.`, "ok");
  } catch (err) {
    if (err.fields) {
      // The API names nested fields "location.lat"; our inputs are "lat".
      const fields = {};
      for (const [k, v] of Object.entries(err.fields)) fields[k.replace(/^location\./, "")] = v;
      showFieldErrors(form, { fields });
    }
    showError(err, "New incident");
  }
});

live.on("delivery.update", () => { clearTimeout(window.__briefTimer); window.__briefTimer = setTimeout(loadBriefings, 1500); });
live.onOpen(({ reconnect }) => { if (reconnect) load(); });
live.start();
startAgoTicker();
load();
setInterval(load, 30000);
