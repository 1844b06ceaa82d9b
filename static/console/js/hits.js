// The hit queue: a new hit's read image beside its hotlist entry, large enough to compare the
// characters; confirm / reject / brief with buttons or keys. Nothing reaches officers unconfirmed.
import { get, getAll, post } from "./api.js";
import { audienceText } from "./briefing_view.js";
import { Live } from "./live.js";
import { $, agoSpan, busy, confirmDialog, fmtDateTime, html, notify, safe, setHtml, showError, startAgoTicker } from "./ui.js";

const hits = new Map();
const live = new Live();
let selected = null;
// Where the selected hit stood in the queue: once reviewed it leaves the queue, and J then goes
// on to the hit that followed it (not back to the top), K to the one before.
let place = 0;
let filter = "new";

const REJECT_REASONS = [["misread", "Misread (the image shows another plate)"], ["not_current", "Entry not current"], ["duplicate", "Duplicate of another hit"], ["other", "Other"]];
const REJECT_LABELS = new Map(REJECT_REASONS);

function ordered() {
  return [...hits.values()].filter((h) => h.state === filter)
    .sort((a, b) => (b.hotlist.priority - a.hotlist.priority) || (new Date(b.created_at) - new Date(a.created_at)));
}

function itemHtml(h) {
  return html`<button type="button" class="list-item${selected === h.id ? " active" : ""}" data-hit="${h.id}" style="display:block;width:100%;text-align:left">
    <div class="row"><strong class="plate" style="font-family:monospace;font-size:1.2rem">${h.read.plate_normalized}</strong>
      <span class="state ${h.match === "exact" ? "ok" : "warn"}">${h.match}</span>${h.historical ? html`<span class="muted">historical</span>` : ""}
      <span class="spacer"></span><span class="muted">${agoSpan(h.created_at)}</span></div>
    <div class="muted">${h.hotlist.name} (priority ${h.hotlist.priority}) · ${h.entry.reason}</div></button>`;
}

function detailHtml(h) {
  const r = h.read; const e = h.entry;
  const place = r.location ? `${Number(r.location.lat).toFixed(5)}, ${Number(r.location.lon).toFixed(5)}` : "no position";
  return html`<div class="stack" data-detail="${h.id}">
    <div class="row"><h2 style="margin:0">Hit <span class="state ${h.state}" data-role="state">${h.state}</span></h2><span class="spacer"></span>
      ${h.match !== "exact" ? html`<strong class="state warn">${h.match === "similar" ? "look-alike characters: check each one" : "matched a candidate reading"}</strong>` : ""}</div>
    <figure style="margin:0">
      ${r.image_url ? html`<img src="${r.image_url}" alt="Read image of ${r.plate_normalized}" style="width:100%;max-height:420px;object-fit:contain;background:#000" data-role="image">`
        : html`<p class="empty">The reader sent no image: confirm only with another check.</p>`}
    </figure>
    <div class="grid-2">
      <div>
        <div>Read <strong style="font-family:monospace;font-size:2rem" data-role="read-plate">${r.plate_normalized}</strong> ${r.plate_state || ""}
          ${r.confidence !== null ? html`<span class="muted">(confidence ${Math.round(r.confidence * 100)}%)</span>` : ""}</div>
      </div>
      <div>
        <div>Hotlist entry <strong style="font-family:monospace;font-size:2rem" data-role="entry-plate">${e.plate_normalized}</strong> ${e.plate_state || ""}</div>
        <dl>
          <dt>List</dt><dd>${h.hotlist.name} (${h.hotlist.source}, priority ${h.hotlist.priority})</dd>
          <dt>Reason</dt><dd>${e.reason}</dd>
          ${e.case_number ? html`<dt>Case</dt><dd>${e.case_number}</dd>` : ""}
          ${e.expires_at ? html`<dt>Expires</dt><dd>${fmtDateTime(e.expires_at)}</dd>` : ""}
          ${e.note ? html`<dt>Note</dt><dd>${e.note}</dd>` : ""}
          <dt>Seen</dt><dd>${fmtDateTime(r.read_at)} at ${place}</dd>
          ${r.vehicle && Object.keys(r.vehicle).length ? html`<dt>Vehicle</dt><dd>${Object.values(r.vehicle).join(" ")}</dd>` : ""}
        </dl>
      </div>
    </div>
    ${h.state === "new" ? html`<div class="row end">
        <select data-role="reason" aria-label="Reject reason">${REJECT_REASONS.map(([v, label]) => html`<option value="${v}" ${v === (h._reason || "misread") ? safe("selected") : ""}>${label}</option>`)}</select>
        <button type="button" class="danger" data-act="reject">Reject (R)</button>
        <button type="button" data-act="confirm">Confirm (C)</button></div>` : ""}
    ${h.state === "confirmed" && h.briefing ? html`<div class="row end">
        <a href="/briefings/${encodeURIComponent(h.briefing)}/" data-role="briefing-link">Briefing sent</a></div>` : ""}
    ${h.state === "confirmed" && !h.briefing ? html`<div class="row end">
        <select data-role="priority" aria-label="Priority"><option value="urgent">urgent</option><option value="emergency">emergency</option><option value="routine">routine</option></select>
        <button type="button" data-act="brief">Brief officers near the read (B)</button></div>` : ""}
    ${h.state === "rejected" ? html`<p class="muted">Rejected: ${REJECT_LABELS.get(h.reject_reason) || h.reject_reason}${h.note ? ` · ${h.note}` : ""}</p>` : ""}
  </div>`;
}

