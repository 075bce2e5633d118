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
  // the language of the texts shown (Chromium's @@ui_locale can name another: en-US with
  // --lang=es, whose texts are the Spanish ones)
  document.documentElement.lang = t("pageLang", "en");

  // Chrome's words when it stopped the service worker (idle, short of memory, for an update)
  // before the background answered, or while the message was on its way: the message is sent
  // once more, which wakes the worker (each of this page's messages may be sent twice), and
  // those words are never shown
  const WORKER_GONE = ["the message channel closed before a response was received",
    "Receiving end does not exist"];
  function ask(message, retry) {
    return ext.runtime.sendMessage(message).catch((err) => {
      if (!WORKER_GONE.some((words) => String(err && err.message).includes(words))) throw err;
      if (retry) return ask(message, false);
      throw new Error(t("backgroundStopped", "pwguard's background stopped before it answered; try again"));
    });
  }

  function send(type, extra = {}) {
    return ask({ type, ...extra }, true).then((answer) => {
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
    return iso ? new Date(iso).toLocaleString(dateLocale()) : t("never", "never");
  }

  // Dates in the language of the page's texts, the way of the browser's own locale when it
  // has that language (en-GB: 28/11/2026 on the English page): the default locale of the
  // page's JavaScript may be another language (headless Linux Chromium: en-US while the
  // texts are Spanish)
  function dateLocale() {
    const page = document.documentElement.lang || "en";
    const own = (ext.i18n && ext.i18n.getUILanguage && ext.i18n.getUILanguage()) || navigator.language || "";
    const wanted = own.split("-")[0].toLowerCase() === page.split("-")[0].toLowerCase() ? own : page;
    try {
      return Intl.DateTimeFormat.supportedLocalesOf([wanted])[0] || page;
    } catch {
      return page; // (a tag Intl refuses)
    }
  }

  /** A sentence of the background's ({key, subs, en}: see said() in background.js) in the
   * page's language; its English text when it has no key (one stored by an older version). */
  const sentence = (x) => (x.key && t(x.key, "", x.subs)) || x.en || "";

  let busyNow = false; // a save or "sync now" is under way: the page is not ready
  let saveErrors = []; // the last save's complaints (sentences), kept while the status is redrawn
  let asked = 0; // statuses are drawn in the order they were asked for, never an older one
  let drawn = 0; // over a newer one
  let newest = null; // the status asked for last of those answered
  const policyShown = new Set(); // the fields that show a policy's value

  function showStatus(status) {
    $("status-version").textContent = status.version || "";
    const sourceKey = { bundled: "sourceBundled", server: "sourceServer" }[status.source];
    $("status-source").textContent = sourceKey ? t(sourceKey, status.source) : status.source || "";
    $("status-source").dataset.value = status.source || "";
    $("status-from").textContent = status.source === "server"
      ? status.from || ""
      : t("statusFromBundled", "the rules bundled with the extension");
    for (const key of ["lastSync", "lastAttempt"]) {
      $(`status-${key}`).textContent = when(status[key]);
      $(`status-${key}`).dataset.value = status[key] || "";
    }
    $("status-lastError").textContent = (status.lastErrorSaid || []).map(sentence).join("; ") ||
      status.lastError || "";
    const unreachable = status.unreachable || [];
    $("unreachableHosts").replaceChildren(...listItems(unreachable.map((o) => o.replace(/^https:\/\/|\/\*$/g, ""))));
    $("reach").hidden = unreachable.length === 0;
    const inPrivate = status.privateWindows;
    $("status-privateWindows").textContent = typeof inPrivate !== "boolean" ? ""
      : inPrivate ? t("privateAllowed", "protected")
        : t("privateNotAllowed", "not protected: allow pwguard in private windows");
    $("status-privateWindows").dataset.value = String(inPrivate);
    for (const key of FIELDS) {
      const managed = (status.managed || []).includes(key);
      // a policy's value is shown as set; one the policy let go of while the page is open
      // gives way to the person's own value, now in force (left in the field, the
      // administrator's server and key would be saved as the person's at the next Save)
      if (managed || policyShown.has(key)) $(key).value = status[key] ?? "";
      if (managed) policyShown.add(key);
      else policyShown.delete(key);
      $(key).disabled = managed;
      document.querySelector(`.managed[data-for="${key}"]`).hidden = !managed;
    }
    $("saveErrors").replaceChildren(...listItems(saveErrors.map(sentence)));
    const { version, source, lastSync, lastAttempt, lastError, privateWindows } = status;
    // (lastError and saveErrors in English, as the background stores them)
    document.documentElement.dataset.status = JSON.stringify({ version, source, from: status.from || "",
      lastSync, lastAttempt, lastError, saveErrors: saveErrors.map((x) => x.en), unreachable, privateWindows });
    if (!busyNow) document.documentElement.dataset.ready = "true";
  }

  /** Draw the status `answer` brings, unless one asked for later is shown already: then that
   * one again (with what changed meanwhile on the page, the last save's complaints). */
  function draw(answer) {
    const turn = ++asked;
    return answer.then((status) => {
      if (turn > drawn) {
        drawn = turn;
        newest = status;
      }
      showStatus(newest);
    });
  }

  let pressed = null; // the button that had the focus when the page went busy
  function busy(flag) {
    busyNow = flag;
    document.documentElement.dataset.ready = flag ? "false" : "true";
    if (flag) pressed = document.activeElement;
    $("save").disabled = flag;
    $("syncNow").disabled = flag;
    // a disabled button loses the focus (to the body): a keyboard user gets it back there
    if (!flag && pressed && ["save", "syncNow"].includes(pressed.id) &&
        (!document.activeElement || document.activeElement === document.body)) {
      pressed.focus();
    }
    if (!flag) pressed = null;
  }

  function fail(err) {
    busy(false);
    $("status-lastError").textContent = String(err && err.message ? err.message : err);
  }

  // save and "sync now" alike: busy until the background answers with the status
  function act(type, extra) {
    busy(true);
    draw(send(type, extra).then((status) => {
      busy(false);
      saveErrors = status.saveErrors || [];
      return status;
    })).catch(fail);
  }

  $("settings").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const settings = {};
    for (const key of FIELDS) if (!$(key).disabled) settings[key] = $(key).value;
    act(M.SAVE_SETTINGS, { settings });
  });

  $("syncNow").addEventListener("click", () => act(M.SYNC_NOW));

  // The server URL field is type=url: the browser refuses to submit a host name without
  // its scheme ("rules.example.com"), saying only "Please enter a URL."; it says instead
  // what to give, the typed text with https:// in front when that makes an address.
  function checkServerUrl() {
    const field = $("serverUrl");
    field.setCustomValidity("");
    if (!field.validity.typeMismatch) return;
    const typed = field.value.trim();
    const withScheme = /^[a-z0-9.-]+(:\d+)?([/?#]\S*)?$/i.test(typed) ? `https://${typed}` : "";
    field.setCustomValidity(withScheme
      ? t("serverUrlNoScheme", `Give the full address, starting with https://: ${withScheme}`, [withScheme])
      : t("serverUrlNotUrl", "Give the full address, starting with https://, such as https://rules.example.com/"));
  }
  $("serverUrl").addEventListener("input", checkServerUrl);

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
    // a host name (no wildcard: "*" or "*.com" would ask for every site, or every .com one;
    // Chromium's parser keeps a "*" as "%2A")
    if (url.protocol !== "https:" || !/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(url.hostname) ||
        url.username || url.password || url.port) return null;
    return `https://${url.hostname}/*`;
  }

  // whether a rule's site (a match pattern: "https://portal.example.com/accounts/*",
  // "https://*.example.com/*") is on the host of `pattern` ("https://portal.example.com/*")
  function namesHost(site, pattern) {
    const host = /^[a-z*]+:\/\/([^/]*)\//.exec(String(site));
    const want = /^https:\/\/([^/]*)\//.exec(pattern)[1];
    if (!host) return false;
    return host[1] === want || host[1] === "*" ||
      (host[1].startsWith("*.") && (want === host[1].slice(2) || want.endsWith(host[1].slice(1))));
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
        // (`active`: the rules' sites on granted hosts, where pwguard acts now)
        return send(M.REFRESH_HOSTS).then(({ active = [] } = {}) => active.some((site) => namesHost(site, pattern))
          ? grantResult("granted", t("grantHostGranted", `Allowed on ${pattern}`, [pattern]))
          : grantResult("granted-unused", t("grantHostNoRule",
            `Allowed on ${pattern}, but no rule names this host yet: pwguard acts there once the rules do.`, [pattern])));
      })
      .catch((err) => grantResult("error", String(err && err.message ? err.message : err)))
      .then(showGranted);
  });

  function redraw() {
    draw(send(M.GET_STATUS)).catch((err) => console.error("pwguard: could not redraw the status:", err));
  }

  // the Zoho hosts a person withheld, given back: asked at once, inside the click. The grant's
  // permission event does the rest, as for one given back on chrome://extensions: the
  // background puts the content scripts into the open Zoho pages, this page redraws (below)
  $("allowZoho").addEventListener("click", () => {
    ext.permissions.request({ origins: (newest && newest.unreachable) || [] }).catch(fail);
  });

  // a host withheld or given back (here, on chrome://extensions, in about:addons)
  for (const event of [ext.permissions.onAdded, ext.permissions.onRemoved]) {
    if (!event) continue;
    event.addListener(() => {
      redraw();
      showGranted().catch((err) => console.error("pwguard: could not list the granted hosts:", err));
    });
  }

  // a sync the page did not ask for (the alarm's, a policy change's) is drawn as it is stored
  // (the settings saved here are not: what the page shows of them is the policy's)
  ext.storage.onChanged.addListener((changes, area) => {
    if (area === "managed" || (area === "local" && M.STORE_STATE in changes)) redraw();
  });

  showGranted().catch((err) => console.error("pwguard: could not list the granted hosts:", err));
  // at load, the fields show the settings in force (later, the person's typing stays)
  draw(send(M.GET_STATUS).then((status) => {
    for (const key of FIELDS) $(key).value = status[key] ?? "";
    checkServerUrl();
    return status;
  })).catch(fail);
})();
