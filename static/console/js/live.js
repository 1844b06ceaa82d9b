// The console websocket (/ws/console/): reconnects by itself and says so in the top bar.

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

export class Live {
  constructor(indicator = document.getElementById("live")) {
    this.indicator = indicator;
    this.handlers = new Map();
    this.openHandlers = [];
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.connectedOnce = false;
    this.countdown = null;
    window.rtccLive = this; // for a look from the browser's console (and the end-to-end tests)
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(fn);
    return this;
  }

  // Called on every (re)connect: pages reload their snapshot so that nothing missed while down stays stale.
  onOpen(fn) { this.openHandlers.push(fn); return this; }

  opened(reconnect) {
    for (const fn of this.openHandlers) {
      try { fn({ reconnect }); } catch (e) { console.error(e); }
    }
  }

  get isOpen() { return this.ws && this.ws.readyState === WebSocket.OPEN; }

  show(state, text) {
    if (!this.indicator) return;
    this.indicator.dataset.state = state;
    this.indicator.textContent = text;
    this.indicator.title = text;
  }

  start() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.show("connecting", this.connectedOnce ? "Reconnecting…" : "Connecting…");
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws/console/`);
    } catch (e) {
      this.retry();
      return this;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      const again = this.connectedOnce;
      this.connectedOnce = true;
      this.show("live", "Live");
      this.opened(again);
    });
    ws.addEventListener("message", (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (event.type === "resync") {
        // The server's Redis was away: events were lost although this socket stayed open. Reload as after a reconnect.
        this.opened(true);
        return;
      }
      for (const fn of this.handlers.get(event.type) || []) {
        try { fn(event); } catch (e) { console.error(e); }
      }
    });
    ws.addEventListener("close", (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === CLOSE_UNAUTHORIZED || e.code === CLOSE_FORBIDDEN) {
        this.stopped = true;
        this.show("down", e.code === CLOSE_UNAUTHORIZED ? "Not live: session ended, sign in again" : "Not live: role not allowed");
        return;
      }
      this.retry();
    });
    return this;
  }

  retry() {
    if (this.stopped) return;
    this.attempt += 1;
    // 1 s, 2 s, 4 s ... up to 15 s, with jitter so a wall of consoles does not reconnect in step.
    const delay = Math.min(15000, 1000 * 2 ** Math.min(this.attempt - 1, 4)) * (0.8 + Math.random() * 0.4);
    const until = Date.now() + delay;
    clearInterval(this.countdown);
    const paint = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      this.show("down", `Offline: reconnecting in ${left} s`);
    };
    paint();
    this.countdown = setInterval(paint, 500);
    setTimeout(() => { clearInterval(this.countdown); this.start(); }, delay);
  }
}
