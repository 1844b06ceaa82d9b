// The map page: officers' devices and incident scenes, live.
import { getAll } from "./api.js";
import { Live } from "./live.js";
import { drawMap, STALE_MS } from "./mapdraw.js";
import { $, agoSpan, directoryOf, html, officerName, readJson, setHtml, showError, startAgoTicker } from "./ui.js";

const officers = directoryOf(readJson("officers-data", []));
const scenes = readJson("incidents-data", []).filter((s) => s.lat !== null && s.lon !== null);
const devices = new Map();
const svg = $("#map");
const live = new Live();
let focus = null;

function units() {
  return [...devices.values()].filter((d) => d.location && !d.revoked).map((d) => ({
    id: d.id, kind: d.kind, lat: d.location.lat, lon: d.location.lon, at: d.location.at,
    online: d.online, recording: d.recording,
    label: d.officer ? officerName(officers, d.officer) : (d.label || d.serial),
  }));
}

let frame = 0;
function redraw() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    drawMap(svg, { units: units(), scenes: scenes.map((s) => ({ ...s, active: focus && focus.id === s.id })), focus });
    paintLists();
  });
}

function paintLists() {
  const sc = $("#scenes");
  setHtml(sc, scenes.length ? scenes.map((s) => html`<div class="list-item${focus && focus.id === s.id ? " active" : ""}">
      <div class="row"><strong>${s.title}</strong><span class="spacer"></span><button type="button" class="secondary small" data-focus="${s.id}">Zoom</button></div>
      <div class="muted">${s.case_number ? `case ${s.case_number} · ` : ""}${s.radius_m ? `radius ${s.radius_m} m · ` : ""}${s.lat.toFixed(5)}, ${s.lon.toFixed(5)}</div></div>`)
    : html`<p class="empty">No incidents yet.</p>`);
  const list = units().sort((a, b) => a.label.localeCompare(b.label));
  setHtml($("#units"), list.length ? list.map((u) => {
    const stale = u.at && Date.now() - new Date(u.at).getTime() > STALE_MS;
    return html`<div class="list-item"><strong>${u.label}</strong> <span class="muted">${u.kind}</span>
      ${u.recording ? html`<span class="badge rec">● REC</span>` : ""}${u.online ? "" : html` <span class="muted">offline</span>`}
      <div class="muted">position ${agoSpan(u.at)}${stale ? " (stale)" : ""}</div></div>`;
  }) : html`<p class="empty">No device has reported a position yet.</p>`);
}

$("#scenes").addEventListener("click", (e) => {
  const b = e.target.closest("[data-focus]");
  if (!b) return;
  focus = scenes.find((s) => s.id === b.dataset.focus) || null;
  redraw();
});
$("#fit-all").addEventListener("click", () => { focus = null; redraw(); });

async function load() {
  try {
    const list = await getAll("devices?page_size=500");
    devices.clear();
    for (const d of list) devices.set(d.id, d);
    redraw();
  } catch (err) { showError(err, "Devices"); }
}

live.on("device.status", (e) => {
  if (!e.device || !e.device.id) return;
  devices.set(e.device.id, { ...(devices.get(e.device.id) || {}), ...e.device });
  redraw();
});
live.onOpen(({ reconnect }) => { if (reconnect) load(); });
live.start();
startAgoTicker();
redraw();
load();
