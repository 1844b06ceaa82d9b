// Shared page helpers: escaping, formatting times and sizes, notices, the reason prompt.

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Markup built with escaping by default. html`<td>${name}</td>` escapes every interpolated value
// (text and quoted attribute values alike); what is already html`...`, or an array of such, goes in
// as markup; null, undefined and false give nothing. safe(text) marks a string as trusted markup:
// use it only on literals written in this code, never on data. Put markup into a page with
// setHtml(element, markup): a plain string given to setHtml is shown as text.
class Html {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

export function safe(markup) { return markup instanceof Html ? markup : new Html(String(markup ?? "")); }

function markupOf(value) {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(markupOf).join("");
  return esc(value);
}

export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i += 1) out += markupOf(values[i]) + strings[i + 1];
  return new Html(out);
}

export function isHtml(value) { return value instanceof Html; }

export function setHtml(element, markup) {
  element.innerHTML = markupOf(markup);
  return element;
}

export function $(selector, root = document) { return root.querySelector(selector); }
export function $all(selector, root = document) { return Array.from(root.querySelectorAll(selector)); }

export function readJson(id, fallback = null) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : fallback;
}

export function uuid4() {
  // crypto.randomUUID needs a secure context; getRandomValues works on plain http on a LAN too.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const pad = (n) => String(n).padStart(2, "0");

function clock(d) { return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; }

// "14:03:22" today, "11-20 14:03:22" on another day.
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toDateString() === new Date().toDateString() ? clock(d) : `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d)}`;
}

export function fmtDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d)}`;
}

export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return "never";
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 0) return `in ${fmtDuration(-s)}`;
  if (s < 5) return "just now";
  return `${fmtDuration(s)} ago`;
}

export function fmtDuration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60 ? `${seconds % 60} s` : ""}`.trim();
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0; let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

// Elements with data-ago="<iso>" show a live "12 s ago"; one timer for the page.
export function startAgoTicker(root = document) {
  const tick = () => {
    const now = Date.now();
    for (const el of root.querySelectorAll("[data-ago]")) el.textContent = fmtAgo(el.dataset.ago, now);
    for (const el of root.querySelectorAll("[data-until]")) {
      const left = (new Date(el.dataset.until).getTime() - now) / 1000;
      el.textContent = left > 0 ? `expires in ${fmtDuration(left)}` : "expiry due";
    }
  };
  tick();
  return setInterval(tick, 1000);
}

