// Small progressive enhancements; every page works without this file.
// No inline scripts anywhere (CSP): all behaviour lives here, keyed on data- attributes.
(() => {
  "use strict";

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("select[data-autosubmit]")) target.form.requestSubmit();
  });

  // htmx does not swap 4xx by default; our refusals (400 bad input, 403 role, 409 state,
  // 429 throttle) carry a message for the #flash region, so let htmx show them.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    // A poll after the session expired lands on the login page: go there, not into the board.
    if (xhr.responseURL && new URL(xhr.responseURL).pathname === "/login/") {
      event.detail.shouldSwap = false;
      window.location.href = `/login/?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
      return;
    }
    const status = xhr.status;
    if ([400, 403, 404, 409, 429].includes(status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // ---- live polling: hidden tabs stop asking; coming back asks at once ----
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (document.hidden && event.detail.elt.matches("[data-poll]")) event.preventDefault();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden || !window.htmx) return;
    document.querySelectorAll("[data-poll]").forEach((el) => window.htmx.trigger(el, "pollNow"));
  });

  // ---- clocks: elapsed time and time left against the RTO tick between polls ----
  function duration(seconds) {
    seconds = Math.floor(Math.abs(seconds));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const pad = (n) => String(n).padStart(2, "0");
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${pad(m)}m`;
    if (m) return `${m}m ${pad(s)}s`;
    return `${s}s`;
  }

  function tick() {
    const now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = duration(now - Number(el.dataset.since));
    });
    document.querySelectorAll("[data-deadline]").forEach((el) => {
      const left = Number(el.dataset.deadline) - now;
      el.classList.toggle("over", left < 0);
      el.textContent = left < 0 ? `RTO over by ${duration(left)}` : `${duration(left)} left of RTO`;
    });
  }
  setInterval(tick, 1000);

  // ---- board selection (j/k) survives the live re-render of the board ----
  let selectedIncident = null;

  function rows() {
    return Array.from(document.querySelectorAll("[data-board-row]"));
  }

  function select(row) {
    rows().forEach((r) => r.classList.remove("selected"));
    if (!row) return;
    row.classList.add("selected");
    selectedIncident = row.dataset.incident;
    row.scrollIntoView({ block: "nearest" });
  }

  function selectedRow() {
    return rows().find((r) => r.dataset.incident === selectedIncident) || null;
  }

  document.addEventListener("htmx:afterSettle", () => {
    const row = selectedRow();
    if (row) row.classList.add("selected");
    // A row the filter hid is forgotten: clearing the search must not select it again.
    else if (document.getElementById("board")) selectedIncident = null;
  });

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(selectedRow());
    const next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }

  function clickAction(scope, name) {
    const button = scope && scope.querySelector(`[data-action="${name}"]`);
    if (button) button.click();
    return Boolean(button);
  }

  // ---- keyboard: a acknowledge, r resolve, / search, j/k move, Enter open ----
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    // A checked checkbox keeps the focus; the board's letter shortcuts still apply there.
    const box = active && active.tagName === "INPUT" && active.type === "checkbox";
    if (active && !box && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))) {
      if (event.key === "Escape") active.blur();
      return;
    }
    const room = document.querySelector("[data-room]");
    switch (event.key) {
      case "/": {
        const search = document.getElementById("q");
        event.preventDefault();
        if (search) search.focus();
        else window.location.href = "/incidents/#q";
        break;
      }
      case "j":
        move(1);
        break;
      case "k":
        move(-1);
        break;
      case "Enter":
      case "o": {
        const row = selectedRow();
        if (row) window.location.href = row.dataset.href;
        break;
      }
      case "a":
        if (room) clickAction(document.getElementById("room-head"), "acknowledge");
        else clickAction(selectedRow(), "acknowledge");
        break;
      case "r": {
        const box = document.getElementById("resolve-box");
        if (box) {
          event.preventDefault();
          box.open = true;
          document.getElementById("resolve-note").focus();
        } else if (selectedRow()) {
          window.location.href = `${selectedRow().dataset.href}#resolve`;
        }
        break;
      }
      default:
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    if (window.location.hash === "#q") {
      const search = document.getElementById("q");
      if (search) search.focus();
    }
    if (window.location.hash === "#resolve") {
      const box = document.getElementById("resolve-box");
      if (box) {
        box.open = true;
        document.getElementById("resolve-note").focus();
      }
    }
  });
})();
