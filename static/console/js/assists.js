// Assists: confirm or dismiss suggested ones (from briefings), log one by hand, and the list.
import { get, post } from "./api.js";
import { $, $all, agoSpan, busy, html, notify, readJson, setHtml, showError, showFieldErrors, startAgoTicker, toIso } from "./ui.js";

const LABELS = readJson("outcome-labels", {});
const form = $("#assist-form");

function assistHtml(a) {
  return html`<div class="list-item" data-assist="${a.id}">
    <div class="row"><strong>${a.outcomes.map((c) => LABELS[c] || c).join(", ")}</strong>
      ${a.case_number ? html`<span class="muted">case ${a.case_number}</span>` : ""}<span class="spacer"></span>${agoSpan(a.occurred_at)}</div>
    <div class="muted">${a.tools.length ? `tools: ${a.tools.join(", ")}` : ""}${a.notes ? ` · ${a.notes}` : ""}</div>
  </div>`;
}

async function loadAssists() {
  try {
    const page = await get("assists?page_size=100");
    setHtml($("#assists"), page.results.length ? page.results.map(assistHtml) : html`<p class="empty">No assist logged yet.</p>`);
  } catch (err) { showError(err, "Assists"); }
}

function fill(s) {
  form.reset();
  form.elements.briefing.value = s.briefing.id;
  for (const box of $all("[name=outcomes]", form)) box.checked = s.outcomes.includes(box.value);
  for (const box of $all("[name=tools]", form)) box.checked = s.tools.includes(box.value);
  form.elements.case_number.value = s.case_number || "";
  $("#assist-clear").classList.remove("hidden");
  form.scrollIntoView({ behavior: "smooth" });
}

async function loadSuggestions() {
  const box = $("#suggestions");
  if (!box) return;
  try {
    const { results } = await get("assists/suggestions");
    $("#suggestion-count").textContent = results.length ? `(${results.length})` : "";
    setHtml(box, results.length ? results.map((s) => html`<div class="list-item" data-suggestion="${s.briefing.id}">
      <div class="row"><strong>${s.briefing.title}</strong><span class="muted">${s.briefing.priority}</span><span class="spacer"></span>${agoSpan(s.briefing.created_at)}</div>
      <div class="row">Likely: ${s.outcomes.map((c) => LABELS[c] || c).join(", ")} · tools: ${s.tools.join(", ")}<span class="spacer"></span>
        <button type="button" class="small" data-confirm>Confirm…</button><button type="button" class="secondary small" data-dismiss>Did not happen</button></div>
    </div>`) : html`<p class="empty">Nothing to confirm.</p>`);
    for (const s of results) {
      const item = box.querySelector(`[data-suggestion="${CSS.escape(s.briefing.id)}"]`);
      item.querySelector("[data-confirm]").addEventListener("click", () => fill(s));
      item.querySelector("[data-dismiss]").addEventListener("click", async () => {
        try { await post(`assists/suggestions/${s.briefing.id}/dismiss`); loadSuggestions(); } catch (err) { showError(err, "Dismiss"); }
      });
    }
  } catch (err) { showError(err, "Suggestions"); }
}

form?.addEventListener("submit", (e) => {
  e.preventDefault();
  const data = new FormData(form);
  const body = { outcomes: data.getAll("outcomes"), tools: data.getAll("tools"), case_number: data.get("case_number").trim(), notes: data.get("notes").trim() };
  if (data.get("occurred_at")) body.occurred_at = toIso(data.get("occurred_at"));
  if (data.get("briefing")) body.briefing = data.get("briefing");
  busy(form.querySelector("[type=submit]"), "Logging…", async () => {
    try {
      await post("assists", body);
      notify("Assist logged.", "ok");
      form.reset(); form.elements.briefing.value = "";
      $("#assist-clear").classList.add("hidden");
      loadAssists(); loadSuggestions();
    } catch (err) { showFieldErrors(form, err); showError(err, "Assist"); }
  });
});
$("#assist-clear")?.addEventListener("click", () => { form.reset(); form.elements.briefing.value = ""; $("#assist-clear").classList.add("hidden"); });

loadAssists();
loadSuggestions();
startAgoTicker();
