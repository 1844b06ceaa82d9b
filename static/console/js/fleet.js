// The fleet wall: every device live, and recording commands followed until they are final.
import { get, getAll } from "./api.js";
import { CANCELLABLE, CommandTracker, FINAL, actionWord, finalClass, stateChip, timeline } from "./commands.js";
import { Live } from "./live.js";
import { mountLiveTile } from "./live_tile.js";
import { $, agoSpan, askText, directoryOf, fmtTime, html, notify, officerName, readJson, safe, setHtml, showError, startAgoTicker } from "./ui.js";

const officers = directoryOf(readJson("officers-data", []));
const operators = directoryOf(readJson("operators-data", []));
const me = readJson("me-data", {});
const canCommand = readJson("can-command", false);
const devices = new Map();
const rows = new Map();
const lastCommand = new Map(); // device id -> command (or a local placeholder)
const tbody = $("#fleet tbody");
const filters = $("#filters");
filters.addEventListener("submit", (event) => event.preventDefault()); // filters apply as you type
const live = new Live();
const tracker = new CommandTracker(live);

const REASONS = ["Use of force reported", "Pursuit in progress", "Officer requested backup", "Supervisor request", "Incident concluded"];

function label(d) { return d.label || d.serial; }

function battery(d) {
  if (d.battery_pct === null || d.battery_pct === undefined) return html`<span class="muted">–</span>`;
  const pct = d.battery_pct;
  const cls = pct < 10 ? "critical" : pct < 20 ? "low" : "";
  return html`<span class="meter ${cls}"><span class="bar"><i style="width:${Math.max(0, Math.min(100, pct))}%"></i></span><span class="num">${pct}%</span></span>`;
}

