// Plate search: reads of a plate (with wildcards) in a window and area, on the map and in a list.
import { get, query } from "./api.js";
import { drawMap } from "./mapdraw.js";
import { $, busy, fmtDateTime, html, setHtml, showError, showFieldErrors, toIso } from "./ui.js";

const svg = $("#map");
drawMap(svg, {});

$("#search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const data = Object.fromEntries(new FormData(form));
  for (const k of ["from", "to"]) data[k] = toIso(data[k]);
  for (const k of Object.keys(data)) if (data[k] === "") delete data[k];
  try {
    const page = await busy(form.querySelector("button"), "Searching…", () => get(`plate-reads${query({ ...data, page_size: 500 })}`));
    showFieldErrors(form, null);
    const reads = page.results;
    $("#count").textContent = `(${page.count})`;
    setHtml($("#reads"), reads.length ? reads.map((r) => html`<div class="list-item" data-read="${r.id}">
        <div class="row"><strong style="font-family:monospace">${r.plate_normalized}</strong> ${r.plate_state || ""}
          <span class="spacer"></span><span class="muted">${fmtDateTime(r.read_at)}</span></div>
        <div class="muted">${r.location ? `${r.location.lat.toFixed(5)}, ${r.location.lon.toFixed(5)}` : "no position"}${r.hits.length ? " · on a hotlist" : ""}</div>
        ${r.image_url ? html`<img src="${r.image_url}" alt="" loading="lazy" style="max-width:100%;max-height:90px">` : ""}</div>`)
      : html`<p class="empty">No reads match.</p>`);
    drawMap(svg, {
      units: reads.filter((r) => r.location).map((r) => ({
        id: r.id, kind: "alpr", lat: r.location.lat, lon: r.location.lon, at: r.read_at, online: true, recording: false,
        label: `${r.plate_normalized} ${fmtDateTime(r.read_at)}`,
      })),
    });
  } catch (err) { showFieldErrors(form, err); showError(err, "Search"); }
});
