// The banner: one per page, `[data-pwguard="banner"][role="alert"]`, in the page's flow
// before the form of the first matched control (see targetFor). Its content lives in an OPEN
// shadow root (so tests and assistive technology can read it) whose host carries
// `all: initial`, so the page's CSS can neither hide nor restyle it. Rule text is always set
// with textContent, never as HTML. Classic script: attaches to globalThis.pwguardBanner.
(() => {
  "use strict";

  // The banner's own words, by language; the rule's `message` supplies the rest.
  const WORDS = {
    en: {
      blocked: "pwguard kept this option switched off",
      warned: "pwguard: careful with this option",
      refused: "pwguard stopped a request to",
      help: "Do it the safe way",
      dismiss: "Dismiss",
    },
    es: {
      blocked: "pwguard mantuvo esta opción desactivada",
      warned: "pwguard: cuidado con esta opción",
      refused: "pwguard detuvo una solicitud a",
      help: "Hágalo de forma segura",
      dismiss: "Cerrar",
    },
    fr: {
      blocked: "pwguard a laissé cette option désactivée",
      warned: "pwguard : attention à cette option",
      refused: "pwguard a arrêté une requête vers",
      help: "Procéder en toute sécurité",
      dismiss: "Fermer",
    },
    de: {
      blocked: "pwguard hat diese Option ausgeschaltet gelassen",
      warned: "pwguard: Vorsicht mit dieser Option",
      refused: "pwguard hat eine Anfrage gestoppt an",
      help: "Auf dem sicheren Weg",
      dismiss: "Schließen",
    },
    pt: {
      blocked: "pwguard manteve esta opção desativada",
      warned: "pwguard: cuidado com esta opção",
      refused: "pwguard interrompeu um pedido para",
      help: "Faça da forma segura",
      dismiss: "Fechar",
    },
    nl: {
      blocked: "pwguard hield deze optie uitgeschakeld",
      warned: "pwguard: pas op met deze optie",
      refused: "pwguard heeft een verzoek gestopt naar",
      help: "Doe het op de veilige manier",
      dismiss: "Sluiten",
    },
    ja: {
      blocked: "pwguard はこのオプションをオフのままにしました",
      warned: "pwguard: このオプションに注意してください",
      refused: "pwguard は次へのリクエストを停止しました:",
      help: "安全な方法で行う",
      dismiss: "閉じる",
    },
    zh: {
      blocked: "pwguard 已使此选项保持关闭",
      warned: "pwguard：请注意此选项",
      refused: "pwguard 已阻止发往以下地址的请求：",
      help: "以安全的方式操作",
      dismiss: "关闭",
    },
    "zh-tw": {
      blocked: "pwguard 已讓此選項保持關閉",
      warned: "pwguard：請注意此選項",
      refused: "pwguard 已阻止傳送至以下位址的要求：",
      help: "以安全的方式操作",
      dismiss: "關閉",
    },
    it: {
      blocked: "pwguard ha lasciato disattivata questa opzione",
      warned: "pwguard: attenzione a questa opzione",
      refused: "pwguard ha fermato una richiesta a",
      help: "Procedi in modo sicuro",
      dismiss: "Chiudi",
    },
  };

  /** "es-MX" -> "es", "pt_BR" -> "pt", "" -> "". */
  function normalizeLang(tag) {
    return String(tag || "").trim().toLowerCase().split(/[-_]/)[0];
  }

  function canonicalTag(tag) {
    return String(tag || "").trim().toLowerCase().replaceAll("_", "-");
  }

  // Tags that name the same language as another: Traditional Chinese (by script or by a
  // region that writes it) is "zh-TW" in Zoho's labels, Simplified is "zh"; Hebrew and
  // Indonesian have an old code each ("iw", "in", which Zoho's labels use) and a new one.
  function sameLanguage(tag) {
    // (then "zh", the primary language, as for any tag: Simplified over no Chinese at all)
    if (/^zh-(hant|hk|mo|tw)(-|$)/.test(tag)) return ["zh-tw", "zh-hant", "zh"];
    if (/^zh-(hans|cn|sg)(-|$)/.test(tag)) return ["zh", "zh-cn", "zh-hans"];
    const primary = normalizeLang(tag);
    const old = { he: "iw", iw: "he", id: "in", in: "id" }[primary];
    return old ? [primary, old] : [primary];
  }

  /** The key of `messages` to speak for a language tag: the exact tag ("pt-BR" for "pt_BR",
   * "zh-TW"), else the same language by another tag ("zh-TW" for "zh-Hant" or "zh-HK", "iw"
   * for "he"), else its primary language ("es" for "es-MX"), else null. */
  function messageKey(tag, messages) {
    const keys = Object.keys(messages || {});
    const full = canonicalTag(tag);
    if (!full) return null;
    for (const want of [full, ...sameLanguage(full)]) {
      const found = keys.find((k) => canonicalTag(k) === want);
      if (found) return found;
    }
    return null;
  }

  // languages written right to left (the banner follows the language it speaks, not the page)
  const RTL = new Set(["ar", "he", "iw", "fa", "ur", "ks", "ps", "sd", "ug", "yi", "dv", "ckb"]);

  /** The language to speak for these messages: <html lang>, else the browser's, else en. */
  function pickLang(doc, messages) {
    const candidates = [
      doc.documentElement && doc.documentElement.getAttribute("lang"),
      globalThis.navigator && navigator.language,
    ];
    for (const c of candidates) {
      const key = messageKey(c, messages);
      if (key) return key;
    }
    return "en";
  }

  function messageOf(rule, lang) {
    const m = rule.message || {};
    return m[lang] || m.en || rule.title || rule.id;
  }

  /** The rule's help link with {host} filled in, or null unless it is http(s) (or it needs a
   * host and there is none: "https:///u/h" would read as the host "u"). */
  function helpUrl(rule, host) {
    if (!rule.help) return null;
    if (!host && String(rule.help).includes("{host}")) return null;
    try {
      const url = new URL(String(rule.help).replaceAll("{host}", host));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  const CSS_TEXT = `
    :host { all: initial !important; display: block !important; position: relative !important;
      margin: 0 0 8px 0 !important; }
    :host([hidden]) { display: none !important; }
    :host([data-placement="top"]) { position: fixed !important; top: 0 !important;
      left: 0 !important; right: 0 !important; z-index: 2147483647 !important; }
    .box { all: initial; display: block; box-sizing: border-box; width: 100%;
      background: #fff4e5; color: #3b2300; border-bottom: 3px solid #c62828;
      font: 14px/1.4 system-ui, sans-serif; padding-block: 10px; padding-inline: 14px 44px; }
    .line { all: initial; display: block; font: inherit; color: inherit; margin: 2px 0; }
    .head { font-weight: bold; }
    a { all: initial; font: inherit; color: #0b57d0; text-decoration: underline; cursor: pointer; }
    button { all: initial; position: absolute; top: 6px; inset-inline-end: 10px;
      font: 20px/1 sans-serif; color: #3b2300; cursor: pointer; padding: 4px 8px; }
    a:focus-visible, button:focus-visible { outline: 2px solid #0b57d0; outline-offset: 2px; }
  `;

  // A constructed style sheet keeps the CSS out of the shadow root's textContent (tests and
  // screen readers read that); browsers that refuse it from a content script get a <style>.
  function adoptStyle(doc, root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS_TEXT);
      root.adoptedStyleSheets = [sheet];
      return;
    } catch {
      /* fall through */
    }
    root.prepend(el(doc, "style", null, CSS_TEXT));
  }

  function el(doc, tag, cls, text) {
    const node = doc.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  let current = null; // this document's banner host (content scripts run once per frame)

  // Where the banner goes: in the page's flow just before the form (else the row) holding the
  // first matched control, so it never covers the page (the harmless box, "Continue"); fixed
  // at the top only when there is no such control (a refused request on a page without one).
  function targetFor(anchor) {
    if (!anchor || !anchor.isConnected) return null;
    // a control inside (nested) open shadow roots: place the banner by its light-DOM host, so
    // that document.querySelector finds the page's one banner
    let a = anchor;
    while (a.getRootNode() !== a.ownerDocument && a.getRootNode().host) a = a.getRootNode().host;
    let target = a === anchor ? a.closest("form") || a.parentElement : a.closest("form") || a;
    // never inside a label (`<label><span><input></span>...</label>`): a click on the banner
    // would be a click on the label, that is on the box
    const label = target && target.closest("label");
    if (label) target = label;
    return target && target.parentNode ? target : null;
  }

  // Whether the banner is in its place before `target`: anywhere in the target's parent before
  // it, not only right before it. A page that keeps an element of its own right before the
  // form (its MutationObserver puts it back there) would otherwise trade places with the
  // banner forever, each move waking the other's observer: the tab would hang.
  function isBefore(host, target) {
    return host.parentNode === target.parentNode
      && Boolean(host.compareDocumentPosition(target) & Node.DOCUMENT_POSITION_FOLLOWING);
  }

  // At most MOVES_PER_SECOND insertions of the banner in any second: a page that takes the
  // banner out again each time it is put back (or moves what it stands before) is not fought
  // forever. A move refused is tried again once that second is over (through the function
  // given to onRetry, which knows where the banner belongs by then): the limit delays the
  // banner, it never drops it (a page that re-renders its dialog many times as it loads).
  const MOVES_PER_SECOND = 10;
  let movesSince = -Infinity; // when the current second of moves began (performance.now)
  let moves = 0;
  let retry = null; // onRetry's function
  let retryTimer = null;
  function mayMove() {
    const now = performance.now();
    if (now - movesSince >= 1000) {
      movesSince = now;
      moves = 0;
    }
    moves += 1;
    if (moves <= MOVES_PER_SECOND) return true;
    if (retryTimer === null) {
      retryTimer = setTimeout(() => {
        retryTimer = null;
        if (retry) retry();
      }, movesSince + 1000 - now);
    }
    return false;
  }

  /** What to call when a move of the banner refused by the rate limit may be made. */
  function onRetry(fn) {
    retry = fn;
  }

  function place(doc, host, anchor) {
    const target = targetFor(anchor);
    if (target) {
      host.removeAttribute("data-placement");
      if (!isBefore(host, target) && mayMove()) target.before(host);
    } else {
      host.setAttribute("data-placement", "top");
      if (!host.isConnected && mayMove()) (doc.body || doc.documentElement).appendChild(host);
    }
    removeCopies(doc, host);
  }

  // One banner per page: a page that copies the markup around the banner (the dialog's
  // innerHTML read and set back, a cloneNode of it) copies the host too, as an empty role=alert
  // element without its shadow root; whatever carries the banner's mark and is not the banner
  // goes.
  // (in the shadow roots the content script knows too: a row copied into one)
  function removeCopies(doc, host) {
    for (const scope of [doc, ...shadowRoots()]) {
      for (const other of scope.querySelectorAll('[data-pwguard="banner"]')) {
        if (other !== host) other.remove();
      }
    }
  }

  let shadowRoots = () => [];
  /** Where else copies of the banner's host are looked for: `fn` returns shadow roots. */
  function searchShadowRoots(fn) {
    shadowRoots = fn;
  }

  /** Whether the banner is in the page where show() would put it for `anchor`. */
  function isPlaced(anchor) {
    if (!current || !current.isConnected) return false;
    const target = targetFor(anchor);
    return target ? isBefore(current, target) : current.getAttribute("data-placement") === "top";
  }

  // A keyboard user who dismissed the banner goes on from where it was: the focus, which the
  // hidden close button would drop to the body (the page's top), goes to the first element
  // after the banner that takes it (the form the banner stood before, its fields, "Continue").
  const FOCUS_SEARCH_LIMIT = 2000; // elements looked at, at most
  function focusAfter(doc, host) {
    const walker = doc.createTreeWalker(doc.documentElement, 1 /* NodeFilter.SHOW_ELEMENT */);
    walker.currentNode = host;
    for (let n = 0, node = walker.nextNode(); node && n < FOCUS_SEARCH_LIMIT;
      n += 1, node = walker.nextNode()) {
      if (node.tabIndex >= 0 && !node.disabled && node.getClientRects().length > 0) {
        node.focus({ preventScroll: true });
        if (doc.activeElement === node) return;
      }
    }
  }

  /**
   * Show (or update) the page's single banner, before `anchor`'s form when given.
   * entries: [{rule, kind: "blocked" | "warned" | "refused", path?}] in the order to list them.
   * pageHost: the host a rule's help link names ({host}), when it is not this document's
   * (a blank or srcdoc frame, whose own host is "", belongs to its parent's page).
   */
  function show(doc, entries, anchor = null, pageHost = null) {
    let host = current;
    if (!host) {
      host = doc.createElement("div");
      host.setAttribute("data-pwguard", "banner");
      host.setAttribute("role", "alert");
      host.attachShadow({ mode: "open" });
      current = host;
    }
    place(doc, host, anchor);
    host.hidden = false;
    host.style.removeProperty("display");
    const root = host.shadowRoot;
    const messages = Object.assign({}, ...entries.map((e) => e.rule.message || {}));
    const lang = pickLang(doc, messages);
    const words = WORDS[canonicalTag(lang)] || WORDS[normalizeLang(lang)] || WORDS.en;
    host.setAttribute("lang", lang);
    host.setAttribute("dir", RTL.has(normalizeLang(lang)) ? "rtl" : "ltr");

    const box = el(doc, "div", "box");
    const seen = new Set();
    const helps = [];
    for (const { rule, kind, path } of entries) {
      const key = `${kind}|${rule.id}|${path || ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const head = kind === "refused" ? `${words.refused} ${path}` : words[kind];
      box.append(el(doc, "span", "line head", head), " ");
      box.append(el(doc, "span", "line", messageOf(rule, lang)), " ");
      const href = helpUrl(rule, pageHost ?? (globalThis.location ? location.host : ""));
      if (href && !helps.includes(href)) helps.push(href);
    }
    for (const href of helps) {
      const a = el(doc, "a", null, words.help);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      const line = el(doc, "span", "line");
      line.appendChild(a);
      box.appendChild(line);
    }
    const close = el(doc, "button", null, "\u00D7");
    close.type = "button";
    close.setAttribute("aria-label", words.dismiss);
    close.addEventListener("click", (ev) => {
      // only for the keyboard (Enter or Space: a click of `detail` 0): a mouse click or a tap
      // focuses the button too, and moving that focus into the form would put a caret in its
      // first field (on a phone, open the on-screen keyboard) that the person never asked for
      const focused = root.activeElement === close && ev.detail === 0;
      host.hidden = true;
      host.style.setProperty("display", "none", "important");
      if (focused) focusAfter(doc, host);
    });
    box.appendChild(close);
    root.replaceChildren(box);
    adoptStyle(doc, root);
    return host;
  }

  /** Take the banner out of `doc`, with any copy the page made of its host (see removeCopies). */
  function remove(doc) {
    if (current) current.remove();
    current = null;
    if (doc) removeCopies(doc, null);
  }

  /** Put the banner back where show() would put it for `anchor`, its content unchanged. */
  function replace(doc, anchor) {
    if (current) place(doc, current, anchor);
  }

  /** The banner host if it is in the page. */
  function shown() {
    return current && current.isConnected ? current : null;
  }

  /** Whether `node` is the banner host, in the page or taken out of it. */
  function isBanner(node) {
    return node === current && node !== null;
  }

  globalThis.pwguardBanner = Object.freeze({
    show, replace, remove, shown, isBanner, isPlaced, onRetry, searchShadowRoots, normalizeLang,
    messageKey, pickLang, helpUrl,
  });
})();
