// Options page (also the toolbar popup): settings, "sync now" and the status of the rules.
// It never writes storage itself: it asks the background, the only writer.
// Ready flag for tests: <html data-ready="true" data-status="{...}"> once the status is shown.
(() => {
  "use strict";
  const ext = globalThis.browser ?? globalThis.chrome;
  const M = globalThis.pwguardMessages;
  const FIELDS = ["serverUrl", "publicKey", "pollMinutes"];
  const $ = (id) => document.getElementById(id);
  const t = (key, fallback, subs) => (ext.i18n && ext.i18n.getMessage(key, subs)) || fallback;

  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n, node.textContent);
  }

  function send(type, extra = {}) {
    return ext.runtime.sendMessage({ type, ...extra }).then((answer) => {
      if (answer && answer.error) throw new Error(answer.error);
      return answer;
    });
  }

  /** One <li> per text, the text set as textContent. */
  function listItems(texts) {
    return texts.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
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
    errors.replaceChildren(...listItems(status.saveErrors || []));
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

  // save and "sync now" alike: busy until the background answers with the status
  function act(type, extra) {
    busy(true);
    send(type, extra).then((s) => {
      busy(false);
      show(s);
    }, fail);
  }

  $("settings").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const settings = {};
    for (const key of FIELDS) if (!$(key).disabled) settings[key] = $(key).value;
    act(M.SAVE_SETTINGS, { settings });
  });

  $("syncNow").addEventListener("click", () => act(M.SYNC_NOW));

  // ---- white-label hosts: optional host permissions, asked for from a click here ----
  const STATIC_HOSTS = new Set(ext.runtime.getManifest().host_permissions || []);

  /** "portal.example.com", "https://portal.example.com/..." -> "https://portal.example.com/*" */
  function hostPattern(text) {
    const raw = String(text || "").trim();
    if (!raw) return null;
    let url;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
    } catch {
      return null;
    }
    if (url.protocol !== "https:" || !url.hostname || url.username || url.password || url.port) return null;
    return `https://${url.hostname}/*`;
  }

  function showGranted() {
    return ext.permissions.getAll().then(({ origins = [] }) => {
      const extra = origins.filter((o) => !STATIC_HOSTS.has(o) && o !== "https://*/*").sort();
      $("grantedHosts").replaceChildren(...listItems(extra));
    });
  }

  function grantResult(state, text) {
    $("grantHostResult").textContent = text;
    $("grantHostResult").dataset.state = state;
  }

  $("hosts").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const pattern = hostPattern($("grantHost").value);
    if (!pattern) {
      grantResult("invalid", t("grantHostInvalid", "Give a host name such as portal.example.com (https only)."));
      return;
    }
    grantResult("pending", "");
    // asked at once, inside the click: browsers grant optional permissions only from a user gesture
    ext.permissions.request({ origins: [pattern] })
      .then((granted) => {
        if (!granted) {
          grantResult("refused", t("grantHostRefused", `Not allowed on ${pattern}`, [pattern]));
          return undefined;
        }
        // answered once the content scripts for the rules naming this host are in place
        return send(M.REFRESH_HOSTS).then(() =>
          grantResult("granted", t("grantHostGranted", `Allowed on ${pattern}`, [pattern])));
      })
      .catch((err) => grantResult("error", String(err && err.message ? err.message : err)))
      .then(showGranted);
  });

  showGranted().catch((err) => console.error("pwguard: could not list the granted hosts:", err));
  send(M.GET_STATUS).then((s) => show(s, { fillFields: true }), fail);
})();
