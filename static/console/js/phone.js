// The demo officer phone: the briefings pushed to this officer, with acknowledge.
import { ApiError, get, getAll, post } from "./api.js";
import { briefingHtml } from "./briefing_view.js";
import { $, agoSpan, busy, fmtTime, html, notify, setHtml, showError, startAgoTicker } from "./ui.js";

const seen = new Set();
let first = true;
let lastJson = "";

function card(b) {
  const acked = b.delivery_state === "acknowledged" || b.acknowledged_at;
  return html`<article class="brief ${b.priority}${acked ? " acked" : ""}" data-briefing="${b.id}">
    <div class="row"><span class="state ${b.priority}">${b.priority}</span><span class="muted">${agoSpan(b.created_at || b.sent_at)}</span></div>
    <h2>${b.title}</h2>
    ${briefingHtml(b, { big: true })}
    ${acked ? html`<div class="state acknowledged" style="justify-self:start">acknowledged ${fmtTime(b.acknowledged_at || "")}</div>`
    : html`<button type="button" class="ack" data-ack>Acknowledge</button>`}
  </article>`;
}

// Each card is drawn again only when its briefing changed: a redraw of every card on each poll
// fetched every photo again and lost what the officer was touching (a button being pressed).
const drawn = new Map(); // briefing id -> { json, node }

function cardNode(b) {
  const json = JSON.stringify(b);
  const had = drawn.get(b.id);
  if (had && had.json === json) return had.node;
  const box = document.createElement("div");
  setHtml(box, card(b));
  const node = box.firstElementChild;
  drawn.set(b.id, { json, node });
  return node;
}

function draw(list) {
  const root = $("#briefings");
  if (!list.length) {
    drawn.clear();
    setHtml(root, html`<p class="empty">No briefings for you yet.</p>`);
    return;
  }
  const nodes = list.map(cardNode);
  const wanted = new Set(nodes);
  for (const [id, { node }] of drawn) if (!wanted.has(node)) drawn.delete(id);
  // Gone: a card no longer listed, one replaced by its changed briefing's, the "Loading…" line.
  for (const child of Array.from(root.children)) if (!wanted.has(child)) child.remove();
  let at = root.firstElementChild;
  for (const node of nodes) {
    if (node === at) at = at.nextElementSibling;
    else root.insertBefore(node, at); // a new or changed card goes in its place; the others stay
  }
}

async function load() {
  try {
    const list = await getAll("me/briefings?page_size=100", { limit: 100 });
    const json = JSON.stringify(list);
    $("#refreshed").textContent = `updated ${fmtTime(new Date().toISOString())}`;
    if (json === lastJson) return;
    lastJson = json;
    draw(list);
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
    setHtml($("#outbox"), rows.length ? rows.map((r) => html`<div class="list-item">
        <div class="row"><strong>${r.title || (r.data && r.data.type) || "data message"}</strong>
          ${r.priority === "high" ? html`<span class="state urgent">high</span>` : ""}<span class="spacer"></span>
          ${r.phone ? html`<span class="muted" data-role="phone">to ${r.phone}</span>` : ""}${agoSpan(r.at)}</div>
        ${r.body ? html`<div>${r.body}</div>` : ""}</div>`)
      : html`<p class="empty">No notifications yet.</p>`);
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
