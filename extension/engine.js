// The matching engine: the JavaScript twin of server/pwguard/rules/engine.py (same names,
// same algorithm, same verdict shape). tests/test_conformance.py holds the two to the same
// verdict on every fixture page. Classic script (no modules): it runs as a content script, in
// the background and in a plain test page, and attaches itself to globalThis.pwguardEngine.
(() => {
  "use strict";

  // checkbox-like controls, in document order
  const CHECKBOX_SELECTOR = 'input[type="checkbox" i], [role="checkbox"], [role="switch"]';
  // how far up we look for text when a control has no label of any kind
  const ANCESTOR_TEXT_LEVELS = 3;

  // U+2018 U+2019 U+201A U+201B U+2032 -> ', U+201C U+201D U+201E U+201F U+2033 -> "
  const QUOTES = [
    [/[\u2018\u2019\u201A\u201B\u2032]/g, "'"],
    [/[\u201C\u201D\u201E\u201F\u2033]/g, '"'],
  ];

  // JavaScript's \s is exactly engine.py's WHITESPACE set.
  function collapse(text) {
    return String(text).replace(/\s+/gu, " ").trim();
  }

  /** Fold case, accents (NFKD, nonspacing marks removed), curly quotes and white space
   * (engine.py, step 5: casefold is toLowerCase() then ß->ss and ς->σ on NFKD text). */
  function fold(text) {
    let out = String(text ?? "").normalize("NFKD").replace(/\p{Mn}/gu, "");
    out = out.toLowerCase().replace(/\u00DF/g, "ss").replace(/\u03C2/g, "\u03C3");
    for (const [re, repl] of QUOTES) out = out.replace(re, repl);
    return collapse(out);
  }

  function rootOf(el) {
    const root = el.getRootNode ? el.getRootNode() : el.ownerDocument;
    return root && root.querySelectorAll ? root : el.ownerDocument;
  }

  function byId(root, id) {
    if (!id) return null;
    if (root.getElementById) return root.getElementById(id);
    try {
      return root.querySelector(`#${CSS.escape(id)}`);
    } catch {
      return null;
    }
  }

  const ASCII_WHITESPACE = /[ \t\n\f\r]+/;
  const NOT_BLANK = /\S/; // collapse(text) !== "" exactly when this matches

  /** The label text of a control before white space is collapsed (engine.py, step 4: the
   * aria-labelledby targets, aria-label, every label[for=id], the nearest ancestor label
   * unless already used, joined with one space; if that is blank, the text of the nearest of
   * parent, grandparent, great-grandparent that has text). With an array `nodes`, the
   * elements whose text can change it are appended to it (those labels, even empty, and the
   * ancestor the text came from, or the farthest one looked at). Without `nodes` it builds
   * no array for a control without aria-labelledby and id (it runs for every checkbox a
   * page inserts). */
  function label_source_text(el, nodes = null) {
    let text = null; // the parts joined so far (null: none yet)
    const labelledby = el.getAttribute("aria-labelledby");
    const id = el.getAttribute("id");
    const root = labelledby || id ? rootOf(el) : null; // (only these two look elsewhere)
    if (labelledby) {
      for (const ref of labelledby.split(ASCII_WHITESPACE)) {
        const target = byId(root, ref);
        if (target) {
          if (nodes) nodes.push(target);
          text = joined(text, target.textContent);
        }
      }
    }
    const aria = el.getAttribute("aria-label");
    if (aria) text = joined(text, aria);
    let used = null;
    if (id) {
      for (const lab of root.querySelectorAll("label[for]")) {
        if (lab.getAttribute("for") === id) (used ??= []).push(lab);
      }
      if (used) {
        for (const lab of used) {
          if (nodes) nodes.push(lab);
          text = joined(text, lab.textContent);
        }
      }
    }
    // (el.closest would be el itself only for a label that is the control)
    const ancestor = el.localName === "label"
      ? el.parentElement && el.parentElement.closest("label") : el.closest("label");
    if (ancestor && !(used && used.includes(ancestor))) {
      if (nodes) nodes.push(ancestor);
      text = joined(text, ancestor.textContent);
    }
    if (text !== null && NOT_BLANK.test(text)) return text;
    let node = el.parentElement;
    let farthest = null;
    for (let level = 0; node && level < ANCESTOR_TEXT_LEVELS; level += 1) {
      const t = node.textContent;
      farthest = node;
      if (NOT_BLANK.test(t)) {
        if (nodes) nodes.push(node);
        return t;
      }
      node = node.parentElement;
    }
    if (farthest && nodes) nodes.push(farthest);
    return "";
  }

  // parts joined with one space, as [...parts].join(" ") (`text` null: no part yet)
  function joined(text, part) {
    return text === null ? part : `${text} ${part}`;
  }

  /** label_source_text's text and the elements it is read from: {text, nodes}. */
  function label_source(el) {
    const nodes = [];
    const text = label_source_text(el, nodes);
    return { text, nodes };
  }

  /** The label text of a control (engine.py, step 4): label_source's text, collapsed. */
  function label_text(el) {
    return collapse(label_source(el).text);
  }

  // ---- the portable selector subset (server/pwguard/rules/selectors.py, its grammar) ----
  // A selector outside it never matches (engine.py, step 7), even when this browser parses
  // it (:checked, :nth-child(), :is(), escapes, a newline inside brackets...): the checker
  // below accepts exactly what selectors.py's parser accepts. The browser then matches it.

  const IDENT = "-?[A-Za-z_][A-Za-z0-9_-]*";
  // one token at a position, as selectors.py's _TOKEN: [kind, text] (null: no token)
  const TOKEN_KINDS = ["ws", "comb", "comma", "type", "id", "cls", "attr", "not", "close"];
  const TOKEN = new RegExp([
    "([ \\t\\n\\r\\f]+)", "([>+~])", "(,)", `(${IDENT}|\\*)`, `(#${IDENT})`, `(\\.${IDENT})`,
    `(\\[[ \\t]*${IDENT}[ \\t]*(?:[~|^$*]?=[ \\t]*(?:${IDENT}|"[^"\\\\\\n]*"|'[^'\\\\\\n]*')` +
      "[ \\t]*[iI]?[ \\t]*)?\\])",
    "(:not\\()", "(\\))",
  ].join("|"), "y");
  const CSS_WS = " \t\n\r\f";

  // the token of `text` at `pos`: [kind, text], or null when none starts there
  function tokenAt(text, pos) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    return m ? [TOKEN_KINDS[m.slice(1).findIndex((g) => g !== undefined)], m[0]] : null;
  }

  /** Whether a selector is in the portable subset (selectors.py's compile_alternatives
   * accepts it). */
  function portable(selector) {
    const text = String(selector).replace(/^[ \t\n\r\f]+|[ \t\n\r\f]+$/g, "");
    let pos = 0;
    const next = () => {
      if (pos >= text.length) return null;
      const tok = tokenAt(text, pos);
      if (!tok) throw new Error("not portable");
      return tok;
    };
    const skipWs = () => {
      while (pos < text.length && CSS_WS.includes(text[pos])) pos += 1;
    };
    // a compound: false if it is empty (the parser's None)
    const compound = (insideNot) => {
      let parts = 0;
      let tok;
      while ((tok = next()) !== null) {
        const [kind, t] = tok;
        if (kind === "type") {
          if (parts) throw new Error("type must come first");
        } else if (kind === "not") {
          if (insideNot) throw new Error("nested :not()");
          pos += t.length;
          skipWs();
          const inner = compound(true);
          skipWs();
          const close = next();
          if (!inner || close === null || close[0] !== "close") throw new Error(":not()");
          pos += close[1].length;
          parts += 1;
          continue;
        } else if (!["id", "cls", "attr"].includes(kind)) {
          break;
        }
        parts += 1;
        pos += t.length;
      }
      return parts > 0;
    };
    const complex = () => {
      skipWs();
      if (!compound(false)) throw new Error("empty compound");
      for (;;) {
        const start = pos;
        skipWs();
        let comb = pos > start;
        const tok = next();
        if (tok === null || tok[0] === "comma" || tok[0] === "close") break;
        if (tok[0] === "comb") {
          pos += tok[1].length;
          skipWs();
          comb = true;
        }
        if (!comb) throw new Error("unexpected token");
        if (!compound(false)) throw new Error("a combinator needs a selector after it");
      }
    };
    try {
      if (!text) return false;
      complex();
      let tok;
      while ((tok = next()) !== null) {
        if (tok[0] !== "comma") return false;
        pos += tok[1].length;
        complex();
      }
      return true;
    } catch {
      return false;
    }
  }

  // Names in the mixed case HTML's parser gives SVG elements and attributes (and MathML's
  // definitionURL), by their ASCII lowercase (HTML, "adjust SVG tag names" and "adjust SVG
  // attributes").
  const MIXED_CASE_TAGS = new Map([
    "altGlyph", "altGlyphDef", "altGlyphItem", "animateColor", "animateMotion",
    "animateTransform", "clipPath", "feBlend", "feColorMatrix", "feComponentTransfer",
    "feComposite", "feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap",
    "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
    "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset",
    "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
    "foreignObject", "glyphRef", "linearGradient", "radialGradient", "textPath",
  ].map((n) => [n.toLowerCase(), n]));
  const MIXED_CASE_ATTRIBUTES = new Map([
    "attributeName", "attributeType", "baseFrequency", "baseProfile", "calcMode",
    "clipPathUnits", "diffuseConstant", "edgeMode", "filterUnits", "glyphRef",
    "gradientTransform", "gradientUnits", "kernelMatrix", "kernelUnitLength", "keyPoints",
    "keySplines", "keyTimes", "lengthAdjust", "limitingConeAngle", "markerHeight",
    "markerUnits", "markerWidth", "maskContentUnits", "maskUnits", "numOctaves", "pathLength",
    "patternContentUnits", "patternTransform", "patternUnits", "pointsAtX", "pointsAtY",
    "pointsAtZ", "preserveAlpha", "preserveAspectRatio", "primitiveUnits", "refX", "refY",
    "repeatCount", "repeatDur", "requiredExtensions", "requiredFeatures", "specularConstant",
    "specularExponent", "spreadMethod", "startOffset", "stdDeviation", "stitchTiles",
    "surfaceScale", "systemLanguage", "tableValues", "targetX", "targetY", "textLength",
    "viewBox", "viewTarget", "xChannelSelector", "yChannelSelector", "zoomAndPan",
    "definitionURL",
  ].map((n) => [n.toLowerCase(), n]));
  const asciiLower = (text) => text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  const ATTR_NAME = new RegExp(`^(\\[[ \\t]*)(${IDENT})`);

  /** A portable selector as this browser must be handed it so that type and attribute names
   * match ASCII case-insensitively on every element, as selectors.py says (and lxml, which
   * lowercases every name, does): Firefox compares them exactly on SVG and MathML elements,
   * so that `G` or `[ROLE=checkbox]` missed <g role="checkbox">, and `clippath` missed
   * <clipPath>. Names are lowercased, and a name HTML's parser may give in mixed case becomes
   * `:is(lowercase, mixedCase)`. (Chromium matched all of these already.) */
  function canonical(selector) {
    const text = String(selector);
    let out = "";
    let pos = 0;
    while (pos < text.length) {
      const [kind, token] = tokenAt(text, pos); // (a portable selector is all tokens)
      let t = token;
      if (kind === "type" && t !== "*") {
        const lower = asciiLower(t);
        const mixed = MIXED_CASE_TAGS.get(lower);
        t = mixed ? `:is(${lower}, ${mixed})` : lower;
      } else if (kind === "attr") {
        const [, open, name] = ATTR_NAME.exec(t);
        const lower = asciiLower(name);
        const rest = t.slice(open.length + name.length);
        const mixed = MIXED_CASE_ATTRIBUTES.get(lower);
        t = mixed ? `:is([${lower}${rest}, [${mixed}${rest})` : `[${lower}${rest}`;
      }
      out += t;
      pos += token.length;
    }
    return out;
  }

  // canonical() of portable selectors (null for the others), computed once
  const canonicalOf = new Map();
  function browserSelector(selector) {
    return remember(canonicalOf, selector, (s) => (portable(s) ? canonical(s) : null));
  }

  function safeMatches(el, selector) {
    try {
      return el.matches(selector);
    } catch {
      return false; // a selector this browser cannot parse matches nothing (the linter reports it)
    }
  }

  // folded phrases of each `controls` entry, computed once per entry object
  const foldedPhrases = new WeakMap();
  function phrasesOf(control) {
    let folded = foldedPhrases.get(control);
    if (!folded) {
      folded = (control.label || []).map(fold).filter((p) => p.length > 0);
      foldedPhrases.set(control, folded);
    }
    return folded;
  }

  /** Whether one `controls` entry matches the control `el` (label text folded if given);
   * phrases that fold to "" never match. */
  function control_matches(el, control, folded_label = null) {
    if (control.selector != null) {
      const sel = browserSelector(control.selector);
      return sel !== null && safeMatches(el, sel);
    }
    const label = folded_label ?? fold(label_text(el));
    return phrasesOf(control).some((p) => label.includes(p));
  }

  // ---- WebExtension match patterns (mirror of server/pwguard/rules/sites.py) ----

  const SCHEMES = ["*", "http", "https", "ws", "wss", "ftp", "file"];
  const HOST_RE = /^(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/;

  /** Parse a match pattern into {scheme, host, path}; throws an Error naming the problem. */
  function parse_pattern(pattern) {
    if (typeof pattern !== "string") throw new Error("a match pattern must be a string like https://accounts.zoho.com/*");
    if (pattern === "<all_urls>") return { scheme: "<all_urls>", host: "*", path: "*" };
    const sep = pattern.indexOf("://");
    if (sep < 0) throw new Error(`${JSON.stringify(pattern)} has no "://"; write it like https://accounts.zoho.com/*`);
    const scheme = pattern.slice(0, sep);
    const rest = pattern.slice(sep + 3);
    if (!SCHEMES.includes(scheme)) throw new Error(`${JSON.stringify(pattern)}: scheme ${JSON.stringify(scheme)} is not allowed`);
    const slash = rest.indexOf("/");
    if (slash < 0) throw new Error(`${JSON.stringify(pattern)} has no path; add /*`);
    let host = rest.slice(0, slash);
    const path = rest.slice(slash);
    if (scheme === "file") return { scheme, host: "", path };
    if (host.includes(":")) {
      const port = host.slice(host.indexOf(":") + 1);
      host = host.slice(0, host.indexOf(":"));
      if (port !== "*" && !/^[0-9]+$/.test(port)) throw new Error(`${JSON.stringify(pattern)}: invalid port`);
    }
    if (host.includes("@")) throw new Error(`${JSON.stringify(pattern)}: a match pattern cannot contain a user name`);
    if (host !== host.toLowerCase()) throw new Error(`${JSON.stringify(pattern)}: write the host in lowercase`);
    if (!host || !HOST_RE.test(host)) throw new Error(`${JSON.stringify(pattern)}: invalid host ${JSON.stringify(host)}`);
    return { scheme, host, path };
  }

  /** `*` matches any run of characters (including `/`); everything else is literal. */
  function glob_match(glob, text) {
    return new RegExp(glob_source(glob), "s").test(text);
  }

  /** The regular expression of a glob, in time linear in the text (sites.py glob_regex):
   * each literal between two `*` is taken at its first place after the previous one and kept
   * there (a lookahead, which never backtracks, captures it; a backreference consumes it),
   * where `.*a.*a.*b` would try every placement of the `a`s. guard-main.js builds the same. */
  function glob_source(glob) {
    const parts = glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"));
    let body = parts[0];
    if (parts.length > 1) {
      let group = 0;
      for (let i = 1; i < parts.length - 1; i++) {
        if (parts[i]) body += `(?=(.*?${parts[i]}))(?:\\${++group})`;
      }
      body += `.*${parts[parts.length - 1]}`;
    }
    return `^${body}$`;
  }

  /** Whether `url` is matched by the pattern (false for an invalid pattern or URL). */
  function url_matches(pattern, url) {
    let p;
    let u;
    try {
      p = parse_pattern(pattern);
      u = new URL(url);
    } catch {
      return false;
    }
    const scheme = u.protocol.replace(/:$/, "").toLowerCase();
    if (p.scheme === "<all_urls>") return SCHEMES.includes(scheme) && scheme !== "*";
    if (p.scheme === "*" ? !["http", "https"].includes(scheme) : p.scheme !== scheme) return false;
    if (scheme !== "file") {
      const host = u.hostname.toLowerCase().replace(/\.+$/, "");
      if (p.host !== "*") {
        if (p.host.startsWith("*.")) {
          const base = p.host.slice(2);
          if (host !== base && !host.endsWith(`.${base}`)) return false;
        } else if (p.host !== host) {
          return false;
        }
      }
    }
    return glob_match(p.path, (u.pathname || "/") + u.search);
  }

  /** The rules whose `sites` name this URL. */
  function rules_for_url(ruleset, url) {
    const rules = (ruleset && ruleset.rules) || [];
    return rules.filter((r) => (r.sites || []).some((s) => url_matches(s, url)));
  }

  // Per rule, computed once: its selector entries as one selector list (a control matches a
  // list when it matches any entry: one native call instead of one per entry, falling back
  // to entry by entry when one of them does not parse) and its folded phrases.
  const compiled = new WeakMap();
  function compile(rule) {
    let c = compiled.get(rule);
    if (!c) {
      // (a selector outside the portable subset never matches: left out)
      const selectors = (rule.controls || []).filter((x) => x.selector != null)
        .map((x) => browserSelector(x.selector)).filter((x) => x !== null);
      let list = selectors.join(", ");
      try {
        if (!globalThis.document) throw new Error("no DOM here"); // the service worker
        globalThis.document.createDocumentFragment().querySelector(list || "*");
      } catch {
        list = null; // one entry is invalid: match entry by entry (safeMatches skips it)
      }
      const phrases = (rule.controls || []).filter((x) => x.label != null).flatMap(phrasesOf);
      // (made once: a closure made per call would be garbage for every control judged)
      const hit = (folded) => phrases.some((p) => folded.includes(p));
      c = { selectors, list, phrases, hits: new Map(), hit };
      compiled.set(rule, c);
    }
    return c;
  }

  function covers(el, rule, folded) {
    const c = compile(rule);
    if (c.selectors.length > 0) {
      if (c.list !== null ? safeMatches(el, c.list) : c.selectors.some((s) => safeMatches(el, s))) {
        return true;
      }
    }
    return phraseHit(c, folded);
  }

  /** map.get(key), computed as fn(key) and kept the first time; a map that reaches `limit`
   * entries is emptied first (a page re-renders the same few labels over and over). */
  function remember(map, key, fn, limit = 1000) {
    let value = map.get(key);
    if (value === undefined) {
      if (map.size >= limit) map.clear();
      value = fn(key);
      map.set(key, value);
    }
    return value;
  }

  // whether one of the rule's phrases is in `folded`, remembered per folded label
  function phraseHit(c, folded) {
    return remember(c.hits, folded, c.hit);
  }

  // whether a phrase of one of these compiled rules is in `folded` (a loop: no closure made
  // per control judged)
  function anyPhraseHit(all, folded) {
    for (const c of all) if (phraseHit(c, folded)) return true;
    return false;
  }

  // Per array of rules, computed once: all their selectors as one selector list (`any`: ""
  // when they have none, null when one does not parse). A control that matches no selector
  // and none of whose rules has a phrase in its label (phraseHit, remembered per rule) is
  // covered by no rule: one native call and a few lookups decide most controls of a page.
  const unions = new WeakMap();
  function unionOf(rules) {
    let u = unions.get(rules);
    if (!u) {
      const all = rules.map(compile);
      const lists = all.filter((c) => c.selectors.length > 0).map((c) => c.list);
      let any = lists.includes(null) ? null : lists.join(", ");
      try {
        // (each list parses alone; make sure the joined one does too, or do without it)
        if (any) globalThis.document.createDocumentFragment().querySelector(any);
      } catch {
        any = null;
      }
      u = { any, all };
      unions.set(rules, u);
    }
    return u;
  }

  /** The first covering `block` rule in ruleset order, else the first covering `warn` rule,
   * else null (engine.py, step 9), given the control's folded label text. */
  function rule_for_folded(el, rules, folded) {
    const u = unionOf(rules);
    if (u.any !== null && !(u.any !== "" && safeMatches(el, u.any))
        && !anyPhraseHit(u.all, folded)) {
      return null;
    }
    let warned = null;
    for (const rule of rules) {
      const action = rule.action || "block";
      if (warned && action !== "block") continue;
      if (covers(el, rule, folded)) {
        if (action === "block") return rule;
        warned = rule;
      }
    }
    return warned;
  }

  /** rule_for_folded with the label text computed (or given) and folded here. */
  function rule_for(el, rules, label = null) {
    return rule_for_folded(el, rules, fold(label ?? label_text(el)));
  }

  /** One verdict per checkbox-like control under `root` (a Document, an Element or a
   * ShadowRoot), in document order: {index, tag, id, name, label, rule_id, action}.
   * With `url`, only the rules whose sites name it count. */
  function verdicts(root, ruleset, url = null) {
    const rules = url == null ? (ruleset && ruleset.rules) || [] : rules_for_url(ruleset, url);
    const out = [];
    let index = 0;
    for (const el of root.querySelectorAll(CHECKBOX_SELECTOR)) {
      const label = label_text(el);
      const rule = rule_for(el, rules, label);
      out.push({
        index,
        tag: asciiLower(el.localName), // (as lxml: <clipPath> is "clippath")
        id: el.getAttribute("id") || "",
        name: el.getAttribute("name") || "",
        label,
        rule_id: rule ? rule.id : null,
        action: rule ? rule.action || "block" : null,
      });
      index += 1;
    }
    return out;
  }

  globalThis.pwguardEngine = Object.freeze({
    CHECKBOX_SELECTOR,
    fold,
    portable,
    label_source,
    label_source_text,
    label_text,
    remember,
    control_matches,
    collapse,
    parse_pattern,
    glob_match,
    url_matches,
    rules_for_url,
    rule_for,
    rule_for_folded,
    verdicts,
  });
})();