export function agoSpan(iso) {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<span data-ago="${iso}" title="${fmtDateTime(iso)}">${fmtAgo(iso)}</span>`;
}

// Notices: errors stay until dismissed, confirmations fade after a while.
export function notify(message, kind = "info", { timeout } = {}) {
  const box = document.getElementById("notices");
  if (!box) { if (kind === "error") alert(message); return; }
  // The same notice again (a failed form sent three times) replaces the one shown, never stacks.
  for (const shown of box.querySelectorAll(".notice")) if (shown.dataset.text === `${kind}:${message}`) shown.remove();
  const item = document.createElement("div");
  item.className = `notice ${kind}`;
  item.dataset.text = `${kind}:${message}`;
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  setHtml(item, html`<p>${message}</p><button type="button" aria-label="Dismiss">✕</button>`);
  item.querySelector("button").addEventListener("click", () => item.remove());
  box.prepend(item);
  // An error stays long enough to be read (or until dismissed), then gives back what it covers.
  const ttl = timeout ?? (kind === "error" ? 20000 : 6000);
  if (ttl) setTimeout(() => item.remove(), ttl);
  while (box.children.length > 6) box.lastElementChild.remove();
  return item;
}

// A notice for the page the browser opens next: a form whose success opens another page (the new
// briefing's board, the new lead) said so on the page it left, where nobody saw it.
const CARRIED = "rtcc-notice";
export function notifyNext(message, kind = "info") {
  try { sessionStorage.setItem(CARRIED, JSON.stringify({ message, kind })); } catch (e) { notify(message, kind); }
}
function showCarried() {
  let carried = null;
  try {
    carried = JSON.parse(sessionStorage.getItem(CARRIED) || "null");
    sessionStorage.removeItem(CARRIED);
  } catch (e) { return; }
  if (carried && carried.message) notify(carried.message, carried.kind);
}
if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCarried);
  else showCarried();
}

export function showError(err, prefix = "") {
  const message = err && err.message ? err.message : String(err);
  notify(prefix ? `${prefix}: ${message}` : message, "error");
}

// Puts the API's field errors next to the inputs of that name inside a form.
// Conflicts (409) that are about one field's value: shown at that field, as a 400's are.
const FIELD_OF_CODE = { serial_taken: "serial", username_taken: "username" };

export function showFieldErrors(form, err) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  const field = err && !err.fields && FIELD_OF_CODE[err.code];
  const fields = (err && err.fields) || (field ? { [field]: [err.message] } : {});
  for (const [name, messages] of Object.entries(fields)) {
    const input = fieldInput(form, name);
    if (!input) continue;
    const p = document.createElement("span");
    p.className = "field-error";
    p.textContent = messages.join(" ");
    const label = input.closest("label");
    if (label) label.append(p); // under its own field, wherever the form's grid puts the next cell
    else input.after(p);
  }
}

// The input a field error names: the form's input of that name, or, for an entry of a list the
// API names as "vehicles.0.year", the `data-f="year"` input of the first `.entry` in `#vehicles`.
function fieldInput(form, name) {
  const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (input) return input;
  const match = /^(\w+)\.(\d+)\.(\w+)$/.exec(name);
  if (!match) return null;
  const entry = form.querySelectorAll(`#${CSS.escape(match[1])} .entry`)[Number(match[2])];
  return entry ? entry.querySelector(`[data-f="${CSS.escape(match[3])}"]`) : null;
}

/**
 * A modal asking for a required reason (or any required text). Resolves to the text, or null when cancelled.
 * `message` is text, or html`...` for emphasis; `missing` says what to do when the text is left empty.
 */
export function askText({ title, message = "", label = "Reason", confirm = "Confirm", danger = false,
  placeholder = "", suggestions = [], value = "", required = true, field = true,
  missing = "Please give a reason: it is recorded in the audit trail." }) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    const listId = `sugg-${uuid4()}`;
    setHtml(dialog, html`
      <form method="dialog" novalidate>
        <h2>${title}</h2>
        ${message ? html`<p>${message}</p>` : ""}
        ${field ? html`<label>${label}${required ? " (required)" : ""}
          <textarea name="text" rows="3" maxlength="500" ${required ? safe("required") : ""} placeholder="${placeholder}"
            ${suggestions.length ? html`list="${listId}"` : ""}>${value}</textarea></label>` : ""}
        ${suggestions.length ? html`<div class="row">${suggestions.map((s) => html`<button type="button" class="secondary small" data-s="${s}">${s}</button>`)}</div>` : ""}
        <p class="field-error hidden" data-role="err">${missing}</p>
        <div class="row end">
          <button type="button" class="secondary" value="cancel" data-role="cancel">Cancel</button>
          <button type="submit" class="${danger ? "danger" : ""}" data-role="ok">${confirm}</button>
        </div>
      </form>`);
    document.body.append(dialog);
    const text = dialog.querySelector("textarea");
    const done = (result) => { dialog.close(); dialog.remove(); resolve(result); };
    for (const b of dialog.querySelectorAll("[data-s]")) {
      b.addEventListener("click", () => { text.value = b.dataset.s; text.focus(); });
    }
    dialog.querySelector("[data-role=cancel]").addEventListener("click", () => done(null));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); done(null); });
    dialog.querySelector("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const v = text ? text.value.trim() : "";
      if (required && !v) { dialog.querySelector("[data-role=err]").classList.remove("hidden"); text.focus(); return; }
      done(v);
    });
    dialog.showModal();
    (text || dialog.querySelector("[data-role=ok]")).focus();
  });
}

// Yes or no, nothing to type (a note asked for here would be recorded nowhere).
export function confirmDialog({ title, message, confirm = "Confirm", danger = false }) {
  return askText({ title, message, confirm, danger, required: false, field: false })
    .then((v) => v !== null);
}

// Follows a button through a request: disabled and labelled while it runs.
// Runs a form's request with its button disabled and relabelled. Each try starts by clearing the
// form's field errors from the try before: a submit that succeeds leaves none behind, and one that
// fails shows its own (showFieldErrors).
export async function busy(button, label, fn) {
  const old = [...button.childNodes];
  if (button.form) showFieldErrors(button.form, null);
  button.disabled = true;
  button.textContent = label;
  try { return await fn(); } finally { button.disabled = false; button.replaceChildren(...old); }
}

export function officerName(directory, id) {
  if (!id) return "";
  const o = directory.get(String(id));
  if (!o) return String(id).slice(0, 8);
  const name = o.full_name || o.username;
  return o.badge_number ? `${name} #${o.badge_number}` : name;
}

export function directoryOf(list) {
  return new Map((list || []).map((o) => [String(o.id), o]));
}

export function toLocalInput(iso) {
  // RFC 3339 (any zone) or a date -> the value an <input type="datetime-local" step="1"> shows, in the browser's zone.
  if (!iso) return "";
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(iso) ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function toIso(localValue) {
  // <input type="datetime-local"> value -> RFC 3339 with the browser's zone offset.
  if (!localValue) return "";
  const d = new Date(localValue);
  if (Number.isNaN(d.getTime())) return "";
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const a = Math.abs(off);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}
