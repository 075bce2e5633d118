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
  // attributes of a control, and of its ancestors, that can change its verdict or undo our
  // block (plus every attribute the rules' selectors name: see attributesOf)
  const WATCHED_ATTRIBUTES = [
    "checked", "disabled", "data-pwguard", "aria-checked", "aria-disabled", "role", "type",
    "id", "for", "name", "class", "aria-label", "aria-labelledby",
  ];

  let payload = null; // the whole rules payload
  let rules = []; // the rules whose sites name this page
  let active = false;
  let mainPort = null;
  // What we know of a control, by the control (a WeakMap of this isolated world, which the
  // page's scripts never see; a property added to the element's wrapper would cost several
  // times more to set, measured in Chromium): {batch, rule, original, listed, watched}
  //   batch: the number of the last batch that evaluated it (see batched)
  //   rule: the rule applied to it, or null
  //   original: {disabled, ariaDisabled} before we blocked it (COPIED for a copy of a box
  //     we blocked), or null
  //   listed: whether it is in `controls`
  //   watched: the `generation` of the `watcher` that observes it (0: none)
  const states = new WeakMap();
  const NOT_BLANK = /\S/; // a label text that collapses to something
  const ELEMENT = 1; // Node.ELEMENT_NODE (a global looked up on every call in this world)
  let controls = []; // checkbox-like controls seen (blocked, warned or not), each once
  let formerControls = []; // controls made something else while in the page (see forget)
  const roots = new Set(); // shadow roots observed (open or closed)
  const refused = []; // [{rule, path}] requests guard-main.js refused, each once, newest last
  const MAX_REFUSED = 5; // the banner lists at most this many (the oldest go first)
  // How changes reach us, at a cost a busy page barely notices (bench/extension.py):
  //  - `observer`: insertions and removals anywhere (childList, subtree) in the document and
  //    every shadow root: new controls are found and evaluated before the page can
  //    paint them, and every structural change re-evaluates the known controls (a label
  //    inserted elsewhere, a row moved, label text set with textContent);
  //  - `watcher`: attribute changes of each control a rule blocks or warns about, of its
  //    ancestors (selectors name ancestors' ids and classes) and of the elements its label is
  //    read from (a label's `for`, a labelledby target's `id`), so that a page script that
  //    re-enables or re-ticks the box, renames it or points its label elsewhere is answered
  //    at once; observed without an attributeFilter (which costs the browser several times
  //    more per call) and filtered here;
  //  - `textWatcher`: text edited in place (characterData) inside what the label of such a
  //    control, or of a control whose label is still blank (text filled in later), is read
  //    from (E.label_source).
  // Why not more: once anything in a document observes attributes or text, the browser
  // checks for observers on every attribute and text edit of the page, anywhere (a few
  // percent of a busy page's script time, bench/extension.py); so a page without a
  // dangerous box never pays for it. A harmless box that a page script later turns into a
  // dangerous one by attributes or in-place text edits alone is caught at the page's next
  // insertion or removal, and in any case before it can be used: a person's click or key
  // press on it, a submit and a "Continue" click all re-evaluate first (reached, rescanAll).
  // A rule selector with a sibling combinator (+ ~) depends on elements no watcher sees:
  // then attributes are observed document-wide, as a safety net (watchEverywhere).
  let observer = null;
  let watcher = null;
  let textWatcher = null;
  let watchedAttributes = WATCHED_ATTRIBUTES;
  let watchedNames = new Set(WATCHED_ATTRIBUTES);
  let watchEverywhere = false;
  let generation = 0; // of the observers, counted up each time they are made anew
  let attrWatched = new WeakSet(); // ancestors `watcher` observes
  let textWatched = new WeakSet(); // elements `textWatcher` observes
  let bannerKey = "";
  // whether inserted subtrees must be searched for shadow roots: once the page has used
  // shadow DOM (guard-main.js reports the first attachShadow) or the document has any
  let shadowSeen = false;
  let parsing = document.readyState === "loading"; // (kept up to date by readystatechange)
  let listenedRoot = null; // document.documentElement when our listeners were added (listen)

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
        if (active) rescanAll();
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
    const entry = { rule, path: `${String(msg.method || "").toUpperCase()} ${path}` };
    // the same refusal again is listed once, and shows the banner again even if the person
    // dismissed it: they just tried again
    const at = refused.findIndex((r) => r.rule.id === entry.rule.id && r.path === entry.path);
    if (at >= 0) refused.splice(at, 1);
    else if (refused.length >= MAX_REFUSED) refused.shift();
    refused.push(entry);
    bannerKey = "";
    updateBanner();
  }

  // ---- rules ----
  // The URL the rules are matched against: the page's own when it is http(s). An about:blank,
  // srcdoc or blob: document has the origin of the document that made it (the browser puts
  // us in one only when that origin is one the rules name), and takes that document's URL: a
  // frame its parent's, a blank popup (window.open("") filled in by its opener's script) its
  // opener's; found once, as the document's origin never changes while the opener may
  // navigate away or be disowned later. When none can be read (a popup disowned with
  // `opener = null`), its origin's root; an opaque origin (a sandboxed frame): its own URL,
  // which no rule names.
  let inheritedUrl = null;
  function pageUrl() {
    const own = location.href;
    if (/^https?:/.test(own)) return own;
    if (inheritedUrl === null) inheritedUrl = inheritedFrom();
    return inheritedUrl;
  }

  function inheritedFrom() {
    let w = window;
    for (let hops = 0; hops < 10; hops += 1) {
      try {
        w = w.parent !== w ? w.parent : w.opener;
        if (!w) break;
        const url = w.location.href;
        if (/^https?:/.test(url)) return url;
      } catch {
        break; // (another origin)
      }
    }
    return /^https?:/.test(self.origin) ? `${self.origin}/` : location.href;
  }

  function selectorsOf(ruleList) {
    return ruleList.flatMap((rule) => (rule.controls || []).map((c) => c.selector))
      .filter((sel) => typeof sel === "string");
  }

  // WATCHED_ATTRIBUTES plus the attribute names the rules' selectors test
  function attributesOf(ruleList) {
    const names = new Set(WATCHED_ATTRIBUTES);
    for (const sel of selectorsOf(ruleList)) {
      for (const m of sel.matchAll(/\[\s*([A-Za-z_-][A-Za-z0-9_-]*)/g)) names.add(m[1].toLowerCase());
    }
    return [...names];
  }

  // a selector list with its bracketed and parenthesised parts blanked out (same length), so
  // that combinators and commas can be found by position
  function blanked(selector) {
    let out = "";
    let depth = 0;
    let quote = "";
    for (const ch of selector) {
      if (quote) {
        if (ch === quote) quote = "";
        out += "_";
      } else if (ch === '"' || ch === "'") {
        quote = ch;
        out += "_";
      } else if (ch === "[" || ch === "(") {
        depth += 1;
        out += "_";
      } else if (ch === "]" || ch === ")") {
        depth -= 1;
        out += "_";
      } else {
        out += depth > 0 ? "_" : ch;
      }
    }
    return out;
  }

  // whether a rule's selector has a sibling combinator (+ or ~)
  function usesSiblings(ruleList) {
    return selectorsOf(ruleList).some((sel) => /[+~]/.test(blanked(sel)));
  }

  // the page's URL the rules were chosen for, without its fragment (no match pattern sees it)
  let rulesUrl = null;
  function withoutFragment(url) {
    const hash = url.indexOf("#");
    return hash < 0 ? url : url.slice(0, hash);
  }

  // a single-page app moved to another URL (guard-main.js reports history.pushState and
  // replaceState; popstate, hashchange): the rules are chosen again if it changed
  function onNavigated() {
    if (payload && withoutFragment(pageUrl()) !== rulesUrl) applyPayload(payload);
  }

  function applyPayload(next) {
    if (!next || !Array.isArray(next.rules)) return;
    payload = next;
    const url = pageUrl();
    rulesUrl = withoutFragment(url);
    rules = E.rules_for_url(payload, url);
    const attributes = attributesOf(rules);
    const everywhere = usesSiblings(rules);
    if (attributes.join() !== watchedAttributes.join() || everywhere !== watchEverywhere) {
      watchedAttributes = attributes;
      watchedNames = new Set(attributes);
      watchEverywhere = everywhere;
      stopObserving(); // observed again with the new options by activate, just below
    }
    if (rules.length > 0) activate();
    else deactivate();
    sendGuardConfig();
    // what this frame enforces, for a look from the developer tools (the content script's
    // context) and for bench/extension.py; set in this isolated world only, which the
    // page's scripts cannot see
    globalThis.__pwguardFrameState = Object.freeze({
      version: payload.version, active, rules: rules.map((r) => r.id),
    });
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
    // every sync stores the state (its times change): the rules are applied again only when
    // they changed, told by their text, not by their version alone (a version is a name the
    // publisher gives; two different rule sets may bear the same one)
    const next = change.newValue.payload;
    if (!payload || next.version !== payload.version || JSON.stringify(next) !== JSON.stringify(payload)) {
      applyPayload(next);
    }
  });
  loadRules(0);

  // ---- enforcement ----
  function isInput(el) {
    return el.localName === "input";
  }

  // a box we blocked and the page copied (cloneNode, its row's markup) carries our marks: its
  // `disabled` and aria-disabled are ours, not the page's; as we have no record of what the
  // box was before, it counts as enabled (cleared if it is judged harmless)
  const COPIED = Object.freeze({ disabled: false, ariaDisabled: null });

  function stateOf(el) {
    let st = states.get(el);
    if (st === undefined) {
      st = { batch: 0, rule: null, original: null, listed: false, watched: 0 };
      states.set(el, st);
    }
    return st;
  }

  function block(el) {
    const st = stateOf(el);
    if (st.original === null) {
      st.original = {
        disabled: isInput(el) ? el.disabled : el.hasAttribute("disabled"),
        ariaDisabled: el.getAttribute("aria-disabled"),
      };
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
    const st = states.get(el);
    const before = st && st.original;
    if (el.hasAttribute("data-pwguard")) el.removeAttribute("data-pwguard");
    if (!before) return;
    st.original = null;
    if (isInput(el)) el.disabled = before.disabled;
    else if (!before.disabled) el.removeAttribute("disabled");
    if (before.ariaDisabled === null) el.removeAttribute("aria-disabled");
    else el.setAttribute("aria-disabled", before.ariaDisabled);
  }

  // raw label text -> folded label text, for the controls a page keeps re-rendering (fold
  // collapses white space itself: E.fold(collapse(t)) === E.fold(t))
  const foldCache = new Map();
  function folded(text) {
    return E.remember(foldCache, text, E.fold, 500);
  }

  let batch = 0; // the current batch's number, 0 outside batches (see batched)
  let batches = 0;

  // run `fn` with each control evaluated at most once: a scan followed by recheckAll (a
  // mutation batch, an activation) leaves the controls the scan found as they are
  function batched(fn) {
    if (batch) {
      fn();
      return;
    }
    batches += 1;
    batch = batches;
    try {
      fn();
    } finally {
      batch = 0;
    }
  }

  function evaluate(el) {
    const st = stateOf(el);
    if (batch) {
      if (st.batch === batch) return;
      st.batch = batch;
    }
    if (!st.listed) {
      st.listed = true;
      controls.push(el);
      // first seen (a copy of a blocked box), or back in this page after a time elsewhere (a
      // same-origin frame, whose own content script may have blocked it): marks we did not
      // set count as a copy's (see COPIED)
      if (st.original === null && el.getAttribute("data-pwguard") === "blocked") st.original = COPIED;
    }
    const text = E.label_source_text(el); // (the elements it comes from only when needed)
    const rule = E.rule_for_folded(el, rules, folded(text));
    if (rule !== null) watch(el, st, E.label_source(el).nodes);
    else if (!NOT_BLANK.test(text)) watchText(E.label_source(el).nodes);
    st.rule = rule;
    if (rule && blocks(rule)) block(el);
    else {
      if (st.original !== null) release(el);
      if (rule) {
        if (el.getAttribute("data-pwguard") !== "warned") el.setAttribute("data-pwguard", "warned");
      } else if (el.hasAttribute("data-pwguard")) {
        el.removeAttribute("data-pwguard");
      }
    }
  }

  // have `watcher` and `textWatcher` observe what the verdict on `el` (a control a rule
  // applies to) depends on; see `observer`
  function watch(el, st, labelNodes) {
    if (!watcher) return;
    if (st.watched !== generation) { // (the control itself, without a WeakSet lookup)
      st.watched = generation;
      watcher.observe(el, { attributes: true });
    }
    // its ancestors, all of them (a moved subtree gets new ancestors above watched ones)
    for (let node = el.parentElement; node; node = node.parentElement) watchAttributes(node);
    // the labels it reads: a label[for] pointed at another box, an aria-labelledby target
    // given another id, takes its text away
    for (const node of labelNodes) watchAttributes(node);
    watchText(labelNodes);
  }

  // have `watcher` observe a node's attributes, once
  function watchAttributes(node) {
    if (attrWatched.has(node)) return;
    attrWatched.add(node);
    watcher.observe(node, { attributes: true });
  }

  function watchText(labelNodes) {
    if (!textWatcher) return;
    for (const node of labelNodes) {
      if (textWatched.has(node)) continue;
      textWatched.add(node);
      textWatcher.observe(node, { characterData: true, subtree: true });
    }
  }

  function isBlocked(el) {
    const st = active && el ? states.get(el) : undefined;
    const rule = st && st.rule;
    return Boolean(rule && blocks(rule));
  }

  function observe(root) {
    if (!observer) return;
    observer.observe(root, watchEverywhere
      ? { childList: true, subtree: true, attributes: true, attributeFilter: watchedAttributes }
      : { childList: true, subtree: true });
  }

  function startObserving() {
    if (observer) return;
    generation += 1;
    observer = new MutationObserver(onMutations);
    watcher = new MutationObserver(onWatched);
    textWatcher = new MutationObserver(onTextEdited);
    observe(document);
    for (const root of roots) observe(root);
  }

  function stopObserving() {
    for (const o of [observer, watcher, textWatcher]) if (o) o.disconnect();
    observer = watcher = textWatcher = null;
    attrWatched = new WeakSet();
    textWatched = new WeakSet();
  }

  // an element's shadow root, open or closed: a content script may reach closed ones
  // (Chrome: chrome.dom.openOrClosedShadowRoot; Firefox: Element.openOrClosedShadowRoot)
  const dom = globalThis.chrome && globalThis.chrome.dom;
  function shadowOf(el) {
    if (el.shadowRoot) return el.shadowRoot;
    try {
      if (dom && typeof dom.openOrClosedShadowRoot === "function") {
        return dom.openOrClosedShadowRoot(el) || null;
      }
      return el.openOrClosedShadowRoot || null;
    } catch {
      return null; // (not an element this API takes)
    }
  }

  function addShadowRoot(root) {
    if (!root || roots.has(root)) return;
    shadowSeen = true; // (one the parser attached, found before guard-main.js could say)
    roots.add(root);
    observe(root);
    scan(root);
  }

  // SEL is a slow selector list (attribute values on any tag) for a query that runs on every
  // inserted subtree; answered by three faster ones (measured in Chromium on a 500-element
  // subtree: 8 us against 22): every `input` (a tag-name query, the selector engine's fast
  // path; an input's `type` property is "checkbox" exactly when input[type="checkbox" i]
  // matches), then [role="checkbox"] and [role="switch"] one by one (each as fast as a walk
  // that tests nothing, 3 us, while a bare [role] takes 7.5 us and returns every button,
  // dialog and tab a page marks up, each then read here). Inputs first, so a page's form
  // boxes are blocked first; the banner anchors on the first blocked one found.
  const SPLIT = SEL === 'input[type="checkbox" i], [role="checkbox"], [role="switch"]';

  function hasControlRole(el) {
    const role = el.getAttribute("role");
    return role === "checkbox" || role === "switch";
  }

  // el.matches(SEL) for an element, without the selector machinery when SPLIT
  function isCheckboxLike(el) {
    if (!SPLIT) return el.matches(SEL);
    return (el.localName === "input" && el.type === "checkbox") || hasControlRole(el);
  }

  // every checkbox-like control and shadow root under `node` (inclusive)
  function scan(node) {
    // our own banner (its shadow root is no page content, even when the page took it out)
    if (B.isBanner(node)) return;
    if (node.nodeType === ELEMENT) {
      if (isCheckboxLike(node)) evaluate(node);
      // Closed shadow roots cost an extension API call per element (3-6 us in Chromium,
      // against 0.1 us for the open root): looked for once the page has used shadow DOM,
      // and while the parser still runs (it attaches declarative shadow roots without
      // telling guard-main.js)
      const root = shadowSeen || parsing ? shadowOf(node) : node.shadowRoot;
      if (root) addShadowRoot(root);
    }
    if (!node.firstElementChild) return;
    if (SPLIT) {
      // (static lists: judging a control fires events whose handlers may change the DOM)
      for (const el of node.querySelectorAll("input")) if (el.type === "checkbox") evaluate(el);
      for (const el of node.querySelectorAll('[role="checkbox"]')) evaluate(el);
      for (const el of node.querySelectorAll('[role="switch"]')) evaluate(el);
    } else {
      for (const el of node.querySelectorAll(SEL)) evaluate(el);
    }
    if (!shadowSeen) return;
    for (const el of node.querySelectorAll("*")) {
      const root = shadowOf(el);
      if (root) addShadowRoot(root);
    }
  }

  // declarative shadow DOM (<template shadowrootmode>) attaches without attachShadow
  function detectShadowDom() {
    if (shadowSeen) return;
    for (const el of document.querySelectorAll("*")) {
      if (shadowOf(el) || el.localName === "template" && el.hasAttribute("shadowrootmode")) {
        shadowSeen = true;
        return;
      }
    }
  }

  function isListed(el) {
    const st = states.get(el);
    return st !== undefined && st.listed;
  }

  // whether a control is in this frame's page (its document or a shadow root in it): a page
  // may move a row into a same-origin frame, whose own content script judges it there
  function inPage(el) {
    return el.isConnected && el.ownerDocument === document;
  }

  function recheckAll() {
    for (const root of roots) if (!root.host.isConnected) roots.delete(root); // (back if re-inserted)
    const kept = [];
    const stale = []; // (those not judged in this batch yet)
    for (const el of controls) {
      const st = states.get(el);
      if (!inPage(el)) {
        st.listed = false; // (evaluated and listed again if it comes back)
      } else if (batch !== 0 && st.batch === batch) {
        kept.push(el); // (judged in this batch already)
      } else if (!isCheckboxLike(el)) {
        forget(el); // a page script made it something else (type="text", another role)
      } else {
        kept.push(el);
        stale.push(el);
      }
    }
    controls = kept;
    for (const el of stale) evaluate(el);
    if (formerControls.length > 0) recheckFormer();
    updateBanner();
  }

  function forget(el) {
    const st = states.get(el);
    st.listed = false;
    st.rule = null;
    release(el);
    if (el.isConnected) formerControls.push(el);
  }

  // controls a page script made something else (type="text", another role) while still in the
  // page: one made checkbox-like again by attributes alone is judged at the next insertion
  // or removal, as a known box is (one taken out is found again when it is put back)
  function recheckFormer() {
    const still = [];
    for (const el of formerControls) {
      if (!inPage(el) || isListed(el)) continue;
      if (isCheckboxLike(el)) evaluate(el);
      else still.push(el);
    }
    formerControls = still;
  }

  // attributes changed on known controls or their ancestors
  function onWatched(records) {
    if (!active) return;
    batched(() => {
      let ancestors = false;
      for (const rec of records) {
        if (!watchedNames.has(rec.attributeName)) {
          // <html lang> set once the banner is up (an app that loads its strings late): the
          // banner is drawn again in that language
          if (rec.attributeName === "lang" && rec.target === document.documentElement) bannerKey = "";
          continue;
        }
        const el = rec.target;
        if (states.get(el) === undefined || el.ownerDocument !== document) {
          ancestors = true; // (an ancestor of a watched control, or one that left the page)
        } else if (isCheckboxLike(el)) {
          evaluate(el); // (listed again if a type or role change had made us forget it)
        } else if (isListed(el)) {
          forget(el);
        }
      }
      if (ancestors) recheckAll();
      else updateBanner();
    });
  }

  // text edited inside what a known control's label is read from
  function onTextEdited() {
    if (active) batched(recheckAll);
  }

  function onMutations(records) {
    if (document.documentElement !== listenedRoot) listen(); // (document.open())
    if (!active) return;
    batched(() => {
      let attributes = false;
      for (const rec of records) {
        if (rec.type !== "childList") { // (watchEverywhere)
          attributes = true;
          if (isCheckboxLike(rec.target) && !isListed(rec.target)) evaluate(rec.target);
          continue;
        }
        for (const n of rec.addedNodes) if (n.nodeType === ELEMENT) scan(n);
      }
      // labels may have gained or lost text or a label[for], ids may have moved, rows may
      // have been re-parented: re-evaluate the (few) known controls once per batch
      if (controls.length > 0 || attributes) recheckAll();
    });
  }

  // every control of the page and its known shadow roots found and evaluated afresh (a
  // blocked one unticked again): before the page acts on the boxes (a click, a key, a
  // submit), what a page script changed without inserting or removing anything since (a box
  // renamed or relabelled, an element made a checkbox by its type or role) counts
  function rescanAll() {
    batched(() => {
      scan(document);
      for (const root of roots) scan(root);
      recheckAll();
    });
  }

  function activate() {
    active = true;
    detectShadowDom();
    startObserving();
    rescanAll();
  }

  function deactivate() {
    const wasActive = active;
    active = false;
    stopObserving();
    if (!wasActive) return;
    for (const el of controls) forget(el);
    controls = [];
    formerControls = [];
    refused.length = 0;
    bannerKey = "";
    B.remove(document);
  }

  // a move of the banner the rate limit refused (banner.js): made now if still needed
  B.onRetry(() => {
    if (active) updateBanner();
  });
  B.searchShadowRoots(() => roots);

  function updateBanner() {
    if (!active) return;
    const entries = [];
    let anchor = null;
    for (const el of controls) {
      const rule = states.get(el).rule;
      if (!rule || !inPage(el)) continue;
      const blocked = blocks(rule);
      entries.push({ rule, kind: blocked ? "blocked" : "warned" });
      if (!anchor || (blocked && !isBlocked(anchor))) anchor = el;
    }
    for (const r of refused) entries.push({ rule: r.rule, kind: "refused", path: r.path });
    if (entries.length === 0) {
      if (bannerKey) B.remove(document);
      bannerKey = "";
      return;
    }
    const key = JSON.stringify(entries.map((e) => [e.kind, e.rule.id, e.path || ""]).sort());
    if (key === bannerKey) {
      // the same banner: only put back where it belongs if the page moved or removed it
      // (drawn again, a banner dismissed by the person would show again)
      if (!B.isPlaced(anchor)) B.replace(document, anchor);
      return;
    }
    bannerKey = key;
    let host = "";
    try {
      host = new URL(pageUrl()).host; // (a blank or srcdoc frame's is its parent page's)
    } catch {
      /* no page address known: no {host} link */
    }
    B.show(document, entries, anchor, host);
  }

  // ---- user actions and page scripts ----
  // a control is evaluated afresh when a person reaches for it: a page script may have made
  // it checkbox-like (a `type` or `role` set later) or dangerous (renamed, relabelled in
  // place) without any insertion since, which no observer reports for a harmless box
  function reached(el) {
    if (el && isCheckboxLike(el)) batched(() => evaluate(el));
    return el;
  }

  function blockedTarget(ev) {
    const path = ev.composedPath ? ev.composedPath() : [ev.target];
    // a click or key on our banner (its "x", its help link) is never one on a box, even when
    // the page has put the banner inside a label or a control
    const banner = B.shown();
    if (banner && path.includes(banner)) return null;
    for (const node of path) {
      if (!(node instanceof Element)) continue;
      if (isBlocked(reached(node))) return node;
      if (node.localName === "label" && isBlocked(reached(node.control))) return node.control;
    }
    return null;
  }

  function stop(ev) {
    ev.preventDefault();
    ev.stopImmediatePropagation();
  }

  function onClick(ev) {
    if (!active) return;
    const el = blockedTarget(ev);
    if (el) {
      stop(ev);
      block(el);
      updateBanner();
      return;
    }
    // "Continue" and friends: untick before the page's own click handler reads the boxes
    rescanAll();
  }

  function onKeydown(ev) {
    if (!active || (ev.key !== " " && ev.key !== "Enter")) return;
    const el = blockedTarget(ev);
    if (el) stop(ev);
    else rescanAll();
  }

  // (input and change)
  function onInput(ev) {
    if (!active || !ev.isTrusted) return;
    const el = blockedTarget(ev);
    if (el) {
      block(el);
      ev.stopImmediatePropagation();
    }
  }

  function onSubmit() {
    if (active) rescanAll();
  }

  // guard-main.js: the page uses shadow DOM; a node in the page (an element, a shadow root,
  // the document) just got a shadow root or markup with declarative ones below it
  function onShadow(ev) {
    shadowSeen = true;
    if (!active) return;
    const node = ev.composedPath()[0];
    if (node) {
      batched(() => {
        scan(node);
        updateBanner();
      });
    }
  }

  // a streamed page's parser attaches declarative shadow roots to hosts already inserted
  // (and searched): search the whole page once more when it is parsed
  function onReadyStateChange() {
    parsing = document.readyState === "loading";
  }

  function onParsed() {
    if (!active) return;
    detectShadowDom();
    if (shadowSeen) rescanAll();
  }

  // Our window and document listeners, added again whenever the document's root element is
  // replaced: document.open() removes every listener of the window and the document (ours
  // too, in Chrome and Firefox) while our MutationObservers stay, and onMutations sees the
  // new root. Adding a listener that is already there changes nothing.
  function listen() {
    listenedRoot = document.documentElement;
    parsing = document.readyState === "loading";
    window.addEventListener("message", onHello, true);
    window.addEventListener("click", onClick, true);
    window.addEventListener("keydown", onKeydown, true);
    window.addEventListener("input", onInput, true);
    window.addEventListener("change", onInput, true);
    window.addEventListener("submit", onSubmit, true);
    document.addEventListener("pwguard-shadow", onShadow, true);
    document.addEventListener("pwguard-navigated", onNavigated, true);
    window.addEventListener("popstate", onNavigated, true);
    window.addEventListener("hashchange", onNavigated, true);
    document.addEventListener("readystatechange", onReadyStateChange, true);
    document.addEventListener("DOMContentLoaded", onParsed);
  }
  listen();
})();
