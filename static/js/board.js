// The board's enhancements beyond vigil.js: bulk selection, the tab title with the count of
// triggered incidents, the "?" shortcut help, and opt-in browser notifications (with an
// optional sound) for new triggered incidents while the board or a room is open.
// Every page works without this file: the bulk bar is a plain form post.
(() => {
  "use strict";

  const typing = () => {
    const active = document.activeElement;
    if (!active || (active.tagName === "INPUT" && active.type === "checkbox")) return false;
    return active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  };

  // ---- bulk selection: the checked ids survive the live re-render of the board ----
  const checked = new Set();
  const picks = () => Array.from(document.querySelectorAll("input[data-bulk-pick]"));

  function showChecked() {
    const present = new Set(picks().map((box) => box.value));
    // A row the board no longer lists (filtered away, resolved elsewhere) is no longer checked.
    Array.from(checked).forEach((id) => {
      if (!present.has(id)) checked.delete(id);
    });
    picks().forEach((box) => {
      box.checked = checked.has(box.value);
      box.closest("tr")?.classList.toggle("checked", box.checked);
    });
    const count = document.querySelector("[data-bulk-count]");
    if (count) {
      count.textContent = checked.size ? `${checked.size} checked:` : "Check incidents to act on several:";
    }
    document.querySelectorAll("[data-bulk-action]").forEach((button) => {
      button.disabled = checked.size === 0;
    });
    const all = document.querySelector("input[data-bulk-all]");
    if (all) {
      all.hidden = false;
      const boxes = picks();
      all.checked = boxes.length > 0 && boxes.every((box) => box.checked);
      all.indeterminate = !all.checked && boxes.some((box) => box.checked);
    }
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("input[data-bulk-pick]")) {
      if (target.checked) checked.add(target.value);
      else checked.delete(target.value);
      showChecked();
    } else if (target.matches("input[data-bulk-all]")) {
      picks().forEach((box) => {
        if (target.checked) checked.add(box.value);
        else checked.delete(box.value);
      });
      showChecked();
    }
  });

  document.addEventListener("bulkDone", () => {
    checked.clear();
    const note = document.getElementById("bulk-note");
    if (note) note.value = "";
    showChecked();
  });

  function toggleSelectedRow() {
    const box = document.querySelector("tr[data-board-row].selected input[data-bulk-pick]");
    if (!box) return;
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // ---- tab title: "(3) Incidents · Vigil" while three incidents are triggered ----
  const baseTitle = document.title.replace(/^\(\d+\)\s*/, "");

  function showTriggeredCount() {
    const board = document.getElementById("board");
    if (!board) return;
    const n = Number(board.dataset.triggered || 0);
    document.title = n > 0 ? `(${n}) ${baseTitle}` : baseTitle;
  }

  // ---- "?" opens the shortcut help ----
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing()) return;
    if (event.key === "?") {
      const dialog = document.getElementById("shortcuts");
      if (dialog && !dialog.open) {
        event.preventDefault();
        dialog.showModal();
      }
    } else if (event.key === "x") {
      toggleSelectedRow();
    }
  });

  // ---- notifications: opt-in, per browser (localStorage) ----
  const SETTINGS = "vigil.notify";
  const SEEN = "vigil.notify.seen";
  const POLL_MS = 5000;
  // After this long without a look, what is triggered now is the starting point, not news.
  const STALE_MS = 10 * 60 * 1000;

  function settings() {
    try {
      return { enabled: false, min: 4, sound: false, ...JSON.parse(localStorage.getItem(SETTINGS) || "{}") };
    } catch {
      return { enabled: false, min: 4, sound: false };
    }
  }

  function saveSettings(values) {
    localStorage.setItem(SETTINGS, JSON.stringify({ ...settings(), ...values }));
  }

  let audio = null;

  // A short two-tone chime made with WebAudio: nothing to download, nothing to bundle.
  function chime() {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const start = audio.currentTime + 0.01;
    [880, 660].forEach((frequency, n) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      const at = start + n * 0.18;
      tone.type = "sine";
      tone.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      tone.connect(gain).connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.32);
    });
  }

  function notify(incident) {
    const shown = new Notification(`${incident.reference} · ${incident.severity_label}`, {
      body: `${incident.title}\n${incident.service}`,
      tag: `vigil-incident-${incident.id}`,
    });
    shown.onclick = () => {
      window.focus();
      window.location.href = incident.url;
    };
    if (settings().sound) chime();
  }

  const watching = () => Boolean(document.getElementById("board") || document.querySelector("[data-room]"));
  const allowed = () => "Notification" in window && Notification.permission === "granted";

  function readSeen() {
    try {
      const stored = JSON.parse(localStorage.getItem(SEEN) || "null");
      if (stored && Date.now() - stored.at < STALE_MS) return new Set(stored.ids.map(String));
    } catch {
      // A damaged entry is the same as none: start from what is triggered now.
    }
    return null;
  }

  function writeSeen(ids) {
    localStorage.setItem(SEEN, JSON.stringify({ at: Date.now(), ids: Array.from(ids).slice(-500) }));
  }

  let checking = false;

  async function checkTriggered() {
    if (checking || !settings().enabled || !allowed() || !watching()) return;
    checking = true;
    try {
      const response = await fetch("/incidents/attention/", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) return;
      const data = await response.json();
      const seen = readSeen();
      const ids = data.incidents.map((incident) => String(incident.id));
      if (seen) {
        const min = Number(settings().min);
        data.incidents
          .filter((incident) => !seen.has(String(incident.id)) && incident.severity >= min)
          .reverse()
          .forEach(notify);
        ids.forEach((id) => seen.add(id));
        writeSeen(seen);
      } else {
        writeSeen(ids);
      }
    } catch {
      // Offline for a moment: the next check catches up.
    } finally {
      checking = false;
    }
  }

  function showNotifyState(text) {
    const state = document.querySelector("[data-notify-state]");
    if (state) state.textContent = text;
  }

  function describeNotifyState() {
    if (!("Notification" in window)) return "This browser cannot show notifications.";
    if (Notification.permission === "denied") {
      return "Notifications are blocked for this site in the browser's settings.";
    }
    const now = settings();
    if (!now.enabled) return "Off.";
    return `On for severity ${now.min} and worse${now.sound ? ", with a sound" : ""}.`;
  }

  function setUpNotifySettings() {
    const panel = document.querySelector("[data-notify-settings]");
    if (!panel) return;
    panel.hidden = !("Notification" in window);
    const now = settings();
    const enable = panel.querySelector("[data-notify-enable]");
    const min = panel.querySelector("[data-notify-min]");
    const sound = panel.querySelector("[data-notify-sound]");
    enable.checked = now.enabled && allowed();
    min.value = String(now.min);
    sound.checked = now.sound;
    showNotifyState(describeNotifyState());
  }

  document.addEventListener("change", async (event) => {
    const target = event.target;
    if (target.matches("[data-notify-enable]")) {
      if (!target.checked) {
        saveSettings({ enabled: false });
      } else {
        const permission = await Notification.requestPermission();
        target.checked = permission === "granted";
        saveSettings({ enabled: target.checked });
        if (target.checked) {
          localStorage.removeItem(SEEN);
          checkTriggered();
        }
      }
      showNotifyState(describeNotifyState());
    } else if (target.matches("[data-notify-min]")) {
      saveSettings({ min: Number(target.value) });
      showNotifyState(describeNotifyState());
    } else if (target.matches("[data-notify-sound]")) {
      saveSettings({ sound: target.checked });
      if (target.checked) chime(); // also unlocks audio: browsers allow it after a click
      showNotifyState(describeNotifyState());
    }
  });

  document.addEventListener("click", async (event) => {
    if (!event.target.matches("[data-notify-test]")) return;
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      showNotifyState(describeNotifyState());
      return;
    }
    notify({
      id: "test",
      reference: "INC-0",
      severity_label: "5 · outage",
      title: "This is how a new triggered incident will look",
      service: "Vigil",
      url: window.location.pathname,
    });
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    showChecked();
    showTriggeredCount();
    // The board re-renders only when something changed: look for news at once.
    if (event.target && event.target.id === "board") checkTriggered();
  });

  document.addEventListener("DOMContentLoaded", () => {
    showChecked();
    showTriggeredCount();
    setUpNotifySettings();
    checkTriggered();
    setInterval(checkTriggered, POLL_MS);
  });
})();
