// The delivery board of one briefing: who got it, who read it, live.
import { get, getAll } from "./api.js";
import { Live } from "./live.js";
import { $, directoryOf, fmtDateTime, fmtTime, html, officerName, readJson, setHtml, showError } from "./ui.js";
import { briefingHtml } from "./briefing_view.js";

const officers = directoryOf(readJson("officers-data", []));
const briefingId = readJson("briefing-id", "");
const deliveries = new Map(); // key -> delivery
const phones = new Map(); // device id -> label
const ORDER = { failed: 0, unregistered: 1, queued: 2, sent: 3, acknowledged: 4 };
const live = new Live();
let briefing = null;

const keyOf = (d) => d.id || `${d.officer}/${d.device}`;

// Plain words for the states and FCM's error codes; the code stays in the cell's tooltip.
const STATE_WORDS = {
  queued: "waiting", sent: "delivered to phone", acknowledged: "read", unregistered: "app gone", failed: "not delivered",
};
const PROBLEMS = {
  no_phone: "No phone is assigned to this officer.",
  no_push_token: "The phone has not registered for notifications (open the app once).",
  UNREGISTERED: "The app was removed from the phone; its registration was retired.",
  INVALID_ARGUMENT: "The phone's registration is not valid; it was retired.",
  SENDER_ID_MISMATCH: "The phone's app belongs to another push project.",
  UNAVAILABLE: "The push service did not answer; retries were used up.",
  QUOTA_EXCEEDED: "The push service's quota was exceeded; retries were used up.",
  INTERNAL: "The push service failed; retries were used up.",
};
const problemText = (code) => PROBLEMS[code] || `Not delivered (${code}).`;

// Per officer: reached when at least one of their phones got it, read when one acknowledged,
// not reached when every one of their rows ended without a delivery.
function officerTotals(list) {
  const byOfficer = new Map();
  for (const d of list) {
    if (!byOfficer.has(d.officer)) byOfficer.set(d.officer, []);
    byOfficer.get(d.officer).push(d.state);
  }
  let reached = 0, read = 0, unreached = 0;
  for (const states of byOfficer.values()) {
    if (states.includes("acknowledged")) read += 1;
    if (states.some((s) => s === "sent" || s === "acknowledged")) reached += 1;
    else if (states.every((s) => s === "failed" || s === "unregistered")) unreached += 1;
  }
  const pending = list.filter((d) => d.state === "queued").length;
  return { reached, read, unreached, pending };
}

function paint() {
  const list = [...deliveries.values()].sort((a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9)
    || officerName(officers, a.officer).localeCompare(officerName(officers, b.officer)));
  setHtml($("#deliveries tbody"), list.length ? list.map((d) => html`<tr data-officer="${d.officer}" data-state="${d.state}">
      <td><strong>${officerName(officers, d.officer)}</strong></td>
      <td class="mono">${phones.get(d.device) || (d.device ? String(d.device).slice(0, 8) : "–")}</td>
      <td><span class="state ${d.state}" title="${d.state}">${STATE_WORDS[d.state] || d.state}</span></td>
      <td class="num" title="${fmtDateTime(d.sent_at)}">${fmtTime(d.sent_at) || "–"}</td>
      <td class="num" title="${fmtDateTime(d.acknowledged_at)}">${fmtTime(d.acknowledged_at) || "–"}</td>
      <td>${d.error && d.state !== "sent" && d.state !== "acknowledged" ? html`<span class="field-error" title="${d.error}">${problemText(d.error)}</span>` : ""}</td></tr>`)
    : html`<tr><td colspan="6" class="empty">${briefing && briefing.recipients === 0 ? "This briefing reached no officer." : "No deliveries yet."}</td></tr>`);
  const totals = officerTotals(list);
  for (const [key, value] of Object.entries(totals)) $(`#n-${key}`).textContent = value;
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
