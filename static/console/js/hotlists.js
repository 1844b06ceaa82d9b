// Hotlists: create lists, add and remove entries, import a CSV (append or replace the whole list).
import { del, get, getAll, post } from "./api.js";
import { $, busy, fmtDateTime, html, notify, setHtml, showError, showFieldErrors, toIso } from "./ui.js";

let lists = [];
let current = null;

function listHtml(l) {
  return html`<button type="button" class="list-item${current === l.id ? " active" : ""}" data-list="${l.id}" style="display:block;width:100%;text-align:left">
    <div class="row"><strong>${l.name}</strong><span class="muted">${l.source} · priority ${l.priority}</span>
      ${l.stale ? html`<span class="state warn" data-role="stale">stale</span>` : ""}<span class="spacer"></span><span>${l.entry_count} ${l.entry_count === 1 ? "entry" : "entries"}</span></div>
    <div class="muted">updated ${fmtDateTime(l.updated_at)}${l.last_import_at ? ` · last import ${fmtDateTime(l.last_import_at)}` : ""}</div></button>`;
}

async function loadLists() {
  try {
    lists = await getAll("hotlists?page_size=200", { limit: 1000 });
    setHtml($("#lists"), lists.length ? lists.map(listHtml) : html`<p class="empty">No lists yet.</p>`);
  } catch (err) { showError(err, "Hotlists"); }
}

async function showList(id) {
  current = id;
  const l = lists.find((x) => x.id === id);
  const box = $("#list-detail");
  const local = l && l.source === "local";
  let entries = [];
  let total = 0;
  try {
    const page = await get(`hotlists/${id}/entries?page_size=100`);
    entries = page.results;
    total = page.count;
  } catch (err) { showError(err, "Entries"); }
  setHtml(box, html`<h2>${l ? l.name : ""}</h2>
    <form id="import-form" class="row">
      <label class="inline">CSV <input type="file" name="file" accept=".csv,text/csv" required></label>
      <select name="mode"><option value="append">append</option><option value="replace">replace the whole list</option></select>
      <button type="submit">Import</button></form>
    <p class="muted">Header row: plate,plate_state,reason,case_number,expires_at${local ? " (local lists: expires_at is required)" : ""}</p>
    <div id="import-result"></div>
    <form id="entry-form" class="form-grid">
      <label>Plate <input name="plate" required maxlength="32"></label>
      <label>State <input name="plate_state" maxlength="2" placeholder="CA"></label>
      <label class="wide">Reason <input name="reason" required maxlength="200"></label>
      <label>Case number <input name="case_number" maxlength="64"></label>
      <label>Expires <input name="expires_at" type="datetime-local" ${local ? "required" : ""}></label>
      <div class="wide row end"><button type="submit">Add entry</button></div></form>
    ${total > entries.length ? html`<p class="muted" data-role="shown">The first ${entries.length} of ${total} entries, oldest first.</p>` : ""}
    <div class="table-wrap"><table class="table"><thead><tr><th>Plate</th><th>State</th><th>Reason</th><th>Case</th><th>Expires</th><th></th></tr></thead>
      <tbody>${entries.map((e) => html`<tr><td style="font-family:monospace">${e.plate_normalized}</td><td>${e.plate_state || ""}</td><td>${e.reason}</td>
        <td>${e.case_number}</td><td>${e.expires_at ? fmtDateTime(e.expires_at) : ""}</td>
        <td><button type="button" class="secondary small" data-remove="${e.id}">Remove</button></td></tr>`)}</tbody></table></div>`);
  await loadLists();
}

$("#lists").addEventListener("click", (e) => { const b = e.target.closest("[data-list]"); if (b) showList(b.dataset.list); });

$("#list-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const data = Object.fromEntries(new FormData(form));
  if (String(data.priority).trim() === "") delete data.priority; // blank: the list's default (50), never 0
  else data.priority = Number(data.priority);
  try {
    const l = await busy(form.querySelector("button"), "Creating…", () => post("hotlists", data));
    form.reset();
    await loadLists();
    showList(l.id);
  } catch (err) { showFieldErrors(form, err); showError(err, "New list"); }
});

// An import's outcome in the pane: what happened, then each rejected line.
function showImport(summary, rejected) {
  setHtml($("#import-result"), html`${summary}
    ${rejected.length ? html`<ul data-role="rejected">${rejected.map((r) => html`<li>line ${r.line}: ${r.error}</li>`)}</ul>` : ""}`);
}

$("#list-detail").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  if (form.id === "import-form") {
    try {
      const result = await busy(form.querySelector("button"), "Importing…", () => post(`hotlists/${current}/import`, new FormData(form)));
      await showList(current); // redraws the pane: the result goes in after
      showImport(html`<p>${result.imported} imported, ${result.rejected.length} rejected.</p>`, result.rejected);
      notify(`${result.imported} entries imported${result.rejected.length ? `, ${result.rejected.length} lines rejected (listed above the entries)` : ""}.`, result.rejected.length ? "info" : "ok");
    } catch (err) {
      // this file's outcome, never the previous file's result left in the pane
      const rejected = (err.envelope && err.envelope.rejected) || [];
      showImport(html`<p class="field-error" data-role="import-error">${err.message}</p>`, rejected);
      showError(err, "Import");
    }
  } else if (form.id === "entry-form") {
    const data = Object.fromEntries(new FormData(form));
    for (const k of Object.keys(data)) if (data[k] === "") delete data[k];
    if (data.expires_at) data.expires_at = toIso(data.expires_at);
    try {
      await post(`hotlists/${current}/entries`, data);
      await showList(current);
    } catch (err) { showFieldErrors(form, err); showError(err, "Entry"); }
  }
});

$("#list-detail").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-remove]");
  if (!b) return;
  // Two clicks: the first asks (a removed entry no longer raises hits), a second within 5 s removes.
  if (!b.dataset.armed) {
    b.dataset.armed = "1";
    b.textContent = "Confirm remove";
    b.classList.replace("secondary", "danger");
    setTimeout(() => { delete b.dataset.armed; b.textContent = "Remove"; b.classList.replace("danger", "secondary"); }, 5000);
    return;
  }
  try { await del(`hotlists/${current}/entries/${b.dataset.remove}`); await showList(current); } catch (err) { showError(err, "Remove"); }
});

loadLists();