function storage(d) {
  if (d.storage_free_mb === null || d.storage_free_mb === undefined) return html`<span class="muted">–</span>`;
  const mb = d.storage_free_mb;
  const text = mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${mb} MB`;
  return html`<span class="num${mb < 1024 ? " field-error" : ""}">${text} free</span>`;
}

function commandCell(d) {
  const cmd = lastCommand.get(d.id);
  if (!cmd) return html`<span class="muted">–</span>`;
  const cancel = !cmd._local && CANCELLABLE.has(cmd.state)
    ? html` <button type="button" class="link small" data-cancel="${cmd.id}">cancel</button>` : "";
  const error = cmd.error ? html`<span class="field-error">${cmd.error}</span>` : "";
  const times = cmd._local ? html`<span class="timeline"><span>${cmd.state === "sending" ? "sending" : "refused"} <b>${fmtTime(cmd.created_at)}</b></span></span>` : timeline(cmd);
  return html`<div class="cmd-cell"><span>${stateChip(cmd.state)} ${actionWord(cmd.action)}${cancel}</span>${times}${error}</div>`;
}

function rowHtml(d) {
  const status = d.revoked ? html`<span class="badge revoked">REVOKED</span>`
    : html`<span class="dot${d.online ? " on" : ""}"></span> ${d.online ? "online" : "offline"}`;
  const cam = d.recording ? html`<span class="badge rec">● REC</span>` : html`<span class="badge idle">idle</span>`;
  const kind = d.kind === "phone" ? "phone" : "bodycam";
  let actions = "";
  if (canCommand) {
    const off = d.revoked ? safe("disabled") : "";
    actions = html`<td class="nowrap"><button type="button" class="rec small" data-action="start_recording" ${off}>● Start</button>
      <button type="button" class="stop small" data-action="stop_recording" ${off}>■ Stop</button></td>`;
  }
  // Commands are the operators': IT's read-only wall has no history button and no command column.
  const history = canCommand ? html` <button type="button" class="link small" data-history>history</button>` : "";
  const command = canCommand ? html`<td data-col="cmd">${commandCell(d)}</td>` : "";
  return html`<td class="nowrap">${status}</td>
    <td><strong>${label(d)}</strong>${history}<br><span class="muted">${kind} · ${d.serial}</span></td>
    <td>${d.officer ? officerName(officers, d.officer) : html`<span class="muted">unassigned</span>`}</td>
    <td>${cam}</td><td>${battery(d)}</td><td>${storage(d)}</td>
    <td class="nowrap">${agoSpan(d.last_seen)}</td>${actions}${command}`;
}

function paintRow(d) {
  let tr = rows.get(d.id);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.device = d.id;
    rows.set(d.id, tr);
  }
  tr.dataset.serial = d.serial;
  tr.className = `${d.online ? "online" : "offline"}${d.revoked ? " revoked" : ""}${d.recording ? " recording" : ""}`;
  setHtml(tr, rowHtml(d));
  applyFilter(tr, d);
  return tr;
}

function sortKey(mode) {
  const name = (d) => (d.officer ? officerName(officers, d.officer) : "~").toLowerCase();
  return {
    status: (a, b) => (b.recording - a.recording) || (b.online - a.online) || name(a).localeCompare(name(b)),
    officer: (a, b) => name(a).localeCompare(name(b)) || a.serial.localeCompare(b.serial),
    serial: (a, b) => a.serial.localeCompare(b.serial),
    battery: (a, b) => (a.battery_pct ?? 101) - (b.battery_pct ?? 101),
    seen: (a, b) => new Date(a.last_seen || 0) - new Date(b.last_seen || 0),
  }[mode] || ((a, b) => a.serial.localeCompare(b.serial));
}

function renderAll() {
  const list = [...devices.values()].sort(sortKey(filters.sort.value));
  if (!list.length) {
    setHtml(tbody, html`<tr><td colspan="9" class="empty">No devices registered yet. IT registers them on the Devices page.</td></tr>`);
  } else {
    tbody.replaceChildren(...list.map(paintRow));
  }
  summarize();
}

function applyFilter(tr, d) {
  const q = filters.q.value.trim().toLowerCase();
  const kind = filters.kind.value;
  const show = filters.show.value;
  let visible = true;
  if (kind && d.kind !== kind) visible = false;
  if (show === "online" && !d.online) visible = false;
  if (show === "offline" && d.online) visible = false;
  if (show === "recording" && !d.recording) visible = false;
  if (q) {
    const hay = `${d.serial} ${d.label || ""} ${d.officer ? officerName(officers, d.officer) : ""}`.toLowerCase();
    if (!hay.includes(q)) visible = false;
  }
  tr.hidden = !visible;
}

function summarize() {
  const all = [...devices.values()];
  $("#n-total").textContent = all.length;
  $("#n-online").textContent = all.filter((d) => d.online).length;
  $("#n-recording").textContent = all.filter((d) => d.recording).length;
  $("#n-low").textContent = all.filter((d) => d.battery_pct !== null && d.battery_pct !== undefined && d.battery_pct < 20).length;
  $("#n-pending").textContent = tracker.pending().length;
  const shown = [...rows.values()].filter((tr) => !tr.hidden).length;
  $("#shown").textContent = `${shown} of ${all.length} shown`;
}

// Live updates touch one row and never reorder the wall (rows jumping under a pointer are dangerous).
let dirty = new Set();
let frame = 0;
function upsertDevice(d) {
  if (!d || !d.id) return;
  const known = devices.has(d.id);
  devices.set(d.id, { ...(devices.get(d.id) || {}), ...d });
  if (!known) { renderAll(); return; }
  dirty.add(d.id);
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      const ids = dirty; dirty = new Set();
      for (const id of ids) paintRow(devices.get(id));
      summarize();
    });
  }
}

async function load() {
  try {
    const list = await getAll("devices?page_size=500");
    devices.clear();
    // Plate readers hold no socket and take no command: they are on the Devices page, not the wall.
    for (const d of list) if (d.kind !== "alpr") devices.set(d.id, d);
    renderAll();
  } catch (err) {
    setHtml(tbody, html`<tr><td colspan="9" class="empty">Could not load the fleet: ${err.message}</td></tr>`);
    showError(err, "Fleet");
  }
}

// Who sent a command: "you", the operator's name, or "another operator" (one added since the page loaded).
function commander(cmd) {
  if (!cmd.requested_by) return "";
  if (cmd.requested_by === me.id) return "you";
  const op = operators.get(String(cmd.requested_by));
  return op ? (op.full_name || op.username) : "another operator";
}

// The command log (all consoles' commands, newest first).
const log = $("#cmdlog");
const logItems = new Map();
function paintLog(cmd) {
  if (cmd._local) return;
  $("#cmdlog-empty")?.remove();
  let item = logItems.get(cmd.id);
  if (!item) {
    item = document.createElement("div");
    item.dataset.command = cmd.id;
    logItems.set(cmd.id, item);
    log.prepend(item);
    while (log.children.length > 100) { const last = log.lastElementChild; logItems.delete(last.dataset.command); last.remove(); }
  }
  const d = devices.get(cmd.device);
  const who = commander(cmd);
  item.className = `log-item ${finalClass(cmd.state)}`;
  item.dataset.state = cmd.state;
  setHtml(item, html`<div class="row">${stateChip(cmd.state)} <strong>${actionWord(cmd.action)}</strong>
      <span>${d ? label(d) : String(cmd.device).slice(0, 8)}${d && d.officer ? ` · ${officerName(officers, d.officer)}` : ""}</span></div>
    <div class="muted">“${cmd.reason || ""}”${who ? ` · by ${who}` : ""}</div>
    ${timeline(cmd)}${cmd.error ? html`<div class="field-error">${cmd.error}</div>` : ""}`);
}

tracker.onChange((cmd, old) => {
  const current = lastCommand.get(cmd.device);
  if (cmd.state === "gone") {
    if (current && current.id === cmd.id) lastCommand.delete(cmd.device);
  } else if (!current || current.id === cmd.id || current._local || !cmd.created_at || !current.created_at
    || new Date(cmd.created_at) >= new Date(current.created_at)) {
    lastCommand.set(cmd.device, cmd);
  }
  const d = devices.get(cmd.device);
  if (d) {
    const tr = rows.get(d.id);
    const cell = tr && tr.querySelector('[data-col="cmd"]');
    if (cell) setHtml(cell, commandCell(d));
  }
  paintLog(cmd);
  if (!cmd._local && old && !FINAL.has(old.state) && FINAL.has(cmd.state) && cmd.requested_by === me.id) {
    const name = d ? label(d) : "device";
    const text = `${actionWord(cmd.action)} on ${name}: ${cmd.state}${cmd.error ? ` (${cmd.error})` : ""}`;
    const kind = { succeeded: "ok", cancelled: "info" }[cmd.state] || "error"; // failed and expired stay up
    notify(text, kind, { timeout: kind === "error" ? 0 : 6000 });
  }
  $("#n-pending").textContent = tracker.pending().length;
});

async function showHistory(d) {
  const dialog = document.createElement("dialog");
  setHtml(dialog, html`<form method="dialog"><h2>Commands for ${label(d)}</h2><div class="log" data-role="list"><p class="empty">Loading…</p></div>
    <div class="row end"><button type="submit" class="secondary">Close</button></div></form>`);
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
  try {
    const page = await get(`devices/${d.id}/commands?page_size=20`);
    const list = page.results || [];
    // The newest and any unfinished one join the live view (followed until final), oldest first.
    const follow = list.filter((cmd, i) => i === 0 || !FINAL.has(cmd.state)).reverse();
    for (const cmd of follow) tracker.update(cmd);
    setHtml(dialog.querySelector("[data-role=list]"), list.length ? list.map((cmd) => html`<div class="log-item ${finalClass(cmd.state)}">
        <div class="row">${stateChip(cmd.state)} <strong>${actionWord(cmd.action)}</strong></div>
        <div class="muted">“${cmd.reason || ""}”${cmd.requested_by ? ` · by ${commander(cmd)}` : ""}</div>${timeline(cmd)}
        ${cmd.error ? html`<div class="field-error">${cmd.error}</div>` : ""}</div>`)
      : html`<p class="empty">No command was ever sent to this device.</p>`);
  } catch (err) {
    setHtml(dialog.querySelector("[data-role=list]"), html`<p class="empty">${err.message}</p>`);
  }
}

tbody.addEventListener("click", async (e) => {
  const history = e.target.closest("[data-history]");
  if (history) {
    const d = devices.get(history.closest("tr").dataset.device);
    if (d) showHistory(d);
    return;
  }
  const cancel = e.target.closest("[data-cancel]");
  if (cancel) {
    try { await tracker.cancel(cancel.dataset.cancel); } catch (err) { showError(err, "Cancel"); }
    return;
  }
  const button = e.target.closest("[data-action]");
  if (!button) return;
  const d = devices.get(button.closest("tr").dataset.device);
  if (!d) return;
  const action = button.dataset.action;
  const who = d.officer ? ` (${officerName(officers, d.officer)})` : "";
  const reason = await askText({
    title: `${actionWord(action)}: ${label(d)}${who}`,
    message: d.online ? "" : html`This device is <strong>offline</strong>: the command waits for it until it expires.`,
    label: "Reason",
    confirm: actionWord(action),
    danger: action === "start_recording",
    suggestions: REASONS,
  });
  if (reason === null) return;
  try {
    await tracker.send(d, action, reason);
  } catch (err) {
    showError(err, `${actionWord(action)} on ${label(d)} refused`);
  }
});

filters.addEventListener("input", (e) => {
  if (e.target.name === "sort") { renderAll(); return; }
  for (const [id, tr] of rows) applyFilter(tr, devices.get(id));
  summarize();
});

live.on("device.status", (e) => upsertDevice(e.device));
if (readJson("can-watch", false)) mountLiveTile({ live, devices, officers });
live.onOpen(({ reconnect }) => { if (reconnect) load(); tracker.poll(); });
live.start();
startAgoTicker();
// Each device's newest command as the page was made: the "Last command" column of a page opened
// afresh. What happens to them next comes as for any command (command.update events).
for (const cmd of readJson("last-commands", [])) if (!lastCommand.has(cmd.device)) lastCommand.set(cmd.device, cmd);
load();
