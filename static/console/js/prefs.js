/* Runs in <head> before paint: the "large text" preference (kept per browser) and the clock. */
(function () {
  var KEY = "rtcc.largeText";
  var root = document.documentElement;
  try { if (localStorage.getItem(KEY) === "1") root.classList.add("big"); } catch (e) { /* private mode */ }
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("text-size");
    if (toggle) {
      toggle.setAttribute("aria-pressed", root.classList.contains("big") ? "true" : "false");
      toggle.addEventListener("click", function () {
        var on = root.classList.toggle("big");
        toggle.setAttribute("aria-pressed", on ? "true" : "false");
        try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* ignore */ }
        window.dispatchEvent(new Event("resize"));
      });
    }
    var clock = document.getElementById("clock");
    if (clock) {
      var tick = function () { clock.textContent = new Date().toLocaleTimeString([], { hour12: false }); };
      tick();
      setInterval(tick, 1000);
    }
  });
})();
