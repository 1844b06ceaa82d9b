// Leads: the review queue (never the viewer's own leads), the list, and a new lead with its probe image.
import { get, post } from "./api.js";
import { Live } from "./live.js";
import { $, $all, agoSpan, busy, html, notifyNext, readJson, setHtml, showError, showFieldErrors, startAgoTicker, toIso } from "./ui.js";

const me = readJson("me-data", {});
const KIND = { facial_recognition: "Facial recognition", nibin: "NIBIN", other: "Other" };
const STATE = { pending_review: "pending review", verified: "verified", rejected: "rejected" };

function leadHtml(lead, { review = false } = {}) {
  const who = lead.created_by_user ? lead.created_by_user.full_name || lead.created_by_user.username : "";
  return html`<div class="list-item" data-lead="${lead.id}">
    <div class="row"><strong>${KIND[lead.kind] || lead.kind}</strong><span class="muted">case ${lead.case_number}</span>
      <span class="state" data-state="${lead.state}">${STATE[lead.state] || lead.state}</span>
      ${lead.review_overdue ? html`<span class="overdue" data-overdue>Review overdue (over 48 h)</span>` : ""}
      <span class="spacer"></span>
      ${review ? html`<a class="button small" href="/leads/${lead.id}/">Review</a>` : html`<a class="button secondary small" href="/leads/${lead.id}/">Open</a>`}</div>
    <div>${lead.summary}</div>
    <div class="muted">by ${who} · ${agoSpan(lead.created_at)}${lead.kind === "facial_recognition" ? ` · ${lead.candidates.length} candidate(s)` : ""}${lead.kind === "nibin" ? ` · ${lead.nibin_lead_number} · ${lead.events.length} events` : ""}</div>
  </div>`;
}

async function loadQueue() {
  const box = $("#review-queue");
  if (!box) return;
  try {
    const page = await get("leads?queue=review&page_size=100");
    $("#queue-count").textContent = page.count ? `(${page.count})` : "";
    setHtml(box, page.results.length ? page.results.map((l) => leadHtml(l, { review: true })) : html`<p class="empty">Nothing waits for your review.</p>`);
  } catch (err) { showError(err, "Review queue"); }
}

async function loadList() {
  const form = $("#lead-filter");
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
  params.set("page_size", "100");
  try {
    const page = await get(`leads?${params}`);
    setHtml($("#leads"), page.results.length ? page.results.map((l) => leadHtml(l)) : html`<p class="empty">No leads.</p>`);
  } catch (err) { showError(err, "Leads"); }
}

function candidateRow(n) {
  return html`<div class="entry" data-candidate>
    <div class="form-grid">
      <label>Rank <input name="rank" type="number" min="1" value="${n}"></label>
      <label>Score <input name="score" type="number" step="any"></label>
      <label>Name <input name="name" maxlength="200"></label>
      <label>Record id <input name="record_id" maxlength="100"></label>
    </div></div>`;
}

function eventRow() {
  return html`<div class="entry" data-event>
    <div class="form-grid">
      <label>Case number <input name="ev_case_number" maxlength="64"></label>
      <label>When <input name="ev_occurred_at" type="datetime-local"></label>
      <label>Latitude <input name="ev_lat" inputmode="decimal"></label>
      <label>Longitude <input name="ev_lon" inputmode="decimal"></label>
      <label>Item <select name="ev_item"><option value="">none</option><option>casing</option><option>bullet</option><option>firearm</option></select></label>
      <label>Calibre <input name="ev_calibre" maxlength="40"></label>
    </div></div>`;
}

function append(box, markup) {
  const holder = document.createElement("div");
  setHtml(holder, markup);
  box.append(...holder.childNodes);
}

function showKind(kind) {
  for (const fs of $all("#lead-form fieldset[data-kind]")) fs.classList.toggle("hidden", fs.dataset.kind !== kind);
}

