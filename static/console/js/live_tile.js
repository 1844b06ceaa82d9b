// The fleet wall's live tile: open live views (who watches what, and why) and a way to ask for one.
import { getAll, post } from "./api.js";
import { $, askText, officerName, showError } from "./ui.js";

const REASONS = ["Officer requested backup", "Use of force reported", "Pursuit in progress", "Supervisor request"];
const OPEN = new Set(["requested", "live"]);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

export function mountLiveTile({ live, devices, officers }) {
  const sessions = new Map();
  const list = $("#live-list");
  const form = $("#live-ask");
  const select = form.elements.device;

  function deviceName(id, fallback) {
    const d = devices.get(id);
    return (d && (d.label || d.serial)) || fallback || String(id).slice(0, 8);
  }

  function paintSessions() {
    const open = [...sessions.values()].filter((s) => OPEN.has(s.state))
      .sort((a, b) => new Date(b.created_at) - new Date(a.created_at));
    $("#n-live").textContent = open.length;
    if (!open.length) {
      list.replaceChildren(el("li", { class: "empty", text: "No live view open." }));
      return;
    }
    list.replaceChildren(...open.map((s) => {
      const watching = s.viewers.map((v) => v.full_name || v.username);
      const officer = s.officer ? ` · ${officerName(officers, s.officer)}` : "";
      return el("li", { "data-live": s.id },
        el("span", { class: s.state === "live" ? "badge rec" : "badge idle", text: s.state === "live" ? "● LIVE" : "waiting" }),
        " ",
        el("strong", { text: deviceName(s.device, s.device_label) }),
        el("span", { class: "muted", text: `${officer} · “${s.reason}” · asked by ${s.requested_by_name}` }),
        el("span", { class: "muted", text: watching.length ? ` · watching: ${watching.join(", ")}` : " · nobody watching yet" }),
        " ",
        el("a", { href: `/live/${s.id}/`, class: "button small", text: "Open viewer" }));
    }));
  }

  function paintChoices() {
    const current = select.value;
    const recording = [...devices.values()].filter((d) => d.kind === "bodycam" && d.online && d.recording && !d.revoked)
      .sort((a, b) => deviceName(a.id).localeCompare(deviceName(b.id)));
    const options = recording.map((d) => el("option", {
      value: d.id,
      text: `${deviceName(d.id)}${d.officer ? ` · ${officerName(officers, d.officer)}` : ""}`,
    }));
    if (!options.length) options.push(el("option", { value: "", text: "(no camera is recording)" }));
    select.replaceChildren(...options);
    if (recording.some((d) => d.id === current)) select.value = current;
  }

  async function load() {
    try {
      for (const s of await getAll("live?state=live")) sessions.set(s.id, s);
      for (const s of await getAll("live?state=requested")) sessions.set(s.id, s);
      paintSessions();
    } catch (err) {
      showError(err, "Live view");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault(); // no inline handler: the page's CSP allows none
    const id = select.value;
    if (!id) return;
    const d = devices.get(id);
    const reason = await askText({
      title: `Watch live: ${deviceName(id)}`,
      message: "The officer is told on their phone that you are watching and why. Your viewing is recorded.",
      label: "Reason",
      confirm: "Watch live",
      suggestions: REASONS,
    });
    if (reason === null) return;
    try {
      const session = await post(`devices/${id}/live`, { reason });
      location.assign(`/live/${session.id}/`);
    } catch (err) {
      showError(err, `Live view of ${d ? deviceName(id) : "the camera"} refused`);
    }
  });

  live.on("live.update", (e) => { sessions.set(e.live.id, e.live); paintSessions(); });
  live.on("device.status", () => paintChoices());
  live.onOpen(() => load());
  setInterval(paintChoices, 2000);
  paintChoices();
}
