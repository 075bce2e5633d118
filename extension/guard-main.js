// MAIN-world guard: runs in the page's own JavaScript world at document_start, before any page
// script, on the same hosts as content.js. It
//   1. wraps fetch and XMLHttpRequest and refuses a request that matches a block rule's
//      `request` (method, path glob, a `json_true` field set to true at any depth of the body:
//      JSON, a form, or JSON inside a field); only such a method and path has its body read;
//   2. keeps page scripts from ticking or re-enabling a control content.js has blocked
//      (`el.checked = true`, `el.disabled = false`, jQuery's .prop()), which the isolated world
//      cannot see: property sets leave no trace in the DOM;
//   3. tells content.js when an already connected element gets a shadow root (open or
//      closed: content.js reaches both).
// The MAIN world cannot read extension storage, so the guard rules come from content.js over a
// MessagePort handed over at document_start, before the page can listen (content.js stops the
// handshake message from propagating; later copies are ignored), so the page can neither read,
// forge nor switch off the rules. Until the rules arrive, a request that could be guarded is
// held (at most HOLD_MS); if they never come, a write request whose body has any `true` (in
// JSON, or "true" in a form) is refused (fail closed). On a site that no rule names,
// content.js answers {active: false} and every wrapper below passes straight through.
(() => {
  "use strict";
  if (window.__pwguardMainInstalled) return; // never wrap twice (e.g. re-injection)
  Object.defineProperty(window, "__pwguardMainInstalled", { value: true });

  const HOLD_MS = 3000;
  const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

  // originals, captured before any page script can replace them
  const origFetch = window.fetch;
  const XHR = window.XMLHttpRequest;
  const xhrOpen = XHR.prototype.open;
  const xhrSend = XHR.prototype.send;
  const origSetTimeout = window.setTimeout.bind(window);
  const jsonParse = JSON.parse;
  const getAttribute = Element.prototype.getAttribute;
  const dispatch = EventTarget.prototype.dispatchEvent;
  const attachShadow = Element.prototype.attachShadow;
  const checkedDesc = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "checked");
  const disabledDesc = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "disabled");
  const URL_ = URL;
  const TypeError_ = TypeError;
  const DOMException_ = DOMException;
  const String_ = String;
  const Promise_ = Promise;
  const promiseAll = Promise.all; // (called on Promise_: a page may replace Promise.all)
  const reflectApply = Reflect.apply;
  const regexpTest = RegExp.prototype.test;
  const xhrAbort = XHR.prototype.abort;
  const Request_ = Request;
  const requestClone = Request.prototype.clone;
  const requestText = Request.prototype.text;
  const requestFormData = Request.prototype.formData;
  const headersGet = Headers.prototype.get;
  // brand checks and readers of the body kinds XMLHttpRequest takes (see readBody)
  const getter = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
  const blobSize = getter(Blob.prototype, "size");
  const blobText = Blob.prototype.text;
  const bufferLength = getter(ArrayBuffer.prototype, "byteLength");
  const isView = ArrayBuffer.isView;
  const nodeType = getter(Node.prototype, "nodeType");
  const paramEntries = URLSearchParams.prototype.entries;
  const paramHas = URLSearchParams.prototype.has;
  const formEntries = FormData.prototype.entries;
  const formHas = FormData.prototype.has;
  const FormData_ = FormData;
  const formAppend = FormData.prototype.append;
  const stringReplace = String.prototype.replace;
  const decodeURIComponent_ = decodeURIComponent;
  const fromCharCode = String.fromCharCode;
  const parseInt_ = parseInt;
  const createObjectURL = URL.createObjectURL;
  const revokeObjectURL = URL.revokeObjectURL;
  const xhrOverrideMimeType = XHR.prototype.overrideMimeType;
  const xhrResponseText = getter(XHR.prototype, "responseText");

  // "pending" until content.js answers, then "active" or "inactive"
  let state = "pending";
  let guards = [];
  let port = null; // the owner port, once content.js has acknowledged
  let readyResolve;
  const ready = new Promise((resolve) => {
    readyResolve = resolve;
  });
  origSetTimeout(() => {
    if (state === "pending") {
      console.warn("pwguard: no rules from the extension yet; refusing write requests with a true field");
      state = "failclosed";
      readyResolve();
    }
  }, HOLD_MS);

  // ---- handshake with content.js ----
  // Each hello carries a fresh MessagePort; the first port to acknowledge becomes the owner
  // and the only one whose config counts. content.js swallows every hello (stopImmediate-
  // Propagation in a capture listener registered before any page script), and asks for
  // another one ("pwguard-content-ready") in case it started after the first was delivered
  // (Firefox may run the isolated script after the MAIN one's first task).
  let owner = null;
  const spare = [];
  function hello() {
    const channel = new MessageChannel();
    const mine = channel.port1;
    spare.push(mine);
    mine.onmessage = (ev) => {
      const msg = ev.data || {};
      if (!owner && msg.type === "ack") {
        owner = mine;
        port = mine;
        for (const p of spare) if (p !== mine) p.close();
        spare.length = 0;
        if (shadowUsed) port.postMessage({ type: "shadow" });
        for (const msg of unreported.splice(0)) port.postMessage(msg);
        return;
      }
      if (mine !== owner || msg.type !== "config") return;
      guards = Array.isArray(msg.guards)
        ? msg.guards.map((g) => ({ ...g, fields: g.json_true || [], pathRe: globRegExp(g.path) }))
        : [];
      state = msg.active ? "active" : "inactive";
      readyResolve();
    };
    window.postMessage({ __pwguard: "main-hello" }, "*", [channel.port2]);
  }
  hello();
  document.addEventListener("pwguard-content-ready", () => {
    if (!owner) hello();
  }, true);

  // refusals before content.js has answered (fail-closed mode) are told once it does
  const unreported = [];
  function report(rule, method, url) {
    const msg = { type: "refused", ruleId: rule ? rule.ruleId : null, method, url };
    if (!port) {
      if (unreported.length < 16) unreported.push(msg);
      return;
    }
    try {
      port.postMessage(msg);
    } catch {
      /* content script gone: the request is still refused */
    }
  }

  // ---- request matching ----
  // a guard's path glob, compiled once when the config arrives: `*` matches any run of
  // characters (including `/`), everything else is literal (engine.js glob_match). Each
  // literal between two `*` is taken at its first place after the previous one and kept
  // there (a lookahead never backtracks; the backreference consumes what it captured), in
  // time linear in the path: `.*a.*a.*b` would try every placement of the `a`s, and
  // `*/*/*/*/*/closesession` froze the page for minutes on a guarded request with a long
  // path (engine.js glob_source)
  function globRegExp(glob) {
    const parts = String_(glob)
      .split("*")
      .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"));
    let body = parts[0];
    if (parts.length > 1) {
      let group = 0;
      for (let i = 1; i < parts.length - 1; i++) {
        if (parts[i]) body += `(?=(.*?${parts[i]}))(?:\\${++group})`;
      }
      body += `.*${parts[parts.length - 1]}`;
    }
    return new RegExp(`^${body}$`, "s");
  }

  // Whether a string given as the value of `key` (null: an item of a JSON array) sets a
  // guarded field: it reads as true under a named key (form-style booleans, "rmapitok=true",
  // mean the same to the server, in any case: Java's Boolean.parseBoolean, org.json's
  // getBoolean), or it holds JSON that sets one (JSON inside a field).
  const TRUE_TEXT = /^true$/i;
  function stringTrue(key, value, fields) {
    return (named(key, fields) && regexpTest.call(TRUE_TEXT, value)) || jsonTrue(value, fields);
  }

  // whether a value given as `key`'s (null: an array item) is one `fields` (null: any) names
  function named(key, fields) {
    return key !== null && (fields === null || fields.includes(key));
  }

  // Whether `text`, if it is JSON, has one of `fields` (null: any) set to true, or to a
  // string that reads as true, at any depth, or in JSON inside one of its strings. Read from
  // the text, token by token, not from JSON.parse's objects: a key given twice counts by each
  // of its values (JSON.parse keeps the last, a server's parser may keep the first), and no
  // depth is too deep.
  const JSON_START = /^\s*[[{]/;
  // JSON's white space between tokens (index reads and comparisons: nothing a page replaces)
  function jsonSpace(ch) {
    return ch === " " || ch === "\t" || ch === "\n" || ch === "\r";
  }
  function jsonTrue(text, fields) {
    if (!regexpTest.call(JSON_START, text) || tryJson(text) === undefined) return false;
    const n = text.length;
    let key = null; // the key whose value comes next, else null
    for (let i = 0; i < n; ) {
      const ch = text[i];
      if (ch === '"') {
        let j = i + 1;
        while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
        const str = jsonParse(text.slice(i, j + 1));
        i = j + 1;
        while (i < n && jsonSpace(text[i])) i++;
        if (text[i] === ":") {
          key = str;
          i++;
          continue;
        }
        if (stringTrue(key, str, fields)) return true;
        key = null;
      } else if (ch === "t" && text[i + 1] === "r" && text[i + 2] === "u" && text[i + 3] === "e") {
        // (index reads: a page may replace String.prototype.startsWith)
        if (named(key, fields)) return true;
        key = null;
        i += 4;
      } else {
        if (!jsonSpace(ch)) key = null;
        i++;
      }
    }
    return false;
  }

  function tryJson(text) {
    try {
      return jsonParse(text);
    } catch {
      return undefined;
    }
  }

  // The body to search: {json} its JSON text (a leading byte order mark dropped), else
  // {entries} every string field of a form as [name, value], each on its own (a field given
  // twice is judged by each value: a server may read either).
  function bodyValues(text, entries) {
    if (typeof text === "string") {
      const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
      if (tryJson(json) !== undefined) return { json };
      entries = new URLSearchParams(text);
    }
    const out = [];
    if (entries) for (const [k, v] of entries) if (typeof v === "string") out.push([k, v]);
    return { entries: out };
  }

  // An XMLHttpRequest body as send() is to send it, {payload, kind}: the kinds the browser
  // reads itself kept as they are (told apart by brand checks, which hold for objects from
  // other frames too and cannot be faked by a page's object); any other value converted to
  // the text the browser would send, now and once (a Symbol throws, as natively), so that an
  // object cannot show the guard one text and the browser another (kind null).
  function sendable(body) {
    if (body == null || typeof body === "string") return { payload: body, kind: null };
    const kind = typeof body === "object" || typeof body === "function" ? kindOf(body) : null;
    return { payload: kind === null ? `${body}` : body, kind };
  }

  function kindOf(body) {
    if (branded(paramHas, body)) return "params";
    if (branded(formHas, body)) return "form";
    if (branded(blobSize, body)) return "blob";
    if (isView(body) || branded(bufferLength, body)) return "buffer";
    if (branded(nodeType, body) && nodeType.call(body) === 9) return "document";
    return null;
  }

  // What the guard reads of a body sendable() gave: {text} / {entries}; {pending: Promise}
  // for a Blob, or a form with file parts; {unreadable: true} for a document (the browser
  // serializes it). `now`: a synchronous send, whose Blobs are read at once (readBlobNow).
  // Read only for a request with a guarded method and path.
  function readBody(body, kind, now) {
    switch (kind) {
      case null:
        return { text: body ?? null };
      case "params":
        return { entries: entriesOf(paramEntries, body) };
      case "form":
        return formParts(entriesOf(formEntries, body), now);
      case "blob":
        if (now) return readBlobNow(body);
        return { pending: blobText.call(body).then((text) => ({ text }), () => ({ unreadable: true })) };
      case "buffer":
        return { text: new TextDecoder().decode(body) };
      default:
        return { unreadable: true }; // a document
    }
  }

  // A form's fields, its file parts (Blobs) read as text: a server may read a part as a field,
  // and a part of JSON (a Blob of type application/json, how a page sends JSON beside a file)
  // as JSON; a part that cannot be read makes the body unreadable. {entries}, or {pending}
  // while parts are read (at once when `now`).
  function formParts(entries, now) {
    const parts = [];
    for (let i = 0; i < entries.length; i++) if (typeof entries[i][1] !== "string") parts[parts.length] = i;
    if (parts.length === 0) return { entries };
    const out = [];
    for (let i = 0; i < entries.length; i++) out[i] = [entries[i][0], entries[i][1]];
    if (now) {
      for (const i of parts) {
        const read = readBlobNow(out[i][1]);
        if (read.unreadable) return read;
        out[i][1] = read.text;
      }
      return { entries: out };
    }
    // what is sent once the parts are read is this copy, made now: the page may change its
    // form meanwhile, and what is judged must be what is sent
    const copy = new FormData_();
    for (let i = 0; i < entries.length; i++) formAppend.call(copy, entries[i][0], entries[i][1]);
    const texts = [];
    for (const i of parts) texts[texts.length] = blobText.call(out[i][1]);
    return {
      pending: reflectApply(promiseAll, Promise_, [texts]).then((read) => {
        for (let k = 0; k < parts.length; k++) out[parts[k]][1] = read[k];
        return { entries: out, payload: copy };
      }, () => ({ unreadable: true })),
    };
  }

  // a Blob's text, read at once (for a synchronous send): a synchronous request of a blob: URL
  // of it, decoded as UTF-8 whatever its type says
  function readBlobNow(blob) {
    let url = null;
    try {
      url = createObjectURL(blob);
      const x = new XHR();
      xhrOpen.call(x, "GET", url, false);
      xhrOverrideMimeType.call(x, "text/plain; charset=utf-8");
      xhrSend.call(x);
      return { text: xhrResponseText.call(x) };
    } catch {
      return { unreadable: true };
    } finally {
      if (url !== null) revokeObjectURL(url);
    }
  }

  function branded(method, value) {
    try {
      method.call(value, ""); // (a getter ignores the argument)
      return true;
    } catch {
      return false;
    }
  }

  // [[name, value], ...] of a URLSearchParams or FormData (its own `entries`)
  function entriesOf(entries, value) {
    const it = entries.call(value);
    const out = [];
    for (let step = it.next(); !step.done; step = it.next()) out.push(step.value);
    return out;
  }

  // The paths a server may route a request with this path to: as sent, and as read by a
  // server that decodes percent-escapes (%73 is s), takes runs of / as one, drops a
  // segment's ;parameters (;jsessionid=...) and a trailing /.
  function routedPaths(path) {
    const replace = (s, re, by) => reflectApply(stringReplace, s, [re, by]);
    const decoded = replace(path, /(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent_(run);
      } catch { // not UTF-8: the ASCII escapes alone
        return replace(run, /%([0-7][0-9A-Fa-f])/g, (m, hex) => fromCharCode(parseInt_(hex, 16)));
      }
    });
    const out = [path, decoded];
    for (const p of [path, decoded]) {
      let n = replace(replace(p, /;[^/]*/g, ""), /\/{2,}/g, "/");
      if (n.length > 1) n = replace(n, /\/+$/, "") || "/";
      out.push(n);
    }
    return out;
  }

  function pathOf(url) {
    try {
      return new URL_(url, document.baseURI).pathname;
    } catch {
      return String_(url);
    }
  }

  // In fail-closed mode every write request is guarded, and any `true` counts.
  const FAIL_CLOSED = [{ ruleId: null, fields: null }];

  // The guards a request with this method and URL could break, known before its body is read
  // (null: none, and its body is never read): those whose method and path it has; every one
  // for a request whose method and URL are unknown (null: an XMLHttpRequest opened through
  // another frame's open).
  function candidates(method, url, mode = state) {
    if (mode === "inactive") return null;
    const m = method === null ? null : String_(method || "GET").toUpperCase();
    if (mode !== "active") return m !== null && SAFE_METHODS.has(m) ? null : FAIL_CLOSED;
    const paths = m === null ? null : routedPaths(pathOf(url));
    const found = [];
    for (const g of guards) {
      if (m !== null && g.method && g.method !== "*" && String_(g.method).toUpperCase() !== m) continue;
      if (paths === null || paths.some((p) => regexpTest.call(g.pathRe, p))) found.push(g);
    }
    return found.length > 0 ? found : null;
  }

  // whether a request goes through unread and at once: the rules name no guard for this page
  function unguarded() {
    return state === "inactive" || (state === "active" && guards.length === 0);
  }

  // The guard (one of `cands`) a request breaks with the body read, or null. A body the guard
  // cannot read breaks the first: what it says is unknown, and Zoho's page never sends one to
  // a guarded endpoint.
  function breaks(cands, read) {
    if (read.unreadable) return cands[0];
    const body = bodyValues(read.text, read.entries);
    for (const g of cands) {
      if (body.json !== undefined ? jsonTrue(body.json, g.fields)
        : body.entries.some(([k, v]) => stringTrue(k, v, g.fields))) return g;
    }
    return null;
  }

  // ---- fetch ----
  // The request is built at once from the page's arguments, as fetch itself would build it:
  // the page's init is read once, and what is judged is what is sent, whatever the page
  // changes afterwards. A request whose method and URL match a guard is judged by its body,
  // read from a copy (a stream is read to its end: one that never ends is never sent).
  async function guardedFetch(req) {
    if (state === "pending") await ready;
    const cands = candidates(req.method, req.url);
    if (cands !== null) {
      const hit = breaks(cands, await requestBody(req));
      if (hit) {
        report(hit, req.method, req.url);
        throw new TypeError_(`pwguard refused ${req.method} ${pathOf(req.url)}: it would revoke sessions or tokens`);
      }
    }
    return origFetch.call(this, req);
  }

  // the fields of a form (its file parts read as text), else the text, of a copy of the
  // request's body
  async function requestBody(req) {
    if (regexpTest.call(/^multipart\/form-data/i, headersGet.call(req.headers, "content-type") || "")) {
      let entries = null;
      try {
        entries = [...(await requestFormData.call(requestClone.call(req)))];
      } catch {
        /* not a well-formed form: read as text */
      }
      if (entries !== null) {
        const read = formParts(entries, false); // (its file parts read too)
        return read.pending ? read.pending : read;
      }
    }
    return { text: await requestText.call(requestClone.call(req)) };
  }

  function fetch(input, init) {
    if (unguarded()) return origFetch.call(this, input, init);
    let req;
    try {
      req = new Request_(input, init);
    } catch (err) {
      return Promise_.reject(err); // as fetch itself answers arguments it cannot use
    }
    if (req.method === "GET" || req.method === "HEAD") return origFetch.call(this, req); // no body
    return guardedFetch.call(this, req);
  }
  window.fetch = fetch;

  // ---- XMLHttpRequest ----
  // {method, url, async, sending} of each XMLHttpRequest, set once `open` has succeeded;
  // `sending`: a token of the last send, which a later open (new info) or abort (null) voids
  const xhrInfo = new WeakMap();
  const shown = new WeakSet(); // XHRs showing a readyState of the guard's (see showState)

  XHR.prototype.open = function open(method, url, ...rest) {
    const verb = `${method}`; // converted once, here, and the same strings given to the browser
    let href = `${url}`;
    const out = xhrOpen.call(this, verb, href, ...rest);
    try {
      href = new URL_(href, document.baseURI).href; // (resolved as the browser just did)
    } catch {
      /* keep the text */
    }
    if (shown.has(this)) { // (the state shown for a refused or aborted held send)
      shown.delete(this);
      delete this.readyState;
    }
    xhrInfo.set(this, { method: verb, url: href, async: rest.length === 0 || Boolean(rest[0]), sending: null, held: null });
    return out;
  };

  // An XHR whose send the guard refuses or holds was never sent: the browser's readyState
  // stays OPENED. What the page would see of a request that failed or was aborted is shown by
  // an own readyState (until the next open) and these events, each dispatched only while the
  // request has not been opened anew (by the page, in a handler or meanwhile).
  function showState(xhr, readyState) {
    shown.add(xhr);
    Object.defineProperty(xhr, "readyState", { configurable: true, get: () => readyState });
  }
  // the end of a request that failed (`outcome` "error") or was aborted ("abort"), as the
  // browser gives it: loadstart (which send fired), readyState DONE with readystatechange,
  // the outcome, loadend; whether the request is still this one at the end
  function end(xhr, info, outcome) {
    for (const type of ["loadstart", "readystatechange", outcome, "loadend"]) {
      if (xhrInfo.get(xhr) !== info) return false;
      if (type === "readystatechange") showState(xhr, 4);
      dispatch.call(xhr, type === "readystatechange" ? new Event(type) : new ProgressEvent(type));
    }
    return xhrInfo.get(xhr) === info;
  }

  XHR.prototype.abort = function abort() {
    const info = xhrInfo.get(this);
    const held = info !== undefined && info.sending !== null && info.held === info.sending;
    if (info) info.sending = null; // a send still held for the rules is dropped
    const out = xhrAbort.call(this);
    // (nothing was sent, so the browser fires nothing) as an abort of a sent request, then
    // UNSENT
    if (held && end(this, info, "abort")) showState(this, 0);
    return out;
  };

  // a network error, as the page would see one, and nothing sent: a synchronous send throws
  // (readyState DONE, no events); an asynchronous one ends later as a failed request (see
  // end; status 0), unless the page has opened the request anew or aborted it meanwhile
  // (then it sees an abort, see abort)
  function refuseXhr(xhr, hit, info) {
    report(hit, info ? info.method : "", info ? info.url : "");
    if (info && !info.async) {
      showState(xhr, 4);
      throw new DOMException_(`pwguard refused ${info.method} ${pathOf(info.url)}: it would revoke sessions or tokens`, "NetworkError");
    }
    const sending = info ? info.sending : null;
    if (info) info.held = sending;
    origSetTimeout(() => {
      if (xhrInfo.get(xhr) !== info || (info && info.sending !== sending)) return;
      if (info) info.held = null;
      end(xhr, info, "error");
    }, 0);
  }

  XHR.prototype.send = function send(body) {
    if (unguarded()) return xhrSend.call(this, body);
    const info = xhrInfo.get(this);
    const { payload, kind } = sendable(body); // now, as natively: a conversion that throws throws here
    if (payload == null && info && SAFE_METHODS.has(info.method.toUpperCase())) return xhrSend.call(this, body);
    const xhr = this;
    const token = {};
    if (info) info.sending = token;
    const current = () => xhrInfo.get(xhr) === info && (!info || info.sending === token);
    const hold = () => {
      if (info) info.held = token; // (what abort() meanwhile makes look like an abort)
      return undefined;
    };
    const guardsFor = (mode) => (info ? candidates(info.method, info.url, mode) : candidates(null, null, mode));
    function finish(cands, read) {
      const hit = breaks(cands, read);
      if (hit) return refuseXhr(xhr, hit, info);
      if (info) info.held = null;
      // (a form whose file parts were read first: the copy judged, not the page's live form)
      return xhrSend.call(xhr, read.payload !== undefined ? read.payload : payload);
    }
    // sends, refuses, or reads a Blob first; the body is read only if a guard could apply
    function decide(cands) {
      if (cands === null) {
        if (info) info.held = null;
        return xhrSend.call(xhr, payload);
      }
      const read = readBody(payload, kind, Boolean(info && !info.async)); // (sync: at once)
      if (!read.pending) return finish(cands, read);
      read.pending.then((r) => {
        if (current()) finish(cands, r);
      });
      return hold();
    }
    if (state === "pending" && (!info || info.async)) {
      ready.then(() => {
        if (current()) decide(guardsFor(state)); // (not if re-opened or aborted meanwhile)
      });
      return hold();
    }
    // now: a synchronous request cannot be held (while the rules are pending, it fails closed)
    return decide(guardsFor(state === "pending" ? "failclosed" : state));
  };

  // ---- blocked controls: property sets by page scripts ----
  function isBlocked(el) {
    return state !== "inactive" && getAttribute.call(el, "data-pwguard") === "blocked";
  }
  Object.defineProperty(HTMLInputElement.prototype, "checked", {
    ...checkedDesc,
    set(value) {
      checkedDesc.set.call(this, value && isBlocked(this) ? false : value);
    },
  });
  Object.defineProperty(HTMLInputElement.prototype, "disabled", {
    ...disabledDesc,
    set(value) {
      if (!value && isBlocked(this)) return;
      disabledDesc.set.call(this, value);
    },
  });

  // ---- navigation within the page ----
  // A single-page app that moves to another path (history.pushState / replaceState) may enter
  // or leave the pages a rule names: tell content.js at once (a DOM event reaches the isolated
  // world synchronously, before the app renders the new view), which chooses its rules again.
  // (popstate and hashchange it sees itself.)
  for (const name of ["pushState", "replaceState"]) {
    const original = History.prototype[name];
    if (typeof original !== "function") continue;
    History.prototype[name] = {
      [name](...args) {
        const out = reflectApply(original, this, args);
        dispatch.call(document, new CustomEvent("pwguard-navigated"));
        return out;
      },
    }[name];
  }

  // ---- shadow roots ----
  // content.js only searches inserted subtrees for shadow hosts once the page has used shadow
  // DOM at all (most pages, Zoho's included, never do): tell it the first time, at once (a
  // DOM event reaches the isolated world synchronously; the port message may come after the
  // insertion that follows). And a node already in the document that gets a shadow root, or
  // markup with declarative shadow roots (setHTMLUnsafe), is reported at once, open or
  // closed: content.js reaches both.
  let shadowUsed = false;
  const DECLARATIVE = /shadowrootmode/i;
  function shadowEvent(node) {
    dispatch.call(node, new CustomEvent("pwguard-shadow", { bubbles: true, composed: true }));
  }
  function noteShadow(node) {
    if (state === "inactive") return;
    const first = !shadowUsed;
    if (first) {
      shadowUsed = true;
      if (port) port.postMessage({ type: "shadow" });
    }
    if (node && node.isConnected) shadowEvent(node);
    else if (first) shadowEvent(document);
  }
  Element.prototype.attachShadow = function patchedAttachShadow(init) {
    const root = attachShadow.call(this, init);
    noteShadow(this);
    return root;
  };
  for (const proto of [Element.prototype, ShadowRoot.prototype]) {
    const setHTMLUnsafe = proto.setHTMLUnsafe;
    if (typeof setHTMLUnsafe !== "function") continue;
    proto.setHTMLUnsafe = function patchedSetHTMLUnsafe(html, ...rest) {
      const out = setHTMLUnsafe.call(this, html, ...rest);
      if (regexpTest.call(DECLARATIVE, String_(html))) noteShadow(this);
      return out;
    };
  }
  const parseHTMLUnsafe = Document.parseHTMLUnsafe;
  if (typeof parseHTMLUnsafe === "function") {
    // a document of its own: what matters is that its nodes, once inserted here, are searched
    Document.parseHTMLUnsafe = function patchedParseHTMLUnsafe(html, ...rest) {
      const doc = parseHTMLUnsafe.call(this, html, ...rest);
      if (regexpTest.call(DECLARATIVE, String_(html))) noteShadow(null);
      return doc;
    };
  }
})();
