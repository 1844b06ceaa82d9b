// Footage search for records clerks: every PROTOCOL filter, newest first, page by page.
import { api, get, post, query } from "./api.js";
import { clipRow, loadCategories } from "./clips.js";
import { $, askText, busy, html, notify, readJson, setHtml, showError, showFieldErrors, toIso, toLocalInput } from "./ui.js";

const form = $("#search");
const ctx = { officers: readJson("officers-data", []), devices: readJson("devices-data", []), incidents: readJson("incidents-data", []) };
let current = null;
let seq = 0; // only the latest search may paint (an earlier, slower answer is dropped)
const FILTERS = ["officer", "device", "incident", "case_number", "category", "trigger", "state"];

function filters() {
  const out = {};
  for (const name of FILTERS) out[name] = form[name].value.trim();
  out.from = toIso(form.from.value);
  out.to = toIso(form.to.value);
  return out;
}

async function search(url) {
  const tbody = $("#clips tbody");
  setHtml(tbody, html`<tr><td colspan="10" class="empty">Searching…</td></tr>`);
  showFieldErrors(form, null);
  const mine = ++seq;
  try {
    const data = await get(url);
    if (mine !== seq) return;
    current = data;
    const list = data.results || [];
    setHtml(tbody, list.length ? list.map((c) => clipRow(c, ctx)) : html`<tr><td colspan="10" class="empty">No clip matches these filters.</td></tr>`);
    $("#count").textContent = `${data.count} clip${data.count === 1 ? "" : "s"}`;
    $("#prev").disabled = !data.previous;
    $("#next").disabled = !data.next;
    const page = new URL(url, location.href).searchParams.get("page") || "1";
    $("#page").textContent = data.count ? `page ${page}` : "";
  } catch (err) {
    if (mine !== seq) return;
    setHtml(tbody, html`<tr><td colspan="10" class="empty">${err.message}</td></tr>`);
    showFieldErrors(form, err);
    showError(err, "Search");
  }
}

function rel(url) { const u = new URL(url, location.href); return u.pathname + u.search; }

// A case's manifest (every clip with its SHA-256 and a link): asked with a reason, saved as a file.
$("#manifest").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-format]");
  if (!b) return;
  const caseNumber = form.case_number.value.trim();
  const reason = await askText({ title: `Manifest for case ${caseNumber}`, message: "Its links give access to the footage: the export is recorded with your reason.", confirm: "Export", suggestions: ["Discovery request", "Court order"] });
  if (reason === null) return;
  try {
    const response = await busy(b, "Exporting…", () => api("GET", `cases/${encodeURIComponent(caseNumber)}/manifest${query({ reason, format: b.dataset.format })}`, null, { raw: true }));
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message || `The server answered ${response.status}.`);
    }
    const ext = { csv: "csv", json: "json", sha256: "sha256" }[b.dataset.format];
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `case-${caseNumber.replace(/[^\w.-]+/g, "_")}-manifest.${ext}`;
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    notify("Manifest exported and recorded.", "ok");
  } catch (err) { showError(err, "Manifest"); }
});

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const caseNumber = form.case_number.value.trim();
  $("#manifest").classList.toggle("hidden", !caseNumber);
  $("#manifest-case").textContent = caseNumber;
  const params = filters();
  const shown = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  history.replaceState(null, "", shown ? `?${shown}` : location.pathname); // no bare "?" with no filter
  search(`clips${query({ ...params, page_size: 50 })}`);
});
form.addEventListener("reset", () => setTimeout(() => form.requestSubmit(), 0));
$("#prev").addEventListener("click", () => current?.previous && search(rel(current.previous)));
$("#next").addEventListener("click", () => current?.next && search(rel(current.next)));
$("#clips").addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-clip]");
  if (tr && !e.target.closest("a")) location.assign(`/footage/${tr.dataset.clip}/`);
});

function paintCategories(list) {
  setHtml($("#category-list"), list.map((c) => html`<div class="list-item"><strong>${c.name}</strong> <span class="muted mono">${c.slug}</span>
    <div class="muted">${c.retention_days === null ? "kept indefinitely" : `kept ${c.retention_days} days after recording`}</div></div>`));
}

$("#category-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const body = { slug: f.slug.value.trim(), name: f.elements["name"].value.trim(), retention_days: f.retention_days.value ? Number(f.retention_days.value) : null };
  try {
    const category = await busy(f.querySelector("button"), "Adding…", () => post("categories", body));
    showFieldErrors(f, null);
    f.reset();
    notify(`Category ${category.name || category.slug} added.`, "ok");
    paintCategories(await loadCategories(form.category, form.category.value, { fresh: true }));
  } catch (err) {
    showFieldErrors(f, err);
    showError(err, "New category");
  }
});

// Filters survive a reload (and can be shared as a link).
const initial = new URLSearchParams(location.search);
for (const name of FILTERS) if (initial.get(name)) form[name].value = initial.get(name);
for (const name of ["from", "to"]) if (initial.get(name)) form[name].value = toLocalInput(initial.get(name));
loadCategories(form.category, initial.get("category") || "").then((list) => { paintCategories(list); form.requestSubmit(); });
