// One lead: its facts, the second person's review, sharing once verified, and related evidence on a map.
import { get, post } from "./api.js";
import { audienceText } from "./briefing_view.js";
import { Live } from "./live.js";
import { drawMap } from "./mapdraw.js";
import { $, agoSpan, busy, fmtDateTime, html, notify, readJson, setHtml, showError, showFieldErrors, startAgoTicker } from "./ui.js";

const leadId = readJson("lead-id");
const me = readJson("me-data", {});
const KIND = { facial_recognition: "Facial recognition", nibin: "NIBIN", other: "Other" };
let lead = null;

function candidatesHtml(list) {
  if (!list.length) return html`<p><strong>No candidate:</strong> the search returned no result.</p>`;
  return html`<div class="table-wrap"><table><thead><tr><th>Rank</th><th>Score</th><th>Name</th><th>Record</th></tr></thead><tbody>${
    list.map((c) => html`<tr><td>${c.rank}</td><td class="num">${c.score ?? ""}</td><td>${c.name || ""}</td><td class="mono">${c.record_id || ""}</td></tr>`)}</tbody></table></div>`;
}

function eventsHtml(events) {
  return html`<div class="table-wrap"><table><thead><tr><th>#</th><th>Case</th><th>When</th><th>Where</th><th>Items</th></tr></thead><tbody>${
    events.map((e, i) => html`<tr><td>${i + 1}</td><td>${e.case_number}</td><td>${fmtDateTime(e.occurred_at)}</td>
      <td class="mono">${Number(e.location.lat).toFixed(5)}, ${Number(e.location.lon).toFixed(5)}</td>
      <td>${(e.items || []).map((it) => [it.kind, it.calibre, it.serial].filter(Boolean).join(" ")).join("; ")}</td></tr>`)}</tbody></table></div>`;
}

function paint() {
  $("#lead-title").textContent = `${KIND[lead.kind] || lead.kind} lead · case ${lead.case_number}`;
  const state = $("#lead-state");
  state.textContent = lead.state.replace("_", " ");
  state.dataset.state = lead.state;
  $("#lead-overdue").classList.toggle("hidden", !lead.review_overdue);
  const by = (u) => (u ? u.full_name || u.username : "");
  setHtml($("#lead-body"), html`
    ${lead.kind === "facial_recognition" ? html`<p class="notice-fr">Investigative lead only - not probable cause.</p>` : ""}
    <p>${lead.summary}</p>
    <dl class="kv">
      <dt>Created</dt><dd>${by(lead.created_by_user)} · ${agoSpan(lead.created_at)}</dd>
      ${lead.reviewed_by ? html`<dt>Reviewed</dt><dd>${by(lead.reviewed_by_user)} · ${lead.state} · ${agoSpan(lead.reviewed_at)}</dd><dt>Note</dt><dd>${lead.review_note}</dd>` : ""}
      ${lead.search_system ? html`<dt>Search system</dt><dd>${lead.search_system} ${lead.search_system_version}</dd>` : ""}
      ${lead.nibin_lead_number ? html`<dt>NIBIN lead</dt><dd class="mono">${lead.nibin_lead_number}</dd>` : ""}
    </dl>
    ${lead.probe_media ? html`<div class="probe" id="probe"></div>` : ""}
    ${lead.kind === "facial_recognition" ? html`<h3>Candidates (the whole list)</h3>${candidatesHtml(lead.candidates)}` : ""}
    ${lead.events.length ? html`<h3>Linked events</h3>${eventsHtml(lead.events)}` : ""}`);
  if (lead.probe_media && me.role !== "operator") {
    // Media (photos) are the operators': a clerk reads the lead without its probe image (asking
    // for it anyway was a 403 in the browser's console on every view).
    const note = document.createElement("p");
    note.className = "muted";
    note.textContent = "Probe image: not shown to your role (operators see it).";
    $("#probe")?.replaceChildren(note);
  } else if (lead.probe_media) {
    get(`media/${lead.probe_media}`).then((m) => {
      const img = document.createElement("img");
      img.src = m.thumbnail_url; img.alt = "Probe image";
      $("#probe")?.replaceChildren(img);
    }).catch((err) => {
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = err && err.status === 403
        ? "Probe image: not shown to your role (operators see it)."
        : `Probe image: could not be loaded (${err && err.message ? err.message : "error"}).`;
      $("#probe")?.replaceChildren(note);
    });
  }
  const mine = lead.created_by === me.id;
  $("#review-card")?.classList.toggle("hidden", mine || lead.state !== "pending_review");
  $("#own-lead")?.classList.toggle("hidden", !(mine && lead.state === "pending_review"));
  $("#share-card")?.classList.toggle("hidden", lead.state !== "verified");
  $("#share-notice")?.classList.toggle("hidden", lead.kind !== "facial_recognition");
  // Briefings are the operators' pages: others see that it was shared, not a link they cannot open.
  setHtml($("#lead-briefings"), lead.briefings.length
    ? lead.briefings.map((id) => (me.role === "operator"
      ? html`<div class="list-item"><a href="/briefings/${id}/" data-briefing="${id}">Briefing ${id.slice(0, 8)}</a></div>`
      : html`<div class="list-item" data-briefing="${id}">Shared as briefing ${id.slice(0, 8)}</div>`))
    : html`<p class="muted">Not shared.</p>`);
  // Each briefing by its title and time, as the board shows it (the lead gives ids only), for
  // the operators, who may read briefings.
  for (const id of me.role === "operator" ? lead.briefings : []) {
    get(`briefings/${id}`).then((b) => {
      const link = document.querySelector(`#lead-briefings [data-briefing="${CSS.escape(id)}"]`);
      if (link) link.textContent = `${b.title} · ${fmtDateTime(b.created_at)}`;
    }).catch(() => { /* the id stays */ });
  }
}

