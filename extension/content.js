// Content script (isolated world), document_start, every frame.
//
// Why static content_scripts for the nine Zoho data-centre hosts (manifest.json) rather than
// scripting.registerContentScripts: a static script is in place from the first page load after
// install or browser start, before the service worker has ever run, so protection never waits
// for the background. It checks the URL against the current rules before doing anything: on a
// page no rule names it changes nothing (no banner, no attribute, no listener that acts) and
// tells guard-main.js to pass every request through. Hosts outside the nine (white-label
// portals an administrator has granted through optional_host_permissions) are covered by the
// background with scripting.registerContentScripts, which runs these same files.
//
// Rules come from storage.local (written only by the background, starting from the bundled
// rules), else from the background, and follow storage live through storage.onChanged; see
// loadRules for why a page is never left without them.
(() => {
  "use strict";
  if (globalThis.__pwguardContentInstalled) return;
  globalThis.__pwguardContentInstalled = true;

  const ext = globalThis.browser ?? globalThis.chrome;
  const M = globalThis.pwguardMessages;
  const E = globalThis.pwguardEngine;
  const B = globalThis.pwguardBanner;
  const SEL = E.CHECKBOX_SELECTOR;
  const WATCHED_ATTRIBUTES = [
    "checked", "disabled", "data-pwguard", "aria-checked", "aria-disabled", "role", "type",
    "id", "for", "name", "class", "aria-label", "aria-labelledby",
  ];

  let payload = null; // the whole rules payload
  let rules = []; // the rules whose sites name this page
  let active = false;
  let mainPort = null;
  const controls = new Set(); // checkbox-like controls seen (blocked, warned or not)
  const verdictOf = new WeakMap(); // control -> rule applied to it (or null)
  const original = new WeakMap(); // control -> {disabled, ariaDisabled} before we blocked it
  const roots = new Set(); // open shadow roots observed
  const refused = []; // [{rule, path}] requests guard-main.js refused
  let observer = null;
  let bannerKey = "";
  // whether inserted subtrees must be searched for open shadow roots: once the page has used
  // shadow DOM (guard-main.js reports the first attachShadow) or the document has any
  let shadowSeen = false;

  // ---- handshake with guard-main.js (MAIN world); see the comment at the top of that file ----
  function onHello(ev) {
    const data = ev.data;
    if (ev.source !== window || !data || data.__pwguard !== "main-hello") return;
    ev.stopImmediatePropagation(); // the page never sees a port
    const port = ev.ports && ev.ports[0];
    if (!port) return;
    if (mainPort) {
      port.close(); // a spare hello: we already own the channel
      return;
    }
    mainPort = port;
    mainPort.onmessage = onMainMessage;
    mainPort.postMessage({ type: "ack" });
    sendGuardConfig();
  }
  // kept for the page's whole life, so that no later hello ever reaches the page
  window.addEventListener("message", onHello, true);
  // in case guard-main.js ran first and its hello went by before this listener existed
  document.dispatchEvent(new CustomEvent("pwguard-content-ready"));

  // a rule without an action blocks
  function blocks(rule) {
    return (rule.action || "block") === "block";
  }

  function sendGuardConfig() {
    if (!mainPort || payload === null) return;
    const guards = active
      ? rules
          .filter((r) => blocks(r) && r.request)
          .map((r) => ({
            ruleId: r.id,
            method: r.request.method,
            path: r.request.path,
            json_true: [...(r.request.json_true || [])],
          }))
      : [];
    mainPort.postMessage({ type: "config", active, guards });
  }

  function onMainMessage(ev) {
    const msg = ev.data || {};
    if (msg.type === "shadow") {
      if (!shadowSeen) {
        shadowSeen = true;
        if (active) {
          batched(() => {
            scan(document);
            recheckAll();
          });
        }
      }
      return;
    }
    if (msg.type !== "refused") return;
    const all = (payload && payload.rules) || [];
    const rule = all.find((r) => r.id === msg.ruleId) || {
      id: "pwguard-fail-closed",
      message: { en: "The rules had not loaded yet, so a request that could revoke sessions or tokens was stopped. Reload the page and try again." },
      help: "",
    };
    let path = String(msg.url || "");
    try {
      path = new URL(path, document.baseURI).pathname;
    } catch {
      /* keep the raw text */
    }
    refused.push({ rule, path: `${String(msg.method || "").toUpperCase()} ${path}` });
    updateBanner();
  }

  // ---- rules ----
  function pageUrl() {
    let url = location.href;
    if (!/^https?:/.test(url)) {
      try {
        url = window.parent.location.href; // about:blank / srcdoc frames inherit their parent's
      } catch {
        /* cross-origin parent: keep our own URL */
      }
    }
    return url;
  }

  function applyPayload(next) {
    if (!next || !Array.isArray(next.rules)) return;
    payload = next;
    rules = E.rules_for_url(payload, pageUrl());
    if (rules.length > 0) activate();
    else deactivate();
    sendGuardConfig();
  }

  // Protection never lapses: the rules always come from somewhere, and a slow answer never
  // undoes a newer one.
  //  - storage.local holds the rules in force from the background's first moments on (one
  //    atomic write of the whole state, never removed);
  //  - when storage has none (the first moments after install) or cannot be read, the
  //    background answers GET_RULES with the same state or the bundled rules;
  //  - when that fails or goes unanswered (the background is still starting, or is being
  //    restarted), both are asked again with a growing delay until rules are in force;
  //  - a storage change that arrives while a read is in flight wins over that read's answer
  //    (`changes` counts them), so a read answered with the state before a settings save can
  //    never replace the state after it.
  function usable(p) {
    return Boolean(p && typeof p === "object" && Array.isArray(p.rules) && p.rules.length > 0);
  }

  let changes = 0; // storage changes of the rules seen so far
  // when to ask again if no rules have arrived (a failed or an unanswered read alike)
  const RETRY_MS = [100, 200, 400, 800, 1600, 3000];

  async function readRules() {
    try {
      const state = (await ext.storage.local.get({ [M.STORE_STATE]: null }))[M.STORE_STATE];
      if (state && usable(state.payload)) return state.payload;
    } catch (err) {
      console.warn("pwguard: could not read the stored rules; asking the background:", err);
    }
    const answer = await ext.runtime.sendMessage({ type: M.GET_RULES });
    if (!usable(answer)) throw new Error(`the background answered ${JSON.stringify(answer).slice(0, 80)}`);
    return answer;
  }

  function loadRules(attempt) {
    const seen = changes;
    readRules().then((next) => {
      // a change that came in meanwhile is newer than this answer
      if (changes === seen || !payload) applyPayload(next);
    }, (err) => {
      if (attempt === 0) console.warn("pwguard: no rules yet, asking again:", err && err.message);
    });
    // a read can fail, and an API call made while the page commits can go unanswered: until
    // rules are in force, keep asking (unless the extension was removed or reloaded)
    setTimeout(() => {
      if (!payload && ext.runtime.id) loadRules(attempt + 1);
    }, RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]);
  }

  ext.storage.onChanged.addListener((changed, area) => {
    const change = changed[M.STORE_STATE];
    // a state without rules is never written; should one ever be, the page keeps its rules
    if (area !== "local" || !change || !change.newValue || !usable(change.newValue.payload)) return;
    changes += 1;
    if (!payload || change.newValue.payload.version !== payload.version) {
      applyPayload(change.newValue.payload);
    }
  });
  loadRules(0);

  // ---- enforcement ----
  function isInput(el) {
    return el.localName === "input";
  }

  function block(el) {
    if (!original.has(el)) {
      original.set(el, {
        disabled: isInput(el) ? el.disabled : el.hasAttribute("disabled"),
        ariaDisabled: el.getAttribute("aria-disabled"),
      });
    }
    if (el.getAttribute("data-pwguard") !== "blocked") el.setAttribute("data-pwguard", "blocked");
    let unticked = false;
    if (isInput(el)) {
      if (el.checked) {
        el.checked = false;
        unticked = true;
      }
      if (el.hasAttribute("checked")) el.removeAttribute("checked");
      if (!el.disabled) el.disabled = true;
    } else {
      if (el.getAttribute("aria-checked") !== "false") {
        unticked = el.getAttribute("aria-checked") === "true";
        el.setAttribute("aria-checked", "false");
      }
      if (!el.hasAttribute("disabled")) el.setAttribute("disabled", "");
    }
    if (el.getAttribute("aria-disabled") !== "true") el.setAttribute("aria-disabled", "true");
    if (unticked) {
      // let the page's own widgets (styled boxes, frameworks) see the box go off
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function release(el) {
    const before = original.get(el);
    if (el.hasAttribute("data-pwguard")) el.removeAttribute("data-pwguard");
    if (!before) return;
    original.delete(el);
    if (isInput(el)) el.disabled = before.disabled;
    else if (!before.disabled) el.removeAttribute("disabled");
    if (before.ariaDisabled === null) el.removeAttribute("aria-disabled");
    else el.setAttribute("aria-disabled", before.ariaDisabled);
  }

  // label text -> folded label text, for the controls a page keeps re-rendering
  const foldCache = new Map();
  function foldedLabel(el) {
    const label = E.label_text(el);
    let folded = foldCache.get(label);
    if (folded === undefined) {
      if (foldCache.size > 500) foldCache.clear();
      folded = E.fold(label);
      foldCache.set(label, folded);
    }
    return folded;
  }

  let batch = null; // controls already evaluated during the current batch (see batched)

  // run `fn` with each control evaluated at most once: a scan followed by recheckAll (a
  // mutation batch, an activation) leaves the controls the scan found as they are
  function batched(fn) {
    if (batch) {
      fn();
      return;
    }
    batch = new Set();
    try {
      fn();
    } finally {
      batch = null;
    }
  }

  function evaluate(el) {
    if (batch) {
      if (batch.has(el)) return;
      batch.add(el);
    }
    controls.add(el);
    const rule = ruleFor(el);
    verdictOf.set(el, rule);
    if (rule && blocks(rule)) block(el);
    else {
      if (original.has(el)) release(el);
      if (rule) {
        if (el.getAttribute("data-pwguard") !== "warned") el.setAttribute("data-pwguard", "warned");
      } else if (el.hasAttribute("data-pwguard")) {
        el.removeAttribute("data-pwguard");
      }
    }
  }

  function ruleFor(el) {
    return E.rule_for_folded(el, rules, foldedLabel(el));
  }

  function isBlocked(el) {
    const rule = active && el && verdictOf.get(el);
    return Boolean(rule && blocks(rule));
  }

  function observe(root) {
    if (observer) {
      observer.observe(root, {
        childList: true, subtree: true, characterData: true,
        attributes: true, attributeFilter: WATCHED_ATTRIBUTES,
      });
    }
  }

  function addShadowRoot(root) {
    if (!root || roots.has(root)) return;
    roots.add(root);
    observe(root);
    scan(root);
  }

  // SEL is a slow selector list (attribute values on any tag) for a query that runs on every
  // inserted subtree; answered in two fast queries when the page has no role=checkbox/switch
  // under `node`: every `input` (a tag-name query), then the attribute `role`'s presence.
  const INPUT_SEL = 'input[type="checkbox" i]';
  const SPLIT = SEL === `${INPUT_SEL}, [role="checkbox"], [role="switch"]`;

  // node.querySelectorAll(SEL), in document order
  function controlsUnder(node) {
    if (!SPLIT) return node.querySelectorAll(SEL);
    for (const el of node.querySelectorAll("[role]")) {
      const role = el.getAttribute("role");
      if (role === "checkbox" || role === "switch") return node.querySelectorAll(SEL);
    }
    const found = [];
    for (const el of node.querySelectorAll("input")) if (el.matches(INPUT_SEL)) found.push(el);
    return found;
  }

  // every checkbox-like control and open shadow root under `node` (inclusive)
  function scan(node) {
    if (node === B.shown()) return; // our own banner
    if (node.nodeType === Node.ELEMENT_NODE) {
      if (node.matches(SEL)) evaluate(node);
      if (node.shadowRoot) addShadowRoot(node.shadowRoot);
    }
    if (!node.firstElementChild) return;
    for (const el of controlsUnder(node)) evaluate(el);
    if (!shadowSeen) return;
    for (const el of node.querySelectorAll("*")) if (el.shadowRoot) addShadowRoot(el.shadowRoot);
  }

  // declarative shadow DOM (<template shadowrootmode>) attaches without attachShadow
  function detectShadowDom() {
    if (shadowSeen) return;
    for (const el of document.querySelectorAll("*")) {
      if (el.shadowRoot || el.localName === "template" && el.hasAttribute("shadowrootmode")) {
        shadowSeen = true;
        return;
      }
    }
  }

  function recheckAll() {
    for (const el of controls) {
      if (!el.isConnected) {
        controls.delete(el);
        continue;
      }
      evaluate(el);
    }
    updateBanner();
  }

  function onMutations(records) {
    if (!active) return;
    batched(() => {
      for (const rec of records) {
        if (rec.type !== "childList" || rec.addedNodes.length === 0) continue;
        for (const n of rec.addedNodes) if (n.nodeType === Node.ELEMENT_NODE) scan(n);
      }
      // labels may have changed text, ids may have moved, a blocked box may have been
      // touched: re-evaluate the (few) known controls once per batch
      if (controls.size > 0) recheckAll();
    });
  }

  function activate() {
    active = true;
    detectShadowDom();
    if (!observer) {
      observer = new MutationObserver(onMutations);
      observe(document);
      for (const root of roots) observe(root);
    }
    batched(() => {
      scan(document);
      for (const root of roots) scan(root);
      recheckAll();
    });
  }

  function deactivate() {
    const wasActive = active;
    active = false;
    if (observer) {
      observer.disconnect();
      observer = null;
    }
    if (!wasActive) return;
    for (const el of controls) release(el);
    controls.clear();
    refused.length = 0;
    bannerKey = "";
    B.remove(document);
  }

  function updateBanner() {
    if (!active) return;
    const entries = [];
    let anchor = null;
    for (const el of controls) {
      const rule = verdictOf.get(el);
      if (!rule || !el.isConnected) continue;
      const blocked = blocks(rule);
      entries.push({ rule, kind: blocked ? "blocked" : "warned" });
      if (!anchor || (blocked && !isBlocked(anchor))) anchor = el;
    }
    for (const r of refused) entries.push({ rule: r.rule, kind: "refused", path: r.path });
    const key = JSON.stringify(entries.map((e) => [e.kind, e.rule.id, e.path || ""]).sort());
    if (entries.length === 0) {
      if (bannerKey) B.remove(document);
      bannerKey = "";
      return;
    }
    if (key === bannerKey && B.isPlaced(anchor)) return;
    bannerKey = key;
    B.show(document, entries, anchor);
  }

  // ---- user actions and page scripts ----
  function blockedTarget(ev) {
    const path = ev.composedPath ? ev.composedPath() : [ev.target];
    for (const node of path) {
      if (!(node instanceof Element)) continue;
      if (isBlocked(node)) return node;
      if (node.localName === "label" && isBlocked(node.control)) return node.control;
    }
    return null;
  }

  function untickAll() {
    for (const el of controls) if (isBlocked(el)) block(el);
  }

  function stop(ev) {
    ev.preventDefault();
    ev.stopImmediatePropagation();
  }

  window.addEventListener("click", (ev) => {
    if (!active) return;
    const el = blockedTarget(ev);
    if (el) {
      stop(ev);
      block(el);
      updateBanner();
      return;
    }
    // "Continue" and friends: untick before the page's own click handler reads the boxes
    untickAll();
  }, true);

  window.addEventListener("keydown", (ev) => {
    if (!active || (ev.key !== " " && ev.key !== "Enter")) return;
    const el = blockedTarget(ev);
    if (el) stop(ev);
    else untickAll();
  }, true);

  for (const type of ["input", "change"]) {
    window.addEventListener(type, (ev) => {
      if (!active || !ev.isTrusted) return;
      const el = blockedTarget(ev);
      if (el) {
        block(el);
        ev.stopImmediatePropagation();
      }
    }, true);
  }

  window.addEventListener("submit", () => {
    if (active) untickAll();
  }, true);

  // guard-main.js: an element already in the page just got an open shadow root
  document.addEventListener("pwguard-shadow", (ev) => {
    if (!active) return;
    const host = ev.composedPath()[0];
    if (host && host.shadowRoot) addShadowRoot(host.shadowRoot);
  }, true);
})();