function payload(form) {
  const data = new FormData(form);
  const kind = data.get("kind");
  const body = { kind, case_number: data.get("case_number").trim(), summary: data.get("summary").trim() };
  if (kind === "facial_recognition") {
    if (data.get("probe_media")) body.probe_media = data.get("probe_media");
    body.search_system = data.get("search_system").trim();
    if (data.get("search_system_version")) body.search_system_version = data.get("search_system_version").trim();
    body.candidates = data.get("no_result") ? [] : $all("[data-candidate]", form).map((row) => {
      const c = { rank: Number($("[name=rank]", row).value) };
      const score = $("[name=score]", row).value;
      if (score !== "") c.score = Number(score);
      for (const k of ["name", "record_id"]) if ($(`[name=${k}]`, row).value.trim()) c[k] = $(`[name=${k}]`, row).value.trim();
      return c;
    }).filter((c) => Object.keys(c).length > 1); // a row left blank is no candidate
    if (!data.get("no_result") && !body.candidates.length) {
      throw new Error("Give at least one candidate (a name, record id or score), or tick that the search had no result.");
    }
  }
  if (kind === "nibin") {
    body.nibin_lead_number = data.get("nibin_lead_number").trim();
    body.events = $all("[data-event]", form).map((row) => {
      const item = $("[name=ev_item]", row).value;
      const e = {
        case_number: $("[name=ev_case_number]", row).value.trim(),
        occurred_at: toIso($("[name=ev_occurred_at]", row).value),
        location: { lat: coordinate($("[name=ev_lat]", row).value), lon: coordinate($("[name=ev_lon]", row).value) },
      };
      if (item) e.items = [{ kind: item, ...($("[name=ev_calibre]", row).value ? { calibre: $("[name=ev_calibre]", row).value } : {}) }];
      return e;
    });
  }
  return body;
}

// A blank coordinate is no coordinate (null: the API refuses it), never 0.
function coordinate(text) { return text.trim() === "" ? null : Number(text); }

function setupForm() {
  const form = $("#lead-form");
  if (!form) return;
  append($("#candidates"), candidateRow(1));
  append($("#events"), eventRow());
  append($("#events"), eventRow());
  $("#add-candidate").addEventListener("click", () => append($("#candidates"), candidateRow($all("[data-candidate]").length + 1)));
  $("#add-event").addEventListener("click", () => append($("#events"), eventRow()));
  $("#lead-kind").addEventListener("change", (e) => showKind(e.target.value));
  form.elements.probe_file.addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const data = new FormData();
    data.append("file", file);
    try {
      const media = await post("media", data);
      form.elements.probe_media.value = media.id;
      const img = document.createElement("img");
      img.src = media.thumbnail_url; img.alt = "Probe image";
      $("#probe-preview").replaceChildren(img);
    } catch (err) { showError(err, "Probe image"); }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    busy(form.querySelector("[type=submit]"), "Creating…", async () => {
      try {
        const lead = await post("leads", payload(form));
        notifyNext("Lead created: another operator must review it before it is shared.", "ok");
        window.location.href = `/leads/${lead.id}/`;
      } catch (err) { showFieldErrors(form, err); showError(err, "Lead"); }
    });
  });
}

$("#lead-filter").addEventListener("submit", (e) => { e.preventDefault(); loadList(); });
setupForm();
loadQueue();
loadList();
startAgoTicker();

// Another operator's new lead, review or share shows without a reload: the console socket says
// that a lead changed (never what it holds), and the queue and the list are read again, as a
// reload would read them. Clerks have no console socket: their page shows what it read.
if (me.role === "operator") {
  const live = new Live();
  let timer = null;
  const reload = () => { clearTimeout(timer); timer = setTimeout(() => { loadQueue(); loadList(); }, 500); };
  live.on("lead.update", reload);
  live.onOpen(({ reconnect }) => { if (reconnect) reload(); });
  live.start();
}
