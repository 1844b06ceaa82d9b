// On every console page: a banner while a background process is missing (/readyz reports the
// worker's and beat's heartbeats), e.g. "officer notices are delayed", gone once it is back.
const WHAT = {
  worker: "The background worker is not running: officer notices, push briefings and clip checks are delayed.",
  beat: "The scheduler (celery beat) is not running: expiry, resends and sweeps are delayed.",
};
const PERIOD_MS = 15000;

async function check(banner) {
  let body = null;
  try {
    const response = await fetch("/readyz", { credentials: "same-origin", cache: "no-store" });
    body = await response.json();
  } catch (error) {
    body = { status: "unavailable", checks: {} };
  }
  const lines = [];
  if (body.status === "unavailable") {
    lines.push("The server reports a dependency down: " + (body.error?.message || "not ready") + ".");
  }
  for (const role of Object.keys(WHAT)) {
    const state = body.checks?.[role];
    if (state && state !== "ok") lines.push(WHAT[role]);
  }
  banner.replaceChildren(...lines.map((line) => {
    const p = document.createElement("p");
    p.textContent = line;
    return p;
  }));
  banner.hidden = lines.length === 0;
}

const banner = document.getElementById("health-banner");
if (banner) {
  check(banner);
  setInterval(() => check(banner), PERIOD_MS);
}
