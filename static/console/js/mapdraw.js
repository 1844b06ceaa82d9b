// Draws positions to scale in an SVG (no tiles): lat/lon projected onto the view box, metres to pixels.
import { html, setHtml } from "./ui.js";

const M_PER_DEG = 111320; // metres per degree of latitude
const NS = "http://www.w3.org/2000/svg";
export const STALE_MS = 10 * 60 * 1000;

function niceStep(metres) {
  const pow = 10 ** Math.floor(Math.log10(metres));
  for (const m of [1, 2, 5, 10]) if (m * pow >= metres) return m * pow;
  return 10 * pow;
}

function fmtDistance(m) { return m >= 1000 ? `${m / 1000} km` : `${m} m`; }

export function validPoint(lat, lon) {
  return typeof lat === "number" && typeof lon === "number" && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
}

/**
 * units: [{id, kind, lat, lon, label, recording, online, at}]; scenes: [{id, lat, lon, radius_m, title, active}]
 * focus: optional {lat, lon, radius_m} to frame instead of everything.
 */
export function drawMap(svg, { units = [], scenes = [], focus = null, minSpanM = 600 } = {}) {
  const [, , W, H] = svg.getAttribute("viewBox").split(" ").map(Number);
  const pts = [];
  const add = (lat, lon, r = 0) => {
    if (!validPoint(lat, lon)) return;
    const dLat = r / M_PER_DEG;
    const dLon = r / (M_PER_DEG * Math.max(0.05, Math.cos((lat * Math.PI) / 180)));
    pts.push([lat - dLat, lon - dLon], [lat + dLat, lon + dLon]);
  };
  if (focus) add(focus.lat, focus.lon, (focus.radius_m || 0) * 1.4);
  else {
    for (const u of units) add(u.lat, u.lon);
    for (const s of scenes) add(s.lat, s.lon, s.radius_m || 0);
  }
  if (!pts.length) {
    setHtml(svg, html`<rect width="${W}" height="${H}" fill="#061018"/><text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#a7b6c5" font-size="22">No positions reported yet</text>`);
    return null;
  }
  const lats = pts.map((p) => p[0]); const lons = pts.map((p) => p[1]);
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const kx = Math.max(0.05, Math.cos((midLat * Math.PI) / 180));
  let minX = Math.min(...lons) * kx; let maxX = Math.max(...lons) * kx;
  let minY = Math.min(...lats); let maxY = Math.max(...lats);
  const minSpan = minSpanM / M_PER_DEG;
  const cx = (minX + maxX) / 2; const cy = (minY + maxY) / 2;
  const spanX = Math.max(maxX - minX, minSpan) * 1.15; const spanY = Math.max(maxY - minY, minSpan) * 1.15;
  const s = Math.min(W / spanX, H / spanY); // pixels per degree (of latitude)
  minX = cx - W / 2 / s; maxX = cx + W / 2 / s; minY = cy - H / 2 / s; maxY = cy + H / 2 / s;
  const px = (lat, lon) => [W / 2 + (lon * kx - cx) * s, H / 2 - (lat - cy) * s];
  const mToPx = (m) => (m / M_PER_DEG) * s;

  const out = [html`<rect width="${W}" height="${H}" fill="#061018"/>`];
  // Grid every "nice" distance, about six lines across.
  const step = niceStep((W / s) * M_PER_DEG / 6);
  const stepDeg = step / M_PER_DEG;
  const grid = [];
  for (let x = Math.ceil(minX / stepDeg) * stepDeg; x <= maxX; x += stepDeg) {
    const X = W / 2 + (x - cx) * s; grid.push(html`<line x1="${X.toFixed(1)}" y1="0" x2="${X.toFixed(1)}" y2="${H}"/>`);
  }
  for (let y = Math.ceil(minY / stepDeg) * stepDeg; y <= maxY; y += stepDeg) {
    const Y = H / 2 - (y - cy) * s; grid.push(html`<line x1="0" y1="${Y.toFixed(1)}" x2="${W}" y2="${Y.toFixed(1)}"/>`);
  }
  out.push(html`<g class="grid">${grid}</g>`);

  const labels = new Labels();
  for (const sc of scenes) {
    if (!validPoint(sc.lat, sc.lon)) continue;
    const [x, y] = px(sc.lat, sc.lon);
    const r = mToPx(sc.radius_m || 0);
    const text = `${sc.title}${sc.radius_m ? ` (${sc.radius_m} m)` : ""}`;
    const at = labels.place(x, y - 12, 14, text, 18, x > W * 0.6); // near the right edge: left of the mark
    out.push(html`<g class="scene${sc.active ? " active" : ""}" data-scene="${sc.id}"><title>${sc.title}${sc.radius_m ? ` · radius ${sc.radius_m} m` : ""}</title>${
      r > 0 ? html`<circle class="radius" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r.toFixed(1)}"/>` : ""}<path d="M${x - 10} ${y - 10}L${x + 10} ${y + 10}M${x + 10} ${y - 10}L${x - 10} ${y + 10}"/>${
      at ? html`<text x="${at.x}" y="${y - 12}" font-size="18" text-anchor="${at.anchor}">${text}</text>` : ""}</g>`);
  }
  const now = Date.now();
  for (const u of units) {
    if (!validPoint(u.lat, u.lon)) continue;
    const [x, y] = px(u.lat, u.lon);
    if (x < -20 || y < -20 || x > W + 20 || y > H + 20) continue;
    const stale = u.at && now - new Date(u.at).getTime() > STALE_MS;
    const cls = `unit ${u.kind === "phone" ? "phone" : "bodycam"}${u.recording ? " recording" : ""}${u.online ? "" : " offline"}${stale ? " stale" : ""}`;
    const mark = u.kind === "phone"
      ? html`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="9"/>`
      : html`<rect x="${(x - 8).toFixed(1)}" y="${(y - 8).toFixed(1)}" width="16" height="16" rx="2"/>`;
    const at = labels.place(x, y + 6, 13, u.label, 16, x > W * 0.7);
    out.push(html`<g class="${cls}" data-unit="${u.id}"><title>${u.label}${u.recording ? " · recording" : ""}</title>${mark}${
      at ? html`<text x="${at.x}" y="${y + 6}" font-size="16" text-anchor="${at.anchor}">${u.label}</text>` : ""}</g>`);
  }
  // Scale bar, bottom left.
  const bar = mToPx(step);
  out.push(html`<g class="scale"><line x1="20" y1="${H - 24}" x2="${20 + bar}" y2="${H - 24}"/><line x1="20" y1="${H - 32}" x2="20" y2="${H - 16}"/><line x1="${20 + bar}" y1="${H - 32}" x2="${20 + bar}" y2="${H - 16}"/><text x="${26 + bar}" y="${H - 19}" font-size="16">${fmtDistance(step)} (grid)</text></g>`);
  setHtml(svg, out);
  return { px, mToPx, metresPerPixel: M_PER_DEG / s };
}

/**
 * Where each label goes so that none covers another: beside its mark on the preferred side, else on
 * the other side, else nowhere (marks close together, a plate read twice at one spot: the label
 * stays in the mark's tooltip). Widths are estimated from the font size.
 */
class Labels {
  constructor() { this.boxes = []; }

  place(x, baseline, gap, text, size, preferLeft) {
    const w = String(text).length * size * 0.6;
    for (const left of preferLeft ? [true, false] : [false, true]) {
      const x0 = left ? x - gap - w : x + gap;
      const box = [x0, baseline - size, x0 + w, baseline + size * 0.25];
      if (this.boxes.every((b) => box[2] < b[0] || box[0] > b[2] || box[3] < b[1] || box[1] > b[3])) {
        this.boxes.push(box);
        return { x: (left ? x - gap : x + gap).toFixed(1), anchor: left ? "end" : "start" };
      }
    }
    return null;
  }
}

export { NS };
