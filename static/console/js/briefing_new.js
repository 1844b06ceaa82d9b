// Composing a briefing: suspects, vehicles, photos, the audience and its size before sending.
import { ApiError, getAll, post } from "./api.js";
import { audienceText } from "./briefing_view.js";
import { Live } from "./live.js";
import { drawMap } from "./mapdraw.js";
import { $, $all, busy, confirmDialog, directoryOf, html, notify, notifyNext, officerName, readJson, setHtml, showError, showFieldErrors } from "./ui.js";

const officerList = readJson("officers-data", []);
const officers = directoryOf(officerList);
const preselected = readJson("incident-id", "");
const form = $("#briefing-form");
const incidents = new Map();
let carried = []; // phones and body-worn cameras with a location
let lastCount = null;
let audienceTouched = false; // data arriving late never overrides what the operator chose
const live = new Live();

// Incidents ------------------------------------------------------------------------------------
async function loadIncidents() {
  try {
    const list = await getAll("incidents?page_size=200", { limit: 200 });
    for (const i of list) incidents.set(i.id, i);
    setHtml(form.incident, html`<option value="">(none)</option>${list.map((i) => html`<option value="${i.id}">${i.title}${i.case_number ? ` · case ${i.case_number}` : ""}</option>`)}`);
    if (preselected && incidents.has(preselected)) {
      form.incident.value = preselected;
      onIncident();
      if (!audienceTouched) form.querySelector('input[name=audience][value="incident"]').checked = true;
    }
  } catch (err) { showError(err, "Incidents"); }
  audienceChanged();
}

function onIncident() {
  const i = incidents.get(form.incident.value);
  if (i && i.location) {
    form.near_lat.value = i.location.lat;
    form.near_lon.value = i.location.lon;
    if (i.radius_m) form.near_radius_m.value = i.radius_m;
  }
}

// Officers' phones and body-worn cameras on the audience map: a "near" audience takes in an
// officer either reports near the point (positions only; the server decides who is reached).
async function loadCarried() {
  try {
    const [phoneList, cameraList] = await Promise.all(["phone", "bodycam"].map((kind) => getAll(`devices?kind=${kind}&page_size=500`)));
    carried = [...phoneList, ...cameraList].filter((d) => d.location && !d.revoked);
  } catch (err) { carried = []; }
  paintMap();
}

function paintMap() {
  const mode = audienceMode();
  const lat = Number(form.near_lat.value); const lon = Number(form.near_lon.value);
  const radius = Number(form.near_radius_m.value) || 0;
  const hasPoint = form.near_lat.value !== "" && form.near_lon.value !== "" && !Number.isNaN(lat) && !Number.isNaN(lon);
  const incident = incidents.get(form.incident.value);
  const scenes = [];
  if (mode === "near" && hasPoint) scenes.push({ id: "near", lat, lon, radius_m: radius, title: "briefing radius" });
  else if (incident && incident.location) scenes.push({ id: incident.id, lat: incident.location.lat, lon: incident.location.lon, radius_m: incident.radius_m, title: incident.title });
  const units = carried.map((d) => ({ id: d.id, kind: d.kind, lat: d.location.lat, lon: d.location.lon, at: d.location.at,
    online: d.online, label: d.officer ? officerName(officers, d.officer) : d.serial }));
  drawMap($("#audience-map"), { units, scenes, focus: scenes[0] || null });
}

// Officers checklist ---------------------------------------------------------------------------
setHtml($("#officer-list"), officerList.length ? officerList.map((o) => html`<label class="inline" data-name="${`${o.full_name} ${o.username} ${o.badge_number}`.toLowerCase()}">
  <input type="checkbox" name="officer" value="${o.id}"> ${officerName(officers, o.id)}</label>`) : html`<p class="empty">No officers exist yet.</p>`);
$("#officer-find").addEventListener("input", (e) => {
  const q = e.target.value.toLowerCase();
  for (const l of $all("#officer-list [data-name]")) l.hidden = q && !l.dataset.name.includes(q);
});

// Suspects and vehicles ------------------------------------------------------------------------
function addEntry(kind) {
  const node = $(`#${kind}-tpl`).content.firstElementChild.cloneNode(true);
  $(`#${kind}s`).append(node);
  node.querySelector("[data-role=remove]").addEventListener("click", () => node.remove());
  node.querySelector("[data-role=photo]").addEventListener("change", (e) => uploadPhoto(node, e.target));
  node.querySelector("input").focus();
}
$("#add-suspect").addEventListener("click", () => addEntry("suspect"));
$("#add-vehicle").addEventListener("click", () => addEntry("vehicle"));

async function uploadPhoto(node, input) {
  const file = input.files[0];
  const state = node.querySelector("[data-role=photo-state]");
  const preview = node.querySelector("[data-role=preview]");
  delete node.dataset.photo;
  preview.replaceChildren();
  if (!file) { state.textContent = ""; return; }
  node.dataset.uploading = "1";
  state.textContent = "Uploading…";
  const data = new FormData();
  data.append("file", file);
  try {
    const media = await post("media", data);
    node.dataset.photo = media.id;
    setHtml(preview, html`<img src="${media.thumbnail_url || media.url}" alt="uploaded photo">`);
    state.textContent = `Photo ready (${media.width}×${media.height}, metadata removed)`;
  } catch (err) {
    input.value = "";
    state.textContent = "";
    showError(err, "Photo refused");
  } finally {
    delete node.dataset.uploading;
  }
}

