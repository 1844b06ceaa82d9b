// Recording commands: send with a reason, then follow each one until it is final.
import { get, post } from "./api.js";
import { fmtTime, html, uuid4 } from "./ui.js";

export const FINAL = new Set(["succeeded", "failed", "expired", "cancelled"]);
export const CANCELLABLE = new Set(["queued", "sent"]);
const ACTION_WORDS = { start_recording: "Start recording", stop_recording: "Stop recording" };

export function actionWord(action) { return ACTION_WORDS[action] || action; }

export function stateChip(state) {
  return html`<span class="state ${state}" data-state="${state}">${state}</span>`;
}

export function finalClass(state) {
  if (state === "succeeded") return "final-ok";
  if (state === "failed") return "final-bad";
  if (state === "expired" || state === "cancelled") return "final-warn";
  return "pending";
}

// "queued 14:02:01 · sent 14:02:01 · delivered 14:02:02 · succeeded 14:02:03"
export function timeline(cmd) {
  const steps = [["queued", cmd.created_at], ["sent", cmd.sent_at], ["delivered", cmd.delivered_at]];
  if (FINAL.has(cmd.state)) steps.push([cmd.state, cmd.finished_at || cmd.expires_at]);
  const parts = steps.filter(([, at]) => at).map(([word, at]) => html`<span>${word} <b>${fmtTime(at)}</b></span>`);
  if (!FINAL.has(cmd.state) && cmd.expires_at) parts.push(html`<span data-until="${cmd.expires_at}"></span>`);
  return html`<span class="timeline">${parts}</span>`;
}

/**
 * Keeps every command this console knows of; tells listeners on each change.
 * Events come from the websocket; while it is down (or an event was missed) pending commands are polled.
 */
export class CommandTracker {
  constructor(live) {
    this.live = live;
    this.commands = new Map();
    this.listeners = [];
    live.on("command.update", (e) => this.update(e.command));
    setInterval(() => this.poll(), 3000);
  }

  onChange(fn) { this.listeners.push(fn); }

  pending() { return [...this.commands.values()].filter((c) => !FINAL.has(c.state)); }

  update(cmd) {
    if (!cmd || !cmd.id) return;
    const old = this.commands.get(cmd.id);
    // Events can arrive out of order across processes: never step back from a final state.
    if (old && FINAL.has(old.state) && !FINAL.has(cmd.state)) return;
    const merged = { ...(old || {}), ...cmd, _seen: Date.now() };
    this.commands.set(cmd.id, merged);
    for (const fn of this.listeners) fn(merged, old);
  }

  async send(device, action, reason) {
    const key = uuid4();
    const placeholder = { id: `local-${key}`, device: device.id, action, reason, state: "sending", created_at: new Date().toISOString(), _local: true };
    for (const fn of this.listeners) fn(placeholder, null);
    try {
      // A request lost on the way is sent again with the same key: the server answers with the
      // same command instead of making a second one.
      let cmd = null;
      for (let attempt = 1; ; attempt += 1) {
        try {
          cmd = await post(`devices/${device.id}/commands`, { action, reason }, { headers: { "Idempotency-Key": key } });
          break;
        } catch (err) {
          if (err.status !== 0 || attempt >= 3) throw err;
          await new Promise((r) => setTimeout(r, 700 * attempt));
        }
      }
      for (const fn of this.listeners) fn({ ...placeholder, state: "gone" }, placeholder);
      this.update(cmd);
      return cmd;
    } catch (err) {
      for (const fn of this.listeners) fn({ ...placeholder, state: "refused", error: err.message }, placeholder);
      throw err;
    }
  }

  async cancel(id) {
    const cmd = await post(`commands/${id}/cancel`, {});
    this.update(cmd);
    return cmd;
  }

  async poll() {
    const quiet = this.live.isOpen ? 10000 : 0;
    for (const cmd of this.pending()) {
      if (cmd._local || Date.now() - (cmd._seen || 0) < quiet) continue;
      try { this.update(await get(`commands/${cmd.id}`)); } catch (e) { /* shown when the socket is back */ }
    }
  }
}
