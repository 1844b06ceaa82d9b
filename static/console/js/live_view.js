// The live viewer: one session's video through hls.js (vendored), tuned for a short delay, with
// the reason, who else is watching and how far the picture is behind the street.
import { get, post } from "./api.js";
import { Live } from "./live.js";
import { $, askText, directoryOf, fmtDateTime, fmtDuration, notify, officerName, readJson, showError } from "./ui.js";

const id = readJson("live-id");
const officers = directoryOf(readJson("officers-data", []));
const me = readJson("me-data", {});
const video = $("#lv-video");
const live = new Live();
let session = null;
let hls = null;

// Low latency with 1 s segments: start about 1.5 s behind the newest segment, catch up (faster
// playback) when more than 4 s behind, keep little buffer, and re-read the playlist every target duration.
const HLS_CONFIG = {
  liveSyncDuration: 1.5,
  liveMaxLatencyDuration: 4,
  maxLiveSyncPlaybackRate: 1.5,
  liveDurationInfinity: true,
  maxBufferLength: 4,
  backBufferLength: 10,
  initialLiveManifestSize: 1,
  manifestLoadingMaxRetry: 6,
  levelLoadingMaxRetry: 6,
  fragLoadingMaxRetry: 4,
  enableWorker: true,
};

function setText(selector, text) { $(selector).textContent = text; }

function render(s) {
  session = s;
  setText("#lv-device", s.device_label || s.device);
  const state = $("#lv-state");
  state.textContent = s.state === "live" ? "● LIVE" : s.state === "requested" ? "waiting for the camera" : `ended${s.end_reason ? ` (${s.end_reason.replace(/_/g, " ")})` : ""}`;
  state.className = `badge ${s.state === "live" ? "rec" : "idle"}`;
  state.dataset.state = s.state;
  setText("#lv-reason", s.reason);
  setText("#lv-requested-by", s.requested_by === me.id ? "you" : s.requested_by_name);
  setText("#lv-officer", s.officer ? officerName(officers, s.officer) : "unassigned");
  setText("#lv-started", s.started_at ? fmtDateTime(s.started_at) : "not yet");
  const viewers = $("#lv-viewers");
  if (!s.viewers.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "Nobody yet.";
    viewers.replaceChildren(li);
  } else {
    viewers.replaceChildren(...s.viewers.map((v) => {
      const li = document.createElement("li");
      li.dataset.user = v.user;
      li.textContent = `${v.full_name || v.username}${v.user === me.id ? " (you)" : ""} · since ${fmtDateTime(v.first_viewed_at)}`;
      return li;
    }));
  }
  const open = s.state !== "ended";
  $("#lv-stop").disabled = !open;
  $("#lv-renew").disabled = !open;
  if (s.state === "live" || (s.state === "ended" && s.started_at)) play();
  // After play(), which clears the note: an ended view opened afresh replays what it showed, paused.
  if (s.state === "ended") {
    setText("#lv-note", "This live view has ended: the video above is what it showed, not live. The recorded clip is the evidence.");
  }
}

function play() {
  if (hls || video.src) return;
  setText("#lv-note", "");
  video.autoplay = !(session && session.state === "ended"); // an ended view waits for its viewer
  const source = `/api/v1/live/${id}/playlist.m3u8`;
  const Hls = window.Hls;
  if (Hls && Hls.isSupported()) {
    hls = new Hls(HLS_CONFIG);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      if (session && session.state !== "ended") video.play().catch(() => {}); // an ended view waits for its viewer
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
      if (session && session.state !== "ended") { setTimeout(() => hls && hls.startLoad(), 1000); return; }
      setText("#lv-note", `Playback stopped: ${data.details}`);
    });
    hls.loadSource(source);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = source; // Safari plays HLS itself
  } else {
    setText("#lv-note", "This browser cannot play live video (no Media Source Extensions).");
  }
}

// Latency: the wall-clock time of the frame on screen (EXT-X-PROGRAM-DATE-TIME) against now.
function paintLatency() {
  const box = $("#lv-latency");
  let seconds = null;
  if (hls && hls.playingDate) seconds = (Date.now() - hls.playingDate.getTime()) / 1000;
  else if (hls && Number.isFinite(hls.latency) && hls.latency > 0) seconds = hls.latency;
  if (seconds === null || !session || session.state !== "live") {
    box.textContent = "latency –";
    box.dataset.level = "none";
    return;
  }
  box.textContent = `${seconds.toFixed(1)} s behind live`;
  box.dataset.level = seconds < 3 ? "good" : seconds < 6 ? "fair" : "poor";
  box.dataset.seconds = seconds.toFixed(2);
}

function paintEnds() {
  if (!session || session.state === "ended") { setText("#lv-ends", ""); return; }
  const left = (new Date(session.expires_at).getTime() - Date.now()) / 1000;
  setText("#lv-ends", left > 0 ? `ends by itself in ${fmtDuration(left)}` : "time limit reached");
}

let missing = false; // no such session (or not this person's to see): nothing more to ask
let lastError = "";

async function refresh() {
  try {
    render(await get(`live/${id}`));
    lastError = "";
  } catch (err) {
    if (err && (err.status === 404 || err.status === 403)) {
      missing = true;
      const state = $("#lv-state");
      state.textContent = "not found";
      state.className = "badge idle";
      state.dataset.state = "missing";
      $("#lv-stop").disabled = true;
      $("#lv-renew").disabled = true;
      setText("#lv-note", `${err.message} Start a live view from the fleet wall.`);
      return;
    }
    const message = err && err.message ? err.message : String(err);
    if (message !== lastError) showError(err, "Live view"); // once, not every second while it lasts
    lastError = message;
  }
}

$("#lv-stop").addEventListener("click", async () => {
  try { render(await post(`live/${id}/stop`)); } catch (err) { showError(err, "Stop"); }
});

$("#lv-renew").addEventListener("click", async () => {
  if (!session) return; // nothing loaded yet to renew
  const reason = await askText({ title: "Keep watching", label: "Reason", confirm: "Renew", value: session ? session.reason : "" });
  if (reason === null) return;
  try {
    render(await post(`devices/${session.device}/live`, { reason }));
    notify("Live view renewed.", "ok");
  } catch (err) { showError(err, "Renew"); }
});

live.on("live.update", (e) => { if (e.live.id === id) render(e.live); });
live.onOpen(() => { if (!missing) refresh(); });
live.start();
setInterval(paintLatency, 500);
setInterval(paintEnds, 1000);
// Until the first segment arrives (or if the socket is down), look every second.
setInterval(() => { if (!missing && (!session || session.state === "requested")) refresh(); }, 1000);
window.rtccLiveView = { get hls() { return hls; }, get session() { return session; } };
