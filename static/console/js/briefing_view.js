// One briefing as officers read it (shared by the delivery board and the officer phone page).
import { html } from "./ui.js";

function photo(url, alt) {
  return url ? html`<img src="${url}" alt="${alt}">` : "";
}

// The API gives each suspect or vehicle with a photo its image and thumbnail links (same origin).
function photoUrl(item) {
  return item.thumbnail_url || item.photo_url || "";
}

// "3 officers (1 without a phone)": `recipients` is the whole audience, and an officer with no
// phone to push to is in it but never gets the briefing on a phone (section 11.3).
export function audienceText(b) {
  const n = b.recipients ?? 0;
  const without = b.officers_without_phone || 0;
  return `${n} officer${n === 1 ? "" : "s"}${without ? ` (${without} without a phone)` : ""}`;
}

export function briefingHtml(b, { big = false } = {}) {
  const suspects = (b.suspects || []).map((s) => {
    const facts = [s.sex, s.height, s.clothing && `wearing ${s.clothing}`].filter(Boolean).join(" · ");
    const img = photo(photoUrl(s), "suspect photo");
    return html`<div class="subject${img ? "" : " no-photo"}">${img}<div>
      <strong>${s.name || "Suspect"}</strong> ${s.armed ? html`<span class="armed">ARMED</span>` : ""}
      <div>${s.description}</div>${facts ? html`<div class="muted">${facts}</div>` : ""}</div></div>`;
  });
  const vehicles = (b.vehicles || []).map((v) => {
    const what = [v.color, v.year, v.make, v.model].filter(Boolean).join(" ");
    const img = photo(photoUrl(v), "vehicle photo");
    return html`<div class="subject${img ? "" : " no-photo"}">${img}<div>
      <span class="plate">${v.plate}</span>${v.plate_state ? html` <span class="muted">${v.plate_state}</span>` : ""}
      <div>${what}</div>${v.direction ? html`<div class="muted">heading ${v.direction}</div>` : ""}</div></div>`;
  });
  return html`${b.body ? html`<p style="margin:0;${big ? "font-size:1.1rem" : ""}">${b.body}</p>` : ""}
    ${suspects.length ? html`<h3>Suspects</h3><div class="who-what">${suspects}</div>` : ""}
    ${vehicles.length ? html`<h3>Vehicles</h3><div class="who-what">${vehicles}</div>` : ""}`;
}
