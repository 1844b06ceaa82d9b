// Clip rendering shared by the search page and the clip page.
import { getAll } from "./api.js";
import { directoryOf, fmtBytes, fmtDateTime, fmtDuration, html, officerName, setHtml, showError } from "./ui.js";

let categories = null;

export async function loadCategories(select, value = "", { any = true, fresh = false } = {}) {
  try {
    categories = (!fresh && categories) || await getAll("categories");  // every page of them
    const list = categories;
    setHtml(select, html`${any ? html`<option value="">any</option>` : ""}${list.map((c) => html`<option value="${c.slug}">${c.name}${c.retention_days === null ? " (kept indefinitely)" : ` (${c.retention_days} days)`}</option>`)}`);
    select.value = value;
    return list;
  } catch (err) { showError(err, "Categories"); return []; }
}

export function deviceName(devices, id) {
  const d = devices.find((x) => x.id === String(id));
  return d ? (d.label || `${d.kind} ${d.serial}`) : (id ? String(id).slice(0, 8) : "");
}

export function incidentName(incidents, id) {
  const i = incidents.find((x) => x.id === String(id));
  return i ? i.title : (id ? String(id).slice(0, 8) : "");
}

export function clipRow(c, { officers, devices }) {
  const dir = directoryOf(officers);
  const length = c.duration_s !== null && c.duration_s !== undefined ? fmtDuration(c.duration_s)
    : (c.started_at && c.ended_at ? fmtDuration((new Date(c.ended_at) - new Date(c.started_at)) / 1000) : "");
  return html`<tr data-clip="${c.id}" style="cursor:pointer">
    <td class="nowrap num">${fmtDateTime(c.started_at)}</td><td class="num">${length}</td>
    <td>${officerName(dir, c.officer) || html`<span class="muted">–</span>`}</td><td>${deviceName(devices, c.device)}</td>
    <td>${c.category || ""}</td><td>${c.case_number || ""}</td><td>${c.trigger || ""}</td>
    <td><span class="state ${c.state}">${c.state}</span>${c.legal_hold ? html` <span class="badge held">HOLD</span>` : ""}</td>
    <td class="num nowrap">${fmtBytes(c.size_bytes)}</td>
    <td><a href="/footage/${encodeURIComponent(c.id)}/">Open</a></td></tr>`;
}
