// One clip: details and hash, retrieval with a reason, classification, legal hold, custody trail.
import { api, get, patch, post } from "./api.js";
import { deviceName, incidentName, loadCategories } from "./clips.js";
import { $, askText, busy, directoryOf, fmtBytes, fmtDateTime, fmtDuration, html, notify, officerName, readJson, setHtml, showError, showFieldErrors } from "./ui.js";

const officers = readJson("officers-data", []);
const dir = directoryOf(officers);
const devices = readJson("devices-data", []);
const incidents = readJson("incidents-data", []);
const clipId = readJson("clip-id", "");
// A remote start: the command the camera named (who, when, why), or matched false (no such command to this camera).
const origin = readJson("origin-data", null);
let clip = null;
let expiryTimer = 0;

function paint() {
  $("#c-title").textContent = `Clip ${clip.id.slice(0, 8)}`;
  setHtml($("#c-state"), html`<span class="state ${clip.state}">${clip.state}</span>${clip.legal_hold ? html` <span class="badge held">LEGAL HOLD</span>` : ""}`);
  const loc = clip.location && clip.location.lat !== undefined ? `${Number(clip.location.lat).toFixed(5)}, ${Number(clip.location.lon).toFixed(5)}` : "–";
  const rows = [
    ["Recorded", `${fmtDateTime(clip.started_at)} → ${fmtDateTime(clip.ended_at)}`],
    ["Length", clip.duration_s !== null && clip.duration_s !== undefined ? fmtDuration(clip.duration_s) : "–"],
    ["Officer", officerName(dir, clip.officer) || "–"],
    ["Device", deviceName(devices, clip.device) || "–"],
    ["Trigger", clip.trigger || "–"],
    ...originRows(),
    ["Category", clip.category || "–"],
    ["Case number", clip.case_number || "–"],
    ["Incident", incidentName(incidents, clip.incident) || "–"],
    ["Size", `${fmtBytes(clip.size_bytes)} (${Number(clip.size_bytes).toLocaleString()} bytes)`],
    ["Kept until", clip.legal_hold ? "held: never deleted while on hold" : (clip.retain_until ? fmtDateTime(clip.retain_until) : "indefinitely")],
    ["Location", loc],
    ["Clip id", clip.id],
  ];
  setHtml($("#c-details"), rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`));
  $("#c-sha").textContent = clip.sha256 || "–";
  const form = $("#edit-form");
  form.case_number.value = clip.case_number || "";
  form.incident.value = clip.incident || "";
  if (clip.category) form.category.value = clip.category;
  $("#retain").textContent = "";
  setHtml($("#hold-state"), clip.legal_hold
    ? html`<strong style="color:var(--warn)">On hold.</strong> Nothing deletes this clip until the hold is released.`
    : "Not on hold: the clip is deleted when its category's retention ends.");
  $("#hold-on").classList.toggle("hidden", !!clip.legal_hold);
  $("#hold-off").classList.toggle("hidden", !clip.legal_hold);
  $("#access-form button").disabled = clip.state !== "available";
  $("#access-form button").title = clip.state === "available" ? "" : `The clip is ${clip.state}: only verified clips can be retrieved.`;
}

function originRows() {
  if (!origin) return [];
  if (!origin.matched) {
    return [["Started by", html`<span class="state failed">unknown command</span> the camera named command ${origin.command_id}, which was never sent to it`]];
  }
  const action = origin.action === "start_recording" ? "remote start" : origin.action.replace(/_/g, " ");
  return [
    ["Started by", `${origin.requested_by}, ${fmtDateTime(origin.created_at)} (${action}, command ${origin.state})`],
    ["Reason given", origin.reason],
  ];
}

function actorText(e) {
  if (e.actor_label) return e.actor_type && e.actor_type !== "user" ? `${e.actor_label} (${e.actor_type})` : e.actor_label;
  const a = e.actor;
  if (!a) return "system";
  if (typeof a === "string") return dir.has(a) ? officerName(dir, a) : a;
  return a.username || a.label || a.name || a.id || JSON.stringify(a);
}

const BAD_OUTCOMES = new Set(["failure", "failed", "denied", "error", "corrupt", "locked"]);
function outcomeMark(outcome) {
  if (!outcome || outcome === "success") return "";
  return BAD_OUTCOMES.has(outcome) ? html` <span class="state failed">${outcome}</span>` : html` <span class="muted">(${outcome})</span>`;
}

function detailText(d) {
  if (d === null || d === undefined || d === "") return "";
  if (typeof d === "string") return d;
  return Object.entries(d).map(([k, v]) => `${k}: ${detailValue(k, v)}`).join(" · ");
}

// The people and devices a custody event names, by name where the page knows them (not their ids).
function detailValue(key, value) {
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  if (key === "officer" && dir.has(String(value))) return officerName(dir, value);
  if (key === "device" && devices.some((x) => x.id === String(value))) return deviceName(devices, value);
  return value;
}

async function loadCustody() {
  try {
    const raw = await get(`clips/${clipId}/custody?page_size=500`);
    const list = Array.isArray(raw) ? raw : raw.results || [];
    setHtml($("#custody tbody"), list.length ? list.map((e) => html`<tr><td class="nowrap num">${fmtDateTime(e.at)}</td>
      <td>${actorText(e)}${e.source_ip ? html`<br><span class="muted mono">${e.source_ip}</span>` : ""}</td>
      <td><strong>${e.action}</strong>${outcomeMark(e.outcome)}${e.verified === false ? html` <span class="state failed">altered</span>` : ""}</td>
      <td class="detail">${detailText(e.detail)}</td></tr>`)
      : html`<tr><td colspan="4" class="empty">No events.</td></tr>`);
    const verdict = raw && !Array.isArray(raw) ? raw.chain_intact : undefined;
    if (verdict !== undefined) {
      setHtml($("#chain"), verdict ? html`<span class="state succeeded">audit chain intact</span>` : html`<span class="state failed">audit chain broken</span>`);
    }
  } catch (err) { showError(err, "Custody"); }
}

async function load() {
  try {
    clip = await get(`clips/${clipId}`);
    await loadCategories($("#edit-form").category, clip.category || "", { any: false });
    paint();
  } catch (err) {
    showError(err, "Clip");
    setHtml($("#c-details"), html`<dt>Error</dt><dd>${err.message}</dd>`);
    return;
  }
  loadCustody();
}

$("#copy-sha").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(clip.sha256); notify("SHA-256 copied.", "ok"); } catch (e) {
    const range = document.createRange(); range.selectNodeContents($("#c-sha"));
    getSelection().removeAllRanges(); getSelection().addRange(range); notify("Press Ctrl+C to copy the selected hash.");
  }
});

// The player asks for the clip's bytes only when the clerk plays it (preload="none"): each byte
// read through the link is an access in the chain of custody, which a preload logged before anyone
// watched or downloaded anything.
$("#video").addEventListener("error", () => {
  if (!$("#video").getAttribute("src")) return;
  notify("This browser cannot play this clip. Download the original to view it.", "error");
});

$("#access-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const reason = form.reason.value.trim();
  if (!reason) { showFieldErrors(form, { fields: { reason: ["Give the reason for this access."] } }); return; }
  try {
    const access = await busy(form.querySelector("button"), "Requesting link…", () => post(`clips/${clipId}/access`, { reason }));
    showFieldErrors(form, null);
    $("#player").classList.remove("hidden");
    $("#video").src = access.url;
    $("#download").href = access.url;
    $("#download").setAttribute("download", access.filename || `clip-${clipId}`);
    clearInterval(expiryTimer);
    const tick = () => {
      const left = (new Date(access.expires_at) - Date.now()) / 1000;
      $("#link-expiry").textContent = left > 0 ? `Link valid for ${fmtDuration(left)} (until ${fmtDateTime(access.expires_at)}). Check the download with sha256sum.` : "Link expired: retrieve again with a reason.";
      if (left <= 0) { clearInterval(expiryTimer); $("#download").removeAttribute("href"); }
    };
    tick();
    expiryTimer = setInterval(tick, 1000);
    notify("Access granted and recorded in the chain of custody.", "ok");
    loadCustody();
  } catch (err) {
    showFieldErrors(form, err);
    showError(err, "Retrieve");
  }
});

$("#edit-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = { category: form.category.value, case_number: form.case_number.value.trim(), incident: form.incident.value || null };
  try {
    clip = await busy(form.querySelector("button[type=submit]"), "Saving…", () => patch(`clips/${clipId}`, body));
    showFieldErrors(form, null);
    paint();
    notify("Classification saved.", "ok");
    loadCustody();
  } catch (err) {
    showFieldErrors(form, err);
    showError(err, "Save");
  }
});

async function hold(on) {
  const reason = await askText({
    title: on ? "Place a legal hold" : "Release the legal hold",
    message: on ? "A held clip is never deleted, whatever its retention." : "After release the clip follows its category's retention again.",
    confirm: on ? "Place hold" : "Release hold", danger: !on, suggestions: on ? ["Litigation hold", "Court order", "Internal affairs review"] : [],
  });
  if (reason === null) return;
  try {
    const result = await api(on ? "POST" : "DELETE", `clips/${clipId}/hold`, { reason });
    clip = result && result.id ? result : await get(`clips/${clipId}`);
    paint();
    notify(on ? "Legal hold placed." : "Legal hold released.", "ok");
    loadCustody();
  } catch (err) { showError(err, "Legal hold"); }
}
$("#hold-on").addEventListener("click", () => hold(true));
$("#hold-off").addEventListener("click", () => hold(false));

load();