async function load() {
  try {
    lead = await get(`leads/${leadId}`);
  } catch (err) {
    setHtml($("#lead-body"), html`<p class="empty">${err.message}</p>`);
    showError(err, "Lead");
    return;
  }
  paint();
  loadRelated();
}

async function loadRelated() {
  const none = !lead.events.length;  // nothing to search near: no form, no empty map
  $("#related-none").hidden = !none;
  $("#related-parts").hidden = none;
  if (none) return;
  const form = $("#related-form");
  const params = new URLSearchParams(new FormData(form));
  try {
    const rel = await get(`leads/${leadId}/related?${params}`);
    const radius = rel.radius_m;
    drawMap($("#related-map"), {
      scenes: rel.events.map((e) => ({ id: `e${e.index}`, lat: e.location.lat, lon: e.location.lon, radius_m: radius, title: `${e.index + 1}: ${e.case_number}`, active: true })),
      units: [
        ...rel.clips.filter((c) => c.location).map((c) => ({ id: c.id, kind: "bodycam", lat: c.location.lat, lon: c.location.lon, label: `clip ${fmtDateTime(c.started_at)}`, online: true })),
        ...rel.plate_reads.filter((r) => r.location).map((r) => ({ id: r.id, kind: "phone", lat: r.location.lat, lon: r.location.lon, label: r.plate, online: true })),
      ],
    });
    const more = (n, cut) => (cut ? `(${n}; more were recorded: the first ${rel.limit} per event are shown, narrow the radius or hours)` : `(${n})`);
    $("#clip-count").textContent = more(rel.clips.length, rel.truncated.clips);
    $("#read-count").textContent = more(rel.plate_reads.length, rel.truncated.plate_reads);
    setHtml($("#related-clips"), rel.clips.length ? rel.clips.map((c) => html`<div class="list-item" data-clip="${c.id}">
      ${fmtDateTime(c.started_at)} to ${fmtDateTime(c.ended_at)} · ${Math.round(c.distance_m)} m from event ${c.events.map((i) => i + 1).join(", ")} · ${c.category}${c.case_number ? ` · case ${c.case_number}` : ""}</div>`)
      : html`<p class="muted">No clip recorded near the events.</p>`);
    setHtml($("#related-reads"), rel.plate_reads.length ? rel.plate_reads.map((r) => html`<div class="list-item" data-read="${r.id}">
      <span class="plate">${r.plate}</span> ${fmtDateTime(r.read_at)} · ${Math.round(r.distance_m)} m from event ${r.events.map((i) => i + 1).join(", ")}</div>`)
      : html`<p class="muted">No plate read near the events.</p>`);
  } catch (err) { showError(err, "Related evidence"); }
}

$("#related-form").addEventListener("submit", (e) => { e.preventDefault(); loadRelated(); });

const reviewForm = $("#review-form");
reviewForm?.addEventListener("submit", (e) => {
  e.preventDefault();
  const data = new FormData(reviewForm);
  if (!data.get("decision")) {
    // Said here, not as the API's "decision: "" is not a valid choice."
    notify("Choose Verified or Rejected before recording the review.", "error");
    return;
  }
  busy(reviewForm.querySelector("[type=submit]"), "Recording…", async () => {
    try {
      lead = await post(`leads/${leadId}/review`, { decision: data.get("decision") || "", note: (data.get("note") || "").trim() });
      notify(`Lead ${lead.state}.`, "ok");
      paint();
    } catch (err) { showFieldErrors(reviewForm, err); showError(err, "Review"); }
  });
});

const shareForm = $("#share-form");
shareForm?.addEventListener("submit", (e) => {
  e.preventDefault();
  const data = new FormData(shareForm);
  const officers = data.getAll("officer");
  const first = lead.events[0];
  const audience = officers.length ? { officers } : first ? { near: { lat: first.location.lat, lon: first.location.lon, radius_m: 2000 } } : lead.incident ? { incident: true } : null;
  if (!audience) { notify("Choose the officers to brief.", "error"); return; }
  busy(shareForm.querySelector("[type=submit]"), "Sending…", async () => {
    try {
      const briefing = await post(`leads/${leadId}/share`, { priority: data.get("priority"), audience, title: data.get("title"), body: data.get("body") });
      notify(`Briefing sent to ${audienceText(briefing)}.`, "ok");
      load();
    } catch (err) { showFieldErrors(shareForm, err); showError(err, "Share"); }
  });
});

load();
startAgoTicker();

// Another operator's review or share shows without a reload: the lead is read again when the
// console socket says it changed (the evidence near it is not searched again: that search is
// counted and audited, and asked for by its own button).
async function refresh() {
  try {
    lead = await get(`leads/${leadId}`);
    paint();
  } catch (err) { showError(err, "Lead"); }
}
if (me.role === "operator") {
  const live = new Live();
  live.on("lead.update", (event) => { if (event.lead.id === leadId) refresh(); });
  live.onOpen(({ reconnect }) => { if (reconnect) refresh(); });
  live.start();
}