function entryValues(node) {
  const out = {};
  for (const input of node.querySelectorAll("[data-f]")) {
    const f = input.dataset.f;
    if (input.type === "checkbox") { if (input.checked) out[f] = true; continue; }
    const v = input.value.trim();
    if (!v) continue;
    out[f] = input.type === "number" ? Number(v) : v;
  }
  if (node.dataset.photo) out.photo = node.dataset.photo;
  return out;
}

// Audience -------------------------------------------------------------------------------------
function audienceMode() { return form.querySelector("input[name=audience]:checked").value; }

function audience() {
  const mode = audienceMode();
  if (mode === "incident") return { incident: true };
  if (mode === "officers") return { officers: $all("#officer-list input:checked").map((c) => c.value) };
  const num = (v) => (v.trim() === "" || Number.isNaN(Number(v)) ? v : Number(v));
  return { near: { lat: num(form.near_lat.value), lon: num(form.near_lon.value), radius_m: num(form.near_radius_m.value) } };
}

function briefingBody() {
  const body = {
    priority: form.querySelector("input[name=priority]:checked").value,
    title: form.title.value.trim(),
    suspects: $all("#suspects .entry").map(entryValues),
    vehicles: $all("#vehicles .entry").map(entryValues),
    audience: audience(),
  };
  if (form.incident.value) body.incident = form.incident.value;
  const text = form.body.value.trim();
  if (text) body.body = text;
  return body;
}

function showCount(n, note = "") {
  lastCount = n;
  const el = $("#audience-count");
  el.textContent = n === null ? "–" : `${n} officer${n === 1 ? "" : "s"}`;
  el.classList.toggle("zero", n === 0);
  $("#audience-note").textContent = note;
  $("#send").textContent = n === null ? "Send briefing" : `Send to ${n} officer${n === 1 ? "" : "s"}`;
}

let previewTimer = 0;
let previewSeq = 0;
function audienceChanged() {
  const mode = audienceMode();
  $("#near-fields").classList.toggle("hidden", mode !== "near");
  $("#officer-fields").classList.toggle("hidden", mode !== "officers");
  paintMap();
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, 350);
}

async function preview() {
  const seq = ++previewSeq;
  const body = { audience: audience() };
  if (form.incident.value) body.incident = form.incident.value;
  if (body.audience.incident && !body.incident) { showCount(null, "Choose the incident first."); return; }
  if (body.audience.officers && !body.audience.officers.length) { showCount(0, "Tick the officers to brief."); return; }
  if (body.audience.near && (form.near_lat.value.trim() === "" || form.near_lon.value.trim() === "")) {
    // Nothing typed yet (a fresh page): a hint, not the server's validation error.
    showCount(null, "Choose an incident or enter a latitude and longitude to count the officers near it.");
    return;
  }
  $("#audience-note").textContent = "Counting…";
  try {
    const result = await post("briefings/preview", body);
    if (seq !== previewSeq) return;
    const parts = [];
    if (result.phones !== undefined) parts.push(`${result.phones} phone${result.phones === 1 ? "" : "s"} to push to`);
    if (result.officers_without_phone) parts.push(`${result.officers_without_phone} officer(s) without a registered phone`);
    const phonesNote = parts.join(" · ");
    showCount(result.recipients, phonesNote);
  } catch (err) {
    if (seq !== previewSeq) return;
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) showCount(null, "This server cannot count the audience before sending.");
    else showCount(null, err.message);
  }
}

form.addEventListener("change", (e) => {
  if (e.target.name === "audience") audienceTouched = true;
  if (e.target.name === "incident") onIncident();
  if (["incident", "audience", "officer", "near_lat", "near_lon", "near_radius_m"].includes(e.target.name)) audienceChanged();
});
form.addEventListener("input", (e) => {
  if (["near_lat", "near_lon", "near_radius_m"].includes(e.target.name)) audienceChanged();
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if ($all(".entry[data-uploading]").length) { notify("Wait for the photo upload to finish.", "error"); return; }
  const body = briefingBody();
  if (!body.title) { showFieldErrors(form, { fields: { title: ["A title is required."] } }); form.title.focus(); return; }
  if (lastCount === 0) {
    const ok = await confirmDialog({ title: "Nobody would receive this", message: "The audience is empty right now. Send anyway?", confirm: "Send anyway" });
    if (!ok) return;
  }
  try {
    const briefing = await busy($("#send"), "Sending…", () => post("briefings", body));
    notifyNext(`Briefing sent to ${audienceText(briefing)}.`, "ok");
    location.assign(`/briefings/${encodeURIComponent(briefing.id)}/`);
  } catch (err) {
    showFieldErrors(form, err); // a suspect's or vehicle's field ("vehicles.0.year") under its entry's input
    showError(err, "Briefing not sent");
  }
});

live.on("device.status", (e) => {
  const d = e.device;
  if (!d || (d.kind !== "phone" && d.kind !== "bodycam")) return;
  carried = carried.filter((p) => p.id !== d.id);
  if (d.location && !d.revoked) carried.push(d);
  paintMap();
});
live.start();
showCount(null);
loadIncidents();
loadCarried();
