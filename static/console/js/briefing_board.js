// The delivery board of one briefing: who got it, who read it, live.
import { get, getAll } from "./api.js";
import { Live } from "./live.js";
import { $, directoryOf, fmtDateTime, fmtTime, html, officerName, readJson, setHtml, showError } from "./ui.js";
import { briefingHtml } from "./briefing_view.js";

const officers = directoryOf(readJson("officers-data", []));
const briefingId = readJson("briefing-id", "");
const deliveries = new Map(); // key -> delivery
const phones = new Map(); // device id -> label
const STATES = ["queued", "sent", "acknowledged", "unregistered", "failed"];
const ORDER = { failed: 0, unregistered: 1, queued: 2, sent: 3, acknowledged: 4 };
const live = new Live();
let briefing = null;

const keyOf = (d) => d.id || `${d.officer}/${d.device}`;

function paint() {
  const list = [...deliveries.values()].sort((a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9)
    || officerName(officers, a.officer).localeCompare(officerName(officers, b.officer)));
  setHtml($("#deliveries tbody"), list.length ? list.map((d) => html`<tr data-officer="${d.officer}" data-state="${d.state}">
      <td><strong>${officerName(officers, d.officer)}</strong></td>
      <td class="mono">${phones.get(d.device) || (d.device ? String(d.device).slice(0, 8) : "–")}</td>
      <td><span class="state ${d.state}">${d.state}</span></td>
      <td class="num" title="${fmtDateTime(d.sent_at)}">${fmtTime(d.sent_at) || "–"}</td>
      <td class="num" title="${fmtDateTime(d.acknowledged_at)}">${fmtTime(d.acknowledged_at) || "–"}</td>
      <td>${d.error ? html`<span class="field-error">${d.error}</span>` : ""}</td></tr>`)
    : html`<tr><td colspan="6" class="empty">${briefing && briefing.recipients === 0 ? "This briefing reached no officer." : "No deliveries yet."}</td></tr>`);
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const d of list) counts[d.state] = (counts[d.state] || 0) + 1;
  for (const s of STATES) $(`#n-${s}`).textContent = counts[s];
}

async function load() {
  try {
    briefing = await get(`briefings/${briefingId}`);
    $("#b-title").textContent = briefing.title;
    setHtml($("#b-priority"), html`<span class="state ${briefing.priority}">${briefing.priority}</span> <span class="muted">sent ${fmtDateTime(briefing.created_at)}</span>`);
    $("#n-recipients").textContent = briefing.recipients ?? "–";
    setHtml($("#b-content"), html`<h2>What officers see</h2>${briefingHtml(briefing)}`);
  } catch (err) {
    showError(err, "Briefing");
    setHtml($("#b-content"), html`<p class="empty">${err.message}</p>`);
  }
  if (!phones.size) {
    try {
      for (const p of await getAll("devices?kind=phone&page_size=500")) phones.set(p.id, p.label || p.serial);
    } catch (err) { /* ids are shown instead */ }
  }
  try {
    const list = await getAll(`briefings/${briefingId}/deliveries?page_size=500`);
    deliveries.clear();
    for (const d of list) deliveries.set(keyOf(d), d);
    paint();
  } catch (err) { showError(err, "Deliveries"); }
}

live.on("delivery.update", (e) => {
  const d = e.delivery;
  if (!d) return;
  const mine = d.briefing ? String(d.briefing) === briefingId : deliveries.has(keyOf(d));
  if (!mine) return;
  deliveries.set(keyOf(d), { ...(deliveries.get(keyOf(d)) || {}), ...d });
  paint();
});
live.onOpen(({ reconnect }) => { if (reconnect) load(); });
live.start();
load();
// A safety net for a missed event: refresh now and then, more often while the socket is down.
setInterval(() => { if (!live.isOpen) load(); }, 4000);
setInterval(() => { if (live.isOpen) load(); }, 30000);