function paint() {
  const list = ordered();
  if (selected && !hits.has(selected)) selected = null;
  setHtml($("#hit-list"), list.length ? list.map(itemHtml) : html`<p class="empty">No ${filter} hits.</p>`);
  const h = selected && hits.get(selected);
  setHtml($("#hit-detail"), h ? detailHtml(h) : html`<p class="empty">No hit selected.</p>`);
  const at = list.findIndex((x) => x.id === selected);
  if (at >= 0) place = at;
}

function select(id) { selected = id; paint(); }

function step(delta) {
  const list = ordered();
  if (!list.length) return;
  const i = list.findIndex((h) => h.id === selected);
  const next = i >= 0 ? i + delta : (delta > 0 ? place : place - 1);
  select(list[Math.max(0, Math.min(list.length - 1, next))].id);
}

// Before a hit's brief: whether anyone would receive it (the server counts the officers its
// default audience reaches: a phone or camera within the brief radius of the read), or the
// operator chose to send it anyway. A count that cannot be had does not hold the alert back (a
// read with no location: the brief itself says an audience must be named).
async function someoneNear(h) {
  let preview;
  try {
    preview = await post(`hits/${h.id}/brief/preview`, {});
  } catch (err) { return true; }
  if (preview.recipients !== 0) return true;
  const near = preview.audience && preview.audience.near;
  return confirmDialog({
    title: "Nobody would receive this",
    message: near
      ? `No officer's phone or camera is within ${Math.round(near.radius_m)} m of the read. Send the briefing anyway?`
      : "This briefing would reach no officer. Send it anyway?",
    confirm: "Send anyway",
  });
}

async function act(kind, button) {
  const h = selected && hits.get(selected);
  if (!h) return;
  const detail = $("#hit-detail");
  const run = async () => {
    if (kind === "confirm") return post(`hits/${h.id}/confirm`, {});
    if (kind === "reject") return post(`hits/${h.id}/reject`, { reason: $("[data-role=reason]", detail).value });
    if (!(await someoneNear(h))) return get(`hits/${h.id}`);
    const briefing = await post(`hits/${h.id}/brief`, { priority: $("[data-role=priority]", detail).value });
    if (briefing.recipients) notify(`Briefing sent to ${audienceText(briefing)}.`, "ok");
    // Not a success: the alert reached nobody. It stays up until the operator has read it.
    else notify("This briefing reached no officer: no officer's phone or camera was near the read. Send one from New briefing to a wider area or to named officers.", "error", { timeout: 0 });
    return get(`hits/${h.id}`);
  };
  try {
    const updated = button ? await busy(button, "…", run) : await run();
    hits.set(updated.id, updated);
    paint();
  } catch (err) {
    if (err.code === "entry_not_current") { h._reason = "not_current"; paint(); } // R now rejects it as such
    showError(err, "Hit");
  }
}

$("#hit-list").addEventListener("click", (e) => { const b = e.target.closest("[data-hit]"); if (b) select(b.dataset.hit); });
$("#hit-detail").addEventListener("click", (e) => { const b = e.target.closest("[data-act]"); if (b) act(b.dataset.act, b); });
$("#hit-filter").addEventListener("change", (e) => { filter = e.target.value; selected = null; load(); });
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key.toLowerCase();
  const h = selected && hits.get(selected);
  if (key === "j") step(1);
  else if (key === "k") step(-1);
  else if (key === "c" && h && h.state === "new") act("confirm");
  else if (key === "r" && h && h.state === "new") act("reject");
  else if (key === "b" && h && h.state === "confirmed" && !h.briefing) act("brief");
  else return;
  e.preventDefault();
});

async function load() {
  try {
    const list = await getAll(`hits?state=${encodeURIComponent(filter)}&page_size=200`, { limit: 1000 });
    for (const [id, h] of hits) if (h.state === filter) hits.delete(id);
    for (const h of list) hits.set(h.id, h);
    if (!selected && list.length) selected = ordered()[0].id;
    paint();
  } catch (err) { showError(err, "Hits"); }
}

live.on("hit.new", (event) => {
  hits.set(event.hit.id, event.hit);
  if (!selected && event.hit.state === filter) selected = event.hit.id;
  paint();
  if (event.hit.state === "new") notify(`New hit: ${event.hit.read.plate_normalized} on ${event.hit.hotlist.name}`, "warn");
});
live.on("hit.update", (event) => {
  const old = hits.get(event.hit.id);
  hits.set(event.hit.id, { ...(old || {}), ...event.hit });
  paint();
});
live.onOpen(({ reconnect }) => { if (reconnect) load(); });
live.start();
load();
startAgoTicker();
