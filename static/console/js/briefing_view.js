// One briefing as officers read it (shared by the delivery board and the officer phone page).
import { esc } from "./ui.js";

function photo(url, alt) {
  return url ? `<img src="${esc(url)}" alt="${esc(alt)}">` : "";
}

// The API gives each suspect or vehicle with a photo its image and thumbnail links (same origin).
function photoUrl(item) {
  return item.thumbnail_url || item.photo_url || "";
}

export function briefingHtml(b, { big = false } = {}) {
  const suspects = (b.suspects || []).map((s) => {
    const facts = [s.sex, s.height, s.clothing && `wearing ${s.clothing}`].filter(Boolean).map(esc).join(" · ");
    const img = photo(photoUrl(s), "suspect photo");
    return `<div class="subject${img ? "" : " no-photo"}">${img}<div>
      <strong>${s.name ? esc(s.name) : "Suspect"}</strong> ${s.armed ? '<span class="armed">ARMED</span>' : ""}
      <div>${esc(s.description)}</div>${facts ? `<div class="muted">${facts}</div>` : ""}</div></div>`;
  }).join("");
  const vehicles = (b.vehicles || []).map((v) => {
    const what = [v.color, v.year, v.make, v.model].filter(Boolean).map(esc).join(" ");
    const img = photo(photoUrl(v), "vehicle photo");
    return `<div class="subject${img ? "" : " no-photo"}">${img}<div>
      <span class="plate">${esc(v.plate)}</span>${v.plate_state ? ` <span class="muted">${esc(v.plate_state)}</span>` : ""}
      <div>${what || ""}</div>${v.direction ? `<div class="muted">heading ${esc(v.direction)}</div>` : ""}</div></div>`;
  }).join("");
  return `${b.body ? `<p style="margin:0;${big ? "font-size:1.1rem" : ""}">${esc(b.body)}</p>` : ""}
    ${suspects ? `<h3>Suspects</h3><div class="who-what">${suspects}</div>` : ""}
    ${vehicles ? `<h3>Vehicles</h3><div class="who-what">${vehicles}</div>` : ""}`;
}
