// The demo officer phone: the briefings pushed to this officer, with acknowledge.
import { ApiError, get, getAll, post } from "./api.js";
import { briefingHtml } from "./briefing_view.js";
import { $, agoSpan, busy, esc, fmtTime, notify, showError, startAgoTicker } from "./ui.js";

const seen = new Set();
let first = true;
let lastJson = "";

function card(b) {
  const acked = b.delivery_state === "acknowledged" || b.acknowledged_at;
  return `<article class="brief ${esc(b.priority)}${acked ? " acked" : ""}" data-briefing="${esc(b.id)}">
    <div class="row"><span class="state ${esc(b.priority)}">${esc(b.priority)}</span><span class="muted">${agoSpan(b.created_at || b.sent_at)}</span></div>
    <h2>${esc(b.title)}</h2>
    ${briefingHtml(b, { big: true })}
    ${acked ? `<div class="state acknowledged" style="justify-self:start">acknowledged ${esc(fmtTime(b.acknowledged_at || ""))}</div>`
    : '<button type="button" class="ack" data-ack>Acknowledge</button>'}
  </article>`;
}

async function load() {
  try {
    const list = await getAll("me/briefings?page_size=100", { limit: 100 });
    const json = JSON.stringify(list);
    $("#refreshed").textContent = `updated ${fmtTime(new Date().toISOString())}`;
    if (json === lastJson) return;
    lastJson = json;
    $("#briefings").innerHTML = list.length ? list.map(card).join("") : '<p class="empty">No briefings for you yet.</p>';
    const fresh = list.filter((b) => !seen.has(b.id));
    for (const b of list) seen.add(b.id);
    if (!first && fresh.length) notify(`New briefing: ${fresh[0].title}`, fresh[0].priority === "routine" ? "info" : "error");
    first = false;
  } catch (err) { showError(err, "Briefings"); }
}

$("#briefings").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-ack]");
  if (!b) return;
  const id = b.closest("[data-briefing]").dataset.briefing;
  try {
    await busy(b, "Acknowledging…", () => post(`briefings/${id}/ack`, {}));
    notify("Acknowledged: the center sees it.", "ok");
    load();
  } catch (err) { showError(err, "Acknowledge"); }
});

let outboxAvailable = true;
async function loadOutbox() {
  if (!outboxAvailable) return;
  try {
    const rows = (await get("me/outbox")).results || [];
    $("#outbox-card").classList.remove("hidden");
    $("#outbox").innerHTML = rows.length ? rows.map((r) => `<div class="list-item">
        <div class="row"><strong>${esc(r.title || (r.data && r.data.type) || "data message")}</strong>
          ${r.priority === "high" ? '<span class="state urgent">high</span>' : ""}<span class="spacer"></span>${agoSpan(r.at)}</div>
        ${r.body ? `<div>${esc(r.body)}</div>` : ""}</div>`).join("")
      : '<p class="empty">No notifications yet.</p>';
  } catch (err) {
    // Pushes go to FCM on this server (404): there is nothing local to show.
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) outboxAvailable = false;
  }
}

startAgoTicker();
loadOutbox();
setInterval(loadOutbox, 5000);
load();
// The officer is not on the console socket: poll for new briefings.
setInterval(load, 5000);
