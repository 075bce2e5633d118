// Page-world driver of tests/test_browser_content_fuzz.py: runs seeded DOM operations a real
// app might do and checks every checkbox-like control against the verdict extension/engine.js
// (loaded into this page's own world, with the rules the extension enforces) computes from
// scratch for the current DOM. Classic script; attaches window.fz.
(() => {
  "use strict";
  const E = window.pwguardEngine;
  const RULES = E.rules_for_url(window.__fzPayload, location.href);
  const SEL = E.CHECKBOX_SELECTOR;
  const MOBILE = "Terminate all the desktop and mobile app sessions.";
  const API = "Revoke connected app's access to your account.";
  const WEB = "Terminate all the browsers sessions.";
  const REMEMBER = "Remember me";
  const WARN = "Notify me of new sign-ins";
  const TEXTS = [MOBILE, API, WEB, REMEMBER, WARN, "", " "];
  const IDS = ["ter_mob", "ter_apiToken", "ter_all", "keep", "b1", "b2", "b3"];
  const NAMES = ["clear_mobile", "clear_apiToken", "clear_web", "remember", "x"];
  const CLASSES = ["checkbox_check", "", "fz-warn", "checkbox_check fz-warn"];
  const CONTAINER_IDS = ["terminate_mob_apps", "terminate_api_tok", ""];

  function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  let serial = 0;
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

  // a row as Zoho's dialog has it, or another checkbox-like control a page may show
  function rowHtml(kind, id, rnd) {
    serial += 1;
    const tick = rnd() < 0.3 ? " checked" : "";
    const zoho = (name, text) => `<div class="checkbox_div fzrow" data-fz="${kind}${serial}">
  <input class="checkbox_check" id="${id}" type="checkbox" name="${name}"${tick}>
  <span class="checkbox"><span class="checkbox_tick"></span></span>
  <label class="session_label" for="${id}"><span class="checkbox_label">${esc(text)}</span></label>
</div>`;
    switch (kind) {
      case "mob": return zoho("clear_mobile", MOBILE);
      case "api": return zoho("clear_apiToken", API);
      case "web": return zoho("clear_web", WEB);
      case "renamed": return zoho("x", MOBILE); // a label alone makes it dangerous
      case "remember":
        return `<div class="fzrow" data-fz="rem${serial}"><label><input type="checkbox" name="remember"${tick}> ${REMEMBER}</label></div>`;
      case "warn":
        return `<div class="fzrow" data-fz="warn${serial}"><input type="checkbox" id="${id}w"${tick}><label for="${id}w">${WARN}</label></div>`;
      case "widget": {
        const role = rnd() < 0.5 ? "checkbox" : "switch";
        const text = TEXTS[Math.floor(rnd() * 5)];
        const how = rnd() < 0.5 ? ` aria-label="${esc(text)}">` : `>${esc(text)}`;
        return `<div class="fzrow" data-fz="w${serial}"><div role="${role}" tabindex="0" aria-checked="${tick ? "true" : "false"}"${how}</div></div>`;
      }
      default: // a plain box with a random label
        return `<div class="fzrow" data-fz="p${serial}"><input type="checkbox" id="${id}"${tick}><label for="${id}">${esc(TEXTS[Math.floor(rnd() * TEXTS.length)])}</label></div>`;
    }
  }
  const KINDS = ["mob", "api", "web", "renamed", "remember", "warn", "widget", "plain"];

  const frameDoc = () => {
    const f = document.getElementById("fr");
    return f && f.contentDocument;
  };
  const docs = () => [document, frameDoc()].filter((d) => d && d.body);

  // every open shadow root under a document (nested ones too), banners' own excepted
  function shadowRoots(doc) {
    const out = [];
    const walk = (root) => {
      for (const el of root.querySelectorAll("*")) {
        if (el.shadowRoot && el.getAttribute("data-pwguard") !== "banner") {
          out.push(el.shadowRoot);
          walk(el.shadowRoot);
        }
      }
    };
    walk(doc);
    return out;
  }
  const scopes = (doc) => [doc, ...shadowRoots(doc)];
  const all = (sel) => docs().flatMap((d) => scopes(d).flatMap((s) => [...s.querySelectorAll(sel)]));
  const controls = () => all(SEL).filter((el) => !el.closest('[data-pwguard="banner"]'));
  const containers = () => all(".fzc");
  const rows = () => all(".fzrow");
  const labels = () => all("label, [id^=lbl]");
  const pick = (rnd, list) => (list.length ? list[Math.floor(rnd() * list.length)] : null);

  function describe(el) {
    if (!el) return "null";
    const root = el.getRootNode();
    const where = root === document ? "" : root.host ? `[shadow of ${describe(root.host)}]` : "[frame]";
    const fz = el.closest && el.closest("[data-fz]");
    const id = el.id ? `#${el.id}` : el.classList && el.classList.contains("fzc") ? "" : "";
    return `${el.localName}${id}${fz ? `@${fz.getAttribute("data-fz")}` : ""}${where}`;
  }

  function insertRow(rnd, html, into) {
    const how = Math.floor(rnd() * 4);
    if (how === 0) into.insertAdjacentHTML(rnd() < 0.5 ? "beforeend" : "afterbegin", html);
    else if (how === 1) {
      const holder = into.ownerDocument.createElement("div");
      holder.innerHTML = html;
      into.append(holder);
    } else if (how === 2) {
      const t = into.ownerDocument.createElement("template");
      t.innerHTML = html;
      into.prepend(t.content.cloneNode(true));
    } else {
      const tmp = into.ownerDocument.createElement("div");
      tmp.innerHTML = html;
      into.append(...tmp.childNodes);
    }
    return ["insertAdjacentHTML", "holder.innerHTML", "template clone", "moved children"][how];
  }

  function boxOf(rnd) {
    return pick(rnd, controls().concat(all("input:not([type=checkbox])")));
  }

  // each op does one thing a page might do and says what
  const OPS = {
    insert(rnd) {
      const kind = pick(rnd, KINDS);
      const into = pick(rnd, containers());
      const how = insertRow(rnd, rowHtml(kind, pick(rnd, IDS), rnd), into);
      return `insert ${kind} into ${describe(into)} by ${how}`;
    },
    remove(rnd) {
      const r = pick(rnd, rows());
      if (!r) return "remove: no row";
      r.remove();
      return `remove ${describe(r)}`;
    },
    move(rnd) {
      const r = pick(rnd, rows());
      const into = pick(rnd, containers());
      if (!r || into.contains(r) || r.contains(into)) return "move: none";
      if (rnd() < 0.5) into.append(r);
      else into.prepend(r);
      return `move ${describe(r)} to ${describe(into)}`;
    },
    clone(rnd) {
      const r = pick(rnd, rows());
      const into = pick(rnd, containers());
      if (!r) return "clone: no row";
      serial += 1;
      if (rnd() < 0.5) {
        const c = r.cloneNode(true);
        c.setAttribute("data-fz", `clone${serial}`);
        into.append(c);
        return `cloneNode ${describe(r)} into ${describe(into)}`;
      }
      into.insertAdjacentHTML("beforeend", r.outerHTML.replace(/data-fz="[^"]*"/, `data-fz="copy${serial}"`));
      return `outerHTML copy of ${describe(r)} into ${describe(into)}`;
    },
    attr(rnd) {
      const el = boxOf(rnd);
      if (!el) return "attr: none";
      const what = Math.floor(rnd() * 6);
      const d = describe(el);
      if (what === 0) { el.id = pick(rnd, IDS); return `${d}.id = ${el.id}`; }
      if (what === 1) { el.setAttribute("name", pick(rnd, NAMES)); return `${d} name=${el.getAttribute("name")}`; }
      if (what === 2) { el.className = pick(rnd, CLASSES); return `${d}.className = "${el.className}"`; }
      if (what === 3) {
        if (el.localName !== "input") return "type: not an input";
        el.type = rnd() < 0.5 ? "text" : "checkbox";
        if (el.type === "checkbox") morphed.add(el);
        return `${d}.type = ${el.type}`;
      }
      if (what === 4) {
        const role = pick(rnd, ["checkbox", "switch", "button", null]);
        if (role) el.setAttribute("role", role);
        if (role === "checkbox" || role === "switch") morphed.add(el);
        else el.removeAttribute("role");
        return `${d} role=${role}`;
      }
      const cont = pick(rnd, containers());
      cont.id = pick(rnd, CONTAINER_IDS);
      return `container ${describe(cont)} id="${cont.id}"`;
    },
    label(rnd) {
      const el = boxOf(rnd);
      const text = pick(rnd, TEXTS);
      const what = Math.floor(rnd() * 6);
      const lab = pick(rnd, labels());
      if (what === 0 && lab) { lab.textContent = text; return `${describe(lab)}.textContent = "${text}"`; }
      if (what === 1 && lab) {
        const walker = lab.ownerDocument.createTreeWalker(lab, NodeFilter.SHOW_TEXT);
        const node = walker.nextNode();
        if (!node) return "text node: none";
        node.data = text;
        return `text node in ${describe(lab)}.data = "${text}"`;
      }
      if (!el) return "label: no box";
      if (what === 2 && lab && lab.localName === "label") {
        lab.htmlFor = el.id || pick(rnd, IDS);
        return `${describe(lab)}.htmlFor = ${lab.htmlFor}`;
      }
      if (what === 3) {
        if (rnd() < 0.3) { el.removeAttribute("aria-label"); return `${describe(el)} aria-label removed`; }
        el.setAttribute("aria-label", text);
        return `${describe(el)} aria-label="${text}"`;
      }
      if (what === 4) {
        // a span with an id, somewhere in the box's document or shadow root, named by it
        serial += 1;
        const root = el.getRootNode();
        const span = el.ownerDocument.createElement("span");
        span.id = `lbl${serial}`;
        span.textContent = text;
        const into = pick(rnd, [...root.querySelectorAll(".fzc")]) || el.parentNode;
        into.append(span);
        el.setAttribute("aria-labelledby", span.id);
        return `${describe(el)} aria-labelledby a new span "${text}"`;
      }
      if (what === 5 && lab && lab.id) {
        el.setAttribute("aria-labelledby", lab.id);
        return `${describe(el)} aria-labelledby=${lab.id}`;
      }
      return "label: none";
    },
    wrap(rnd) {
      const el = boxOf(rnd);
      if (!el) return "wrap: none";
      const parent = el.parentNode;
      if (parent.localName === "label" && rnd() < 0.6) {
        parent.replaceWith(...parent.childNodes); // unwrap (its text stays)
        return `unwrap ${describe(el)}`;
      }
      const lab = el.ownerDocument.createElement("label");
      const text = pick(rnd, TEXTS);
      el.replaceWith(lab);
      lab.append(el, ` ${text}`);
      return `wrap ${describe(el)} in <label>${text}</label>`;
    },
    tick(rnd) {
      const el = boxOf(rnd);
      if (!el) return "tick: none";
      if (el.localName !== "input") { el.setAttribute("aria-checked", "true"); return `${describe(el)} aria-checked=true`; }
      if (rnd() < 0.5) { el.checked = true; return `${describe(el)}.checked = true`; }
      el.setAttribute("checked", "");
      return `${describe(el)} checked attribute`;
    },
    reenable(rnd) {
      const el = boxOf(rnd);
      if (!el) return "reenable: none";
      const what = Math.floor(rnd() * 4);
      if (what === 0) { el.removeAttribute("disabled"); return `${describe(el)} disabled attribute removed`; }
      if (what === 1) { el.disabled = false; return `${describe(el)}.disabled = false`; }
      if (what === 2) { el.setAttribute("aria-disabled", "false"); return `${describe(el)} aria-disabled=false`; }
      el.removeAttribute("data-pwguard");
      return `${describe(el)} data-pwguard removed`;
    },
    rerender(rnd) {
      const c = pick(rnd, containers());
      c.innerHTML = c.innerHTML; // (the markup re-rendered: every element made anew)
      return `${describe(c)}.innerHTML = itself`;
    },
    shadow(rnd) {
      const into = pick(rnd, containers());
      serial += 1;
      const host = into.ownerDocument.createElement("div");
      host.setAttribute("data-fz", `host${serial}`);
      const root = host.attachShadow({ mode: "open" });
      const inner = into.ownerDocument.createElement("div");
      inner.className = "fzc";
      root.append(inner);
      const before = rnd() < 0.5;
      if (before) into.append(host);
      const kind = pick(rnd, KINDS);
      insertRow(rnd, rowHtml(kind, pick(rnd, IDS), rnd), inner);
      if (!before) into.append(host);
      return `shadow host ${describe(host)} in ${describe(into)} with ${kind} (${before ? "filled after" : "filled before"} insertion)`;
    },
    frame(rnd) {
      const r = pick(rnd, rows());
      const fd = frameDoc();
      if (!r || !fd) return "frame: none";
      const into = pick(rnd, [...fd.querySelectorAll(".fzc")]);
      into.append(r);
      return `move ${describe(r)} into the frame's ${into.id}`;
    },
  };
  const WEIGHTS = { insert: 5, remove: 2, move: 2, clone: 2, attr: 4, label: 4, wrap: 1,
    tick: 2, reenable: 2, rerender: 1, shadow: 1, frame: 1 };
  const BAG = Object.entries(WEIGHTS).flatMap(([op, w]) => Array(w).fill(op));

  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

  // ---- the oracle and the invariants ----
  const seen = { block: 0, warn: 0, none: 0, copies: 0 };
  let markedBefore = new WeakMap();
  let dirty = new Set();
  // elements a step made checkbox-like by their type or role, not inserted since: the
  // extension judges them when a person reaches for them or at submit (content.js, rescanAll)
  const morphed = new WeakSet();

  function stateOf(el) {
    const input = el.localName === "input";
    return {
      mark: el.getAttribute("data-pwguard"),
      disabled: input ? el.disabled : el.hasAttribute("disabled"),
      checked: input ? el.checked : el.getAttribute("aria-checked") === "true",
      ariaDisabled: el.getAttribute("aria-disabled"),
    };
  }

  // childList mutations since the step began, by the document they are in now: the
  // extension's observer re-judges every known control of a document after one
  const noteStructural = (records) => {
    for (const rec of records) {
      dirty.add(rec.target.ownerDocument);
      for (const n of rec.addedNodes) {
        if (n.nodeType !== 1) continue;
        morphed.delete(n);
        for (const d of n.querySelectorAll("*")) morphed.delete(d);
      }
    }
  };
  const structural = new MutationObserver(noteStructural);
  const observed = new WeakSet();
  function observeAll() {
    for (const doc of docs()) {
      for (const scope of scopes(doc)) {
        if (!observed.has(scope)) {
          observed.add(scope);
          structural.observe(scope, { childList: true, subtree: true });
        }
      }
    }
  }
  function takeStructural() {
    noteStructural(structural.takeRecords());
    observeAll();
  }

  function consistent(action, s) {
    if (action === "block") return s.mark === "blocked" && s.disabled && !s.checked && s.ariaDisabled === "true";
    if (action === "warn") return s.mark === "warned" && !s.disabled;
    return s.mark === null && !s.disabled && s.ariaDisabled !== "true";
  }
  const actionOfMark = (mark) => (mark === "blocked" ? "block" : mark === "warned" ? "warn" : "none");

  // problems with the page as it is: [] when it is as the rules say. `lenient`: in a document
  // where the step inserted or removed nothing, a control may still be as it was judged
  // before the step (README: a box a page script turns dangerous by attributes or in-place
  // text edits alone is judged again at the next insertion or removal, or when used); what
  // the watchers see (the box and its label re-ticked, re-enabled) is checked all the same
  function problems(lenient, count) {
    const out = [];
    if (lenient) takeStructural();
    for (const doc of docs()) {
      let matched = false;
      const mayLag = lenient && !dirty.has(doc);
      for (const scope of scopes(doc)) {
        for (const el of scope.querySelectorAll(SEL)) {
          if (el.closest('[data-pwguard="banner"]')) continue;
          const rule = E.rule_for(el, RULES);
          const action = rule ? rule.action || "block" : "none";
          if (count) seen[action] += 1;
          const s = stateOf(el);
          let bad = null;
          if (!consistent(action, s)) {
            bad = action === "block" ? "should be blocked"
              : action === "warn" ? "should be warned (and enabled)" : "should be untouched (harmless)";
          }
          const was = markedBefore.has(el) ? markedBefore.get(el) : null;
          if (bad && mayLag && s.mark === was && consistent(actionOfMark(was), s)) {
            bad = null; // not judged again yet
          }
          if (bad && morphed.has(el) && s.mark === null && !s.disabled && s.ariaDisabled !== "true") {
            bad = null; // made a checkbox by attributes alone: judged when used
          }
          if (bad === null ? s.mark !== null : action !== "none") matched = true;
          if (bad) {
            out.push({ problem: bad, control: describe(el), rule: rule && rule.id, label: E.label_text(el),
              markBefore: was, state: s, outerHTML: el.outerHTML, row: (el.closest(".fzrow") || el.parentNode).outerHTML });
          }
        }
      }
      const marked = scopes(doc).flatMap((s) => [...s.querySelectorAll('[data-pwguard="banner"]')]);
      // The banner is the host with its shadow root. An empty copy of the host (no shadow
      // root) that the page made by copying a row's or dialog's markup is removed whenever
      // the banner is placed or taken out, but not when the page copies it while the banner
      // stays as it is (finding it then would cost a query of every inserted subtree): such
      // copies are counted, not failed (left as is, see the test's docstring)
      const banners = marked.filter((b) => b.shadowRoot);
      if (count) seen.copies += marked.length - banners.length;
      const want = matched ? 1 : 0;
      if (banners.length !== want || banners.some((b) => b.getAttribute("role") !== "alert")) {
        out.push({ problem: `${doc === document ? "page" : "frame"}: ${banners.length} banners, expected ${want}`,
          banners: banners.map((b) => `${b.outerHTML} in ${describe(b.parentNode.host || b.parentNode)}${
            b.parentNode.host ? " (shadow root)" : ""} before ${b.nextElementSibling ? b.nextElementSibling.outerHTML.slice(0, 120) : "nothing"}`) });
      }
    }
    return out;
  }

  // poll (a 20 ms timer) until the page is as the rules say, at most `budget` ms
  async function settle(lenient, budget) {
    const end = performance.now() + budget;
    await nextTask(); // (the extension's observers ran at the end of the step's last task)
    for (;;) {
      const found = problems(lenient, false);
      if (found.length === 0) return null;
      if (performance.now() >= end) return found;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  // one step: ops from its seed, in one task ("sync") or one task each ("tasks"); then the
  // check (lenient), an insertion and removal in every document, and the strict check
  async function step(spec) {
    const rnd = mulberry32(spec.s);
    // what the extension made of the page before the step's last task: a control may still be
    // so judged after it (lenient)
    const snapshot = () => {
      markedBefore = new WeakMap(controls().map((el) => [el, el.getAttribute("data-pwguard")]));
      takeStructural();
      dirty = new Set();
    };
    snapshot();
    const done = [];
    const n = spec.mode === "one" ? 1 : spec.n;
    for (let i = 0; i < n; i += 1) {
      if (i > 0 && spec.mode === "tasks") {
        await nextTask(); // (the extension's observers ran at the end of the last one)
        snapshot();
      }
      const op = pick(rnd, BAG);
      try {
        done.push(OPS[op](rnd));
      } catch (e) {
        done.push(`${op}: threw ${e}`);
      }
    }
    const what = `${spec.mode}: ${done.join("; ")}`;
    let found = await settle(true, spec.budget);
    if (found) return { what, phase: "after the step", problems: found };
    for (const doc of docs()) {
      const i = doc.createElement("i");
      doc.body.append(i);
      i.remove();
    }
    found = await settle(false, spec.budget);
    if (found) return { what, phase: "after an insertion and removal", problems: found };
    problems(false, true); // count what was checked
    return { what, phase: null, problems: null };
  }

  window.fz = { step, seen, ready: () => Boolean(frameDoc() && frameDoc().querySelector(".fzc")) };
})();
