// Options page (also the toolbar popup): settings, "sync now" and the status of the rules.
// It never writes storage itself: it asks the background, the only writer.
// Ready flag for tests: <html data-ready="true" data-status="{...}"> once the status is shown.
(() => {
  "use strict";
  const ext = globalThis.browser ?? globalThis.chrome;
  const M = globalThis.pwguardMessages;
  const FIELDS = ["serverUrl", "publicKey", "pollMinutes"];
  const $ = (id) => document.getElementById(id);
  const t = (key, fallback) => (ext.i18n && ext.i18n.getMessage(key)) || fallback;

  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n, node.textContent);
  }

  function send(type, extra = {}) {
    return ext.runtime.sendMessage({ type, ...extra }).then((answer) => {
      if (answer && answer.error) throw new Error(answer.error);
      return answer;
    });
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : t("never", "never");
  }

  function show(status, { fillFields } = { fillFields: false }) {
    $("status-version").textContent = status.version || "";
    $("status-source").textContent = status.source || "";
    $("status-source").dataset.value = status.source || "";
    $("status-from").textContent = status.source === "server"
      ? status.from || ""
      : t("statusFromBundled", "the rules bundled with the extension");
    $("status-lastSync").textContent = when(status.lastSync);
    $("status-lastSync").dataset.value = status.lastSync || "";
    $("status-lastError").textContent = status.lastError || "";
    for (const key of FIELDS) {
      const managed = (status.managed || []).includes(key);
      const input = $(key);
      if (fillFields || managed) input.value = status[key] ?? "";
      input.disabled = managed;
      document.querySelector(`.managed[data-for="${key}"]`).hidden = !managed;
    }
    const errors = $("saveErrors");
    errors.replaceChildren(...(status.saveErrors || []).map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
    const { version, source, lastSync, lastAttempt, lastError, saveErrors } = status;
    document.documentElement.dataset.status = JSON.stringify(
      { version, source, from: status.from || "", lastSync, lastAttempt, lastError,
        saveErrors: saveErrors || [] });
    document.documentElement.dataset.ready = "true";
  }

  function busy(flag) {
    document.documentElement.dataset.ready = flag ? "false" : "true";
    $("save").disabled = flag;
    $("syncNow").disabled = flag;
  }

  function fail(err) {
    busy(false);
    $("status-lastError").textContent = String(err && err.message ? err.message : err);
  }

  $("settings").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const settings = {};
    for (const key of FIELDS) if (!$(key).disabled) settings[key] = $(key).value;
    busy(true);
    send(M.SAVE_SETTINGS, { settings }).then((s) => {
      busy(false);
      show(s);
    }, fail);
  });

  $("syncNow").addEventListener("click", () => {
    busy(true);
    send(M.SYNC_NOW).then((s) => {
      busy(false);
      show(s);
    }, fail);
  });

  send(M.GET_STATUS).then((s) => show(s, { fillFields: true }), fail);
})();
