// Background: settings, sync, the single message router. The only writer of storage.
// Chrome runs this file as the service worker (and loads its helpers with importScripts);
// Firefox runs messages.js, engine.js and this file as background scripts (manifest "scripts").
if (typeof importScripts === "function" && !globalThis.pwguardMessages) {
  importScripts("messages.js", "engine.js");
}

(() => {
  "use strict";
  const ext = globalThis.browser ?? globalThis.chrome;
  const M = globalThis.pwguardMessages;
  const E = globalThis.pwguardEngine;

  const DEFAULTS = Object.freeze({ serverUrl: "", publicKey: "", pollMinutes: 5 });
  const MIN_POLL = 0.5; // Chrome's shortest alarm period; lets tests poll every 30 s
  const MAX_POLL = 1440;
  const FETCH_TIMEOUT_MS = 10000; // a server slower than this counts as down
  const MAX_BODY_BYTES = 1024 * 1024; // a rules bundle is a few KiB; refuse anything over 1 MiB
  const BUNDLE_FORMAT = "pwguard-bundle/1";
  const ID_RE = /^[a-z0-9-]+$/;
  // hosts the static content scripts already cover (manifest host_permissions)
  const STATIC_HOSTS = ext.runtime.getManifest().host_permissions;

  // ---- settings ----
  // The policy's keys (trimmed text), or `unreadable`: the reason storage.managed could not be
  // read. Firefox rejects with exactly NO_POLICY when no policy names this extension (Chrome
  // gives {}): that is "no policy", and so is any answer on a machine that never had one.
  const NO_POLICY = "Managed storage manifest not found";
  async function readPolicy() {
    let items;
    try {
      items = (await ext.storage.managed.get()) || {};
    } catch (err) {
      const reason = String((err && err.message) || err);
      if (reason !== NO_POLICY) return { unreadable: reason };
      items = {};
    }
    const out = {};
    // a key the policy holds is the administrator's, even "" (serverUrl "": the bundled
    // rules only, which the person must not be able to replace by a server of their own);
    // text is trimmed as the options page trims what it saves (a policy file's stray space
    // would otherwise end up in the address fetched)
    for (const key of Object.keys(DEFAULTS)) {
      const value = items[key];
      if (value !== undefined && value !== null) out[key] = typeof value === "string" ? value.trim() : value;
    }
    return { values: out };
  }

  /** The settings in force, `managed`: the keys the policy sets, and `problems`: sentences
   * about values that are wrong (a policy's are not checked by anyone else; stored ones may
   * predate a check), each naming where the value comes from and how to put it right. */
  async function settings() {
    const [policy, stored] = await Promise.all([readPolicy(),
      ext.storage.local.get({ [M.STORE_SETTINGS]: {}, [M.STORE_POLICY]: {} })]);
    const problems = [];
    let managed = policy.values;
    if (policy.unreadable !== undefined) {
      // A policy that fails to be read (a browser's policy service in trouble) is not no
      // policy: the last one read stays in force, or a person's own server would stand in
      // for the administrator's until it can be read again.
      managed = { ...stored[M.STORE_POLICY] };
      console.error("pwguard: could not read the enterprise policy:", policy.unreadable);
      if (Object.keys(managed).length > 0) {
        problems.push(said("policyUnreadable", [policy.unreadable],
          `Enterprise policy: could not be read (${policy.unreadable}); the last ` +
          "policy read is in force until it can be (restart the browser; see chrome://policy " +
          "or about:policy)"));
      }
    } else if (JSON.stringify(managed) !== JSON.stringify(stored[M.STORE_POLICY])) {
      // (kept for when it cannot be read; a failed write costs only that)
      await ext.storage.local.set({ [M.STORE_POLICY]: managed })
        .catch((err) => console.error("pwguard: could not keep the enterprise policy read:", err));
    }
    // The server and its key are one setting: a policy that sets one of them sets both (the
    // other one missing counts as ""), or the person could pair the administrator's server
    // with a key of their own choosing (the server's rules would then fail their signature
    // and give way to the bundled rules) or the administrator's key with another server.
    if ("serverUrl" in managed || "publicKey" in managed) {
      managed.serverUrl ??= "";
      managed.publicKey ??= "";
    }
    if (managed.serverUrl && splitKeys(managed.publicKey).length === 0) {
      problems.push(problem("policyNoKey", POLICY_NAMES.publicKey, [],
        "empty or missing while the policy sets \"serverUrl\", " +
        "so no rules from that server can be trusted; set it to the output of `pwguard keygen` " +
        "(a browser drops a policy value of the wrong type: see chrome://policy or about:policy)"));
    }
    const local = stored[M.STORE_SETTINGS];
    const own = Object.fromEntries(Object.entries(local).filter(([key]) => !(key in managed)));
    problems.push(...settingsProblems(managed, POLICY_NAMES), ...settingsProblems(own));
    const merged = { ...DEFAULTS, ...local, ...managed };
    merged.pollMinutes = clampPoll(merged.pollMinutes);
    return { ...merged, managed: Object.keys(managed), problems };
  }

  // a poll interval as a number, or NaN: a number, or text that is one ("10"); not "", true
  // or a list, which Number() would take for 0, 1 or a number
  function pollNumber(value) {
    if (typeof value === "number") return value;
    if (typeof value === "string" && /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(value)) return Number(value);
    return NaN;
  }

  // a value out of range is clamped (and told: settingsProblems); one that is no number at
  // all gives the default, not the shortest interval
  function clampPoll(value) {
    const n = pollNumber(value);
    if (!Number.isFinite(n)) return DEFAULTS.pollMinutes;
    return Math.min(MAX_POLL, Math.max(MIN_POLL, n));
  }

  function splitKeys(text) {
    return String(text || "").split(/[\s,]+/).filter(Boolean);
  }

  function b64decode(text) {
    const bin = atob(text);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  /** A public key as `pwguard keygen` writes it: base64 of 32 bytes. */
  function wellFormedKey(text) {
    try {
      return b64decode(text).length === 32;
    } catch {
      return false;
    }
  }

  // The base64 of the DER head of an Ed25519 SubjectPublicKeyInfo (12 bytes, so the key's
  // own base64 follows it unchanged), what a PEM public key holds; and that of a PKCS#8
  // Ed25519 private key's (its first 15 bytes).
  const SPKI_ED25519 = "MCowBQYDK2VwAyEA";
  const PKCS8_ED25519 = "MC4CAQAwBQYDK2VwBCIE";

  /** The key `pwguard keygen` prints for the base64 of an Ed25519 SubjectPublicKeyInfo, or null. */
  function rawOfSpki(b64) {
    const raw = b64.startsWith(SPKI_ED25519) ? b64.slice(SPKI_ED25519.length) : "";
    return raw && wellFormedKey(raw) ? raw : null;
  }

  /** Keys given in another form than `pwguard keygen`'s, in the public key text `text`: PEM
   * text (`openssl pkey -pubout` writes it, from a private key the server reads too), the
   * base64 inside it, a private key. {problems: a sentence for each (see problem()), naming
   * the setting and, for a public key, the very text to give; rest: the text without them}. A
   * private key is never quoted. */
  function keyFormProblems(text, names) {
    const problems = [];
    const keygen = "give the key as `pwguard keygen` prints it, the base64 of its 32 bytes alone";
    const secret = problem("settingKeyPrivate", names.publicKey, [], "that is a private key, which must " +
      "stay secret (on the rules server); give the public key, as `pwguard keygen` prints it");
    const giveRaw = (raw) => problem("settingKeyGiveRaw", names.publicKey, [raw], `${keygen}: ${raw}`);
    const spaced = String(text || "").replace(/\s+/g, " ");
    const unarmoured = spaced.replace(/-----BEGIN ([A-Z0-9 ]+?)-----(.*?)(-----END [A-Z0-9 ]+?-----|$)/g,
      (whole, kind, body) => {
        if (/PRIVATE/.test(kind)) problems.push(secret);
        else {
          const raw = rawOfSpki(body.replace(/ /g, ""));
          problems.push(raw ? giveRaw(raw)
            : problem("settingKeyNotPem", names.publicKey, [], `${keygen}, not PEM text`));
        }
        return " ";
      });
    const rest = splitKeys(unarmoured).filter((key) => {
      if (key.startsWith(PKCS8_ED25519)) problems.push(secret);
      else if (rawOfSpki(key)) problems.push(giveRaw(rawOfSpki(key)));
      else return true;
      return false;
    });
    // (each told once: a private key pasted twice, say)
    const once = problems.filter((x, i) => problems.findIndex((y) => y.en === x.en) === i);
    return { problems: once, rest: rest.join(" ") };
  }

  // how a problem names the setting: the options page's field by its label, as the page shows
  // it (in the browser's language), or the policy's key; `here` in the browser's language,
  // `en` in English (see problem())
  const localised = (key, subs) => (ext.i18n && ext.i18n.getMessage(key, subs)) || "";
  const label = (key, english) => Object.freeze({ here: `"${localised(key) || english}"`, en: `"${english}"` });
  const FIELD_NAMES = Object.freeze({
    serverUrl: label("serverUrlLabel", "Rules server URL"),
    publicKey: label("publicKeyLabel", "Rules public key (base64; one per line)"),
    pollMinutes: label("pollMinutesLabel", "Check for new rules every (minutes)"),
  });
  const POLICY_NAMES = Object.freeze(Object.fromEntries(
    Object.keys(DEFAULTS).map((key) => {
      const en = `Enterprise policy "${key}" (ask your administrator)`;
      return [key, Object.freeze({ here: localised("policyName", [key]) || en, en })];
    })));

  /** A setting's problem, a sentence (see said()) that starts with the setting's name `name`
   * (one of FIELD_NAMES', POLICY_NAMES'), its message's first placeholder: `key`, its message,
   * `subs`, the texts for the others, and `en`, the English text after the name. */
  function problem(key, name, subs, en) {
    return said(key, [name.here, ...subs], `${name.en}: ${en}`);
  }

  // a server URL that names the rules' own address (<server>/v1/rules, as curl fetches them)
  const RULES_PATH_RE = /\/v1\/rules\/*$/;

  /** The server's base address for the server URL `serverUrl` (ending in "/", without the
   * "?" and "#" parts or a trailing "/v1/rules"), or null when it is no address. */
  function serverBase(serverUrl) {
    let base;
    try {
      base = new URL(String(serverUrl).trim());
    } catch {
      return null;
    }
    base.search = "";
    base.hash = "";
    base.pathname = base.pathname.replace(RULES_PATH_RE, "/");
    return new URL(base.href.replace(/\/*$/, "/"));
  }

  /** The address of the rules under the server URL `serverUrl` (<serverUrl>/v1/rules), or
   * null when it is no address. */
  function rulesUrl(serverUrl) {
    const base = serverBase(serverUrl);
    return base && new URL("v1/rules", base);
  }

  /** Problems with the settings `s` holds (checked the same whether typed on the options page
   * or set by policy), as sentences (see problem()) naming the setting and the fix. */
  function settingsProblems(s, names = FIELD_NAMES) {
    const problems = [];
    if (s.serverUrl) {
      let url = null;
      try {
        url = new URL(s.serverUrl);
      } catch {
        /* reported below */
      }
      if (!url || !["https:", "http:"].includes(url.protocol)) {
        problems.push(problem("settingServerUrlNotHttp", names.serverUrl, [],
          "give a full http(s) address such as https://rules.example.com/"));
      } else if (url.username || url.password) {
        problems.push(problem("settingServerUrlCredentials", names.serverUrl, [],
          "leave the user name and password out of the address " +
          "(browsers refuse to fetch such an address, and the rules server needs none)"));
      } else if (url.search || url.hash) {
        const rules = rulesUrl(s.serverUrl).href;
        problems.push(problem("settingServerUrlQuery", names.serverUrl, [rules],
          `leave the "?" or "#" part out of the address: the rules are fetched from ${rules}, without it`));
      } else if (RULES_PATH_RE.test(url.pathname)) {
        // (the rules' address given for the server's: fetched from the server's, with the
        // problem told, as a policy's "?" part is)
        const [base, rules] = [serverBase(s.serverUrl).href, rulesUrl(s.serverUrl).href];
        problems.push(problem("settingServerUrlRulesPath", names.serverUrl, [base, rules],
          `leave "/v1/rules" out of the address, give ${base} (the extension fetches the rules from ${rules})`));
      }
    }
    const forms = keyFormProblems(s.publicKey, names);
    problems.push(...forms.problems);
    const malformed = splitKeys(forms.rest).filter((key) => !wellFormedKey(key));
    if (malformed.length) {
      const which = malformed.map((key) => `"${key.slice(0, 12)}${key.length > 12 ? "…" : ""}"`).join(", ");
      const [key, verb] = malformed.length > 1 ? ["settingKeysNotBase64", "are"]
        : ["settingKeyNotBase64", "is"];
      problems.push(problem(key, names.publicKey, [which],
        `${which} ${verb} not base64 of 32 bytes; give the output of \`pwguard keygen\``));
    }
    if ("pollMinutes" in s) {
      const poll = pollNumber(s.pollMinutes);
      if (!Number.isFinite(poll) || poll < MIN_POLL || poll > MAX_POLL) {
        problems.push(problem("settingPollRange", names.pollMinutes, [MIN_POLL, MAX_POLL],
          `give a number from ${MIN_POLL} to ${MAX_POLL}`));
      }
    }
    return problems;
  }

  // ---- state (the rules in force) ----
  let bundledCache = null;
  async function bundledPayload() {
    if (!bundledCache) {
      const res = await fetch(ext.runtime.getURL("rules.bundled.json"));
      bundledCache = await res.json();
    }
    return bundledCache;
  }

  async function bundledState() {
    const payload = await bundledPayload();
    return {
      payload, source: "bundled", version: payload.version,
      lastSync: null, lastAttempt: null, lastError: null, lastErrorSaid: null, serverUrl: "",
    };
  }

  // The state is one storage key, always written whole with one `set` and never removed, so
  // a content script reading it at any moment finds rules (content.js also asks GET_RULES, and
  // retries, for the moments before the first write).
  function usablePayload(p) {
    return Boolean(p && typeof p === "object" && Array.isArray(p.rules) && p.rules.length > 0);
  }

  /** The state as stored, or null before the first write. */
  async function storedState() {
    return (await ext.storage.local.get({ [M.STORE_STATE]: null }))[M.STORE_STATE];
  }

  async function getState() {
    const state = await storedState();
    return state && usablePayload(state.payload) ? state : bundledState();
  }

  async function putState(state) {
    if (!usablePayload(state.payload)) throw new Error("pwguard: refusing to store a state without rules");
    await ext.storage.local.set({ [M.STORE_STATE]: state });
    const { added } = await registerExtraHosts(state.payload)
      .catch(() => ({ added: [] })); // (logged there)
    // a host granted before any rule named it, now named by these rules: its pages already
    // open get the scripts too (not awaited: a sync does not wait on a page that hangs)
    if (added.length) protectOpenTabs(added);
    return state;
  }

  /** On start: store the bundled rules if nothing (or an older bundled copy) is stored. */
  async function ensureState() {
    const stored = await storedState();
    const bundled = await bundledPayload();
    if (!stored || !usablePayload(stored.payload) ||
        (stored.source === "bundled" && stored.version !== bundled.version)) {
      return putState(await bundledState());
    }
    await registerExtraHosts(stored.payload).catch(() => undefined); // logged there
    return stored;
  }

  // ---- validation of a received payload (mirrors the rule language's schema) ----
  function payloadProblems(p) {
    const problems = [];
    const at = (i, r) => `rule ${i + 1}${r && typeof r.id === "string" ? ` (${r.id})` : ""}`;
    if (!p || typeof p !== "object" || Array.isArray(p)) return ["the payload is not a JSON object"];
    if (p.format !== 1) problems.push(`payload format ${JSON.stringify(p.format)} is not 1`);
    if (typeof p.version !== "string" || !p.version) problems.push("payload has no version");
    if (!Array.isArray(p.rules) || p.rules.length === 0) {
      problems.push("payload has no rules");
      return problems;
    }
    const ids = new Set();
    p.rules.forEach((r, i) => {
      if (!r || typeof r !== "object") {
        problems.push(`${at(i)} is not an object`);
        return;
      }
      if (typeof r.id !== "string" || !ID_RE.test(r.id)) problems.push(`${at(i, r)}: id must match [a-z0-9-]+`);
      else if (ids.has(r.id)) problems.push(`${at(i, r)}: duplicate id`);
      ids.add(r.id);
      for (const key of ["title", "why", "help"]) {
        if (typeof r[key] !== "string" || !r[key]) problems.push(`${at(i, r)}: ${key} must be a non-empty string`);
      }
      if (!["block", "warn"].includes(r.action)) problems.push(`${at(i, r)}: action must be block or warn`);
      if (!Array.isArray(r.sites) || r.sites.length === 0) problems.push(`${at(i, r)}: sites must be a non-empty list`);
      else {
        for (const s of r.sites) {
          try {
            E.parse_pattern(s);
          } catch (err) {
            problems.push(`${at(i, r)}: ${err.message}`);
          }
        }
      }
      if (!Array.isArray(r.controls) || r.controls.length === 0) problems.push(`${at(i, r)}: controls must be a non-empty list`);
      else {
        r.controls.forEach((c, j) => {
          const hasSel = c && typeof c.selector === "string" && c.selector.length > 0;
          const hasLabel = c && Array.isArray(c.label) && c.label.length > 0 &&
            c.label.every((x) => typeof x === "string" && x.trim());
          const sel = c && c.selector != null;
          const lab = c && c.label != null;
          if (sel === lab || (sel && !hasSel) || (lab && !hasLabel)) {
            problems.push(`${at(i, r)}: control ${j + 1} needs exactly one of a selector or a list of label phrases`);
          }
        });
      }
      if (r.request != null) {
        const q = r.request;
        if (typeof q !== "object" || typeof q.method !== "string" || typeof q.path !== "string" || !q.path ||
            !Array.isArray(q.json_true) || !q.json_true.every((f) => typeof f === "string")) {
          problems.push(`${at(i, r)}: request needs method, path and a json_true list of field names`);
        }
      }
      if (!r.message || typeof r.message !== "object" || typeof r.message.en !== "string" || !r.message.en) {
        problems.push(`${at(i, r)}: message.en is required`);
      } else if (!Object.values(r.message).every((v) => typeof v === "string")) {
        problems.push(`${at(i, r)}: every message must be text`);
      }
    });
    return problems;
  }

  // ---- sync ----
  /** A sentence the options page shows in its own language: `key`, its message in _locales,
   * `subs`, the texts for its placeholders, and `en`, the English text (the state's lastError,
   * as logs and older versions read it). Never with a password (one may lurk in any text
   * that quotes an address). */
  function said(key, subs, en) {
    return { key, subs: subs.map((sub) => withoutCredentials(sub)), en: withoutCredentials(en) };
  }

  /** A sync's fault: `said`, its sentences (the message: their English text). */
  class SyncError extends Error {
    constructor(...sentences) {
      super(sentences.map((x) => x.en).join("; "));
      this.said = sentences;
    }
  }

  async function readLimited(res, controller) {
    const declared = Number(res.headers.get("content-length"));
    if (declared > MAX_BODY_BYTES) {
      controller.abort();
      throw new SyncError(said("syncTooLarge", [declared, MAX_BODY_BYTES],
        `the answer is ${declared} bytes, over the ${MAX_BODY_BYTES}-byte limit`));
    }
    const reader = res.body.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > MAX_BODY_BYTES) {
        controller.abort();
        throw new SyncError(said("syncTooLargeStream", [MAX_BODY_BYTES], `the answer is over the ${MAX_BODY_BYTES}-byte limit`));
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      bytes.set(c, offset);
      offset += c.byteLength;
    }
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  }

  async function verifySignature(bundle, publicKeys) {
    let signature;
    try {
      signature = b64decode(bundle.signature);
    } catch {
      throw new SyncError(said("syncSignatureNotBase64", [], "bad signature: the signature is not base64"));
    }
    const data = new TextEncoder().encode(bundle.payload);
    const unusable = []; // keys the browser refuses as Ed25519 keys: said, not skipped silently
    for (const key of publicKeys) {
      let cryptoKey;
      try {
        cryptoKey = await crypto.subtle.importKey("raw", b64decode(key), { name: "Ed25519" }, false, ["verify"]);
      } catch (err) {
        unusable.push(`"${key.slice(0, 12)}…" (${(err && err.message) || err})`);
        continue;
      }
      try {
        if (await crypto.subtle.verify({ name: "Ed25519" }, cryptoKey, signature, data)) return;
      } catch {
        /* a signature of the wrong size verifies nothing */
      }
    }
    const keyId = String(bundle.key_id).slice(0, 16);
    const sentences = [said("syncBadSignature", [keyId],
      `bad signature: the rules (key_id ${keyId}) are not signed by a configured public key`)];
    if (unusable.length) {
      const keys = unusable.join(", ");
      sentences.push(said("syncUnusableKey", [keys], `the public key ${keys} is not a usable Ed25519 key`));
    }
    throw new SyncError(...sentences);
  }

  /** Whether `url` answers at all, after a fetch of it failed: browsers give the same
   * error for a server down and for an answer the extension may not read (no CORS header:
   * a static server set up without it, a sign-in page a proxy redirects to), which an
   * administrator fixes in other places. A "no-cors" request follows the redirects and
   * resolves (its answer unread) whenever there is an answer. */
  async function answersUnreadably(url, signal) {
    try {
      await fetch(url.href, { mode: "no-cors", cache: "no-store", credentials: "omit", signal });
      return true;
    } catch {
      return false;
    }
  }

  /** Fetch, verify and validate the server's bundle; returns the payload and `signed`, what
   * it takes to verify it again (the payload's text, the signature, the key id), or throws
   * SyncError. */
  async function fetchPayload(s) {
    const url = rulesUrl(s.serverUrl);
    if (!url) {
      const quoted = JSON.stringify(s.serverUrl);
      throw new SyncError(said("syncBadAddress", [quoted], `the server URL ${quoted} is not a valid address`));
    }
    // (settingsProblems says why; browsers refuse to fetch it, naming it, password and all)
    if (url.username || url.password) {
      throw new SyncError(said("syncCredentials", [], "the server URL holds a user name or password, so it was not fetched"));
    }
    // a malformed key is one of the settings' problems, told with them; the others may verify
    const keys = splitKeys(s.publicKey).filter(wellFormedKey);
    if (keys.length === 0) {
      throw new SyncError(said("syncNoKey", [], "no valid public key is configured, so no rules from the server can be trusted"));
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    const seconds = FETCH_TIMEOUT_MS / 1000;
    let text;
    try {
      let res;
      try {
        // "no-cache": the browser's HTTP cache revalidates with If-None-Match (the server's
        // strong ETag) on every poll and an unchanged bundle costs a 304. ("no-store" would
        // drop the ETag and download the bundle every time; setting If-None-Match by hand would
        // make cross-origin requests preflighted, which a static CDN may not answer.)
        res = await fetch(url.href, {
          cache: "no-cache", credentials: "omit", redirect: "follow", signal: controller.signal,
          headers: { Accept: "application/json" },
        });
      } catch (err) {
        if (controller.signal.aborted) {
          throw new SyncError(said("syncTimeout", [seconds], `the server did not answer within ${seconds} s`));
        }
        const reason = String(err.message || err);
        if (await answersUnreadably(url, controller.signal)) {
          throw new SyncError(said("syncUnreadable", [url.href, reason],
            `${url.href} answered, but not so that the extension may read it ` +
            `(${reason}): the answer, or the page it redirects to (a sign-in page, ` +
            "a proxy's), lacks the header Access-Control-Allow-Origin: *; serve the rules " +
            "with it and without a sign-in (their signature is what makes them trusted)"));
        }
        throw new SyncError(said("syncUnreachable", [url.href, reason], `could not reach ${url.href} (${reason})`));
      }
      if (!res.ok) {
        throw new SyncError(said("syncHttpStatus", [res.status, url.href],
          `the server answered HTTP ${res.status} for ${url.href}`));
      }
      try {
        text = await readLimited(res, controller);
      } catch (err) {
        if (err instanceof SyncError) throw err;
        if (controller.signal.aborted) {
          throw new SyncError(said("syncSlowBody", [seconds], `the server did not finish its answer within ${seconds} s`));
        }
        const reason = String(err.message || err);
        throw new SyncError(said("syncBrokeOff", [reason], `the answer broke off (${reason})`));
      }
    } finally {
      clearTimeout(timer);
    }
    let bundle;
    try {
      bundle = JSON.parse(text);
    } catch {
      const start = JSON.stringify(text.trimStart().slice(0, 40).replace(/\s+/g, " "));
      throw new SyncError(said("syncNotJson", [start],
        `the answer is not JSON (it starts with ${start}); is the server URL right?`));
    }
    if (!bundle || bundle.format !== BUNDLE_FORMAT || typeof bundle.payload !== "string" || typeof bundle.signature !== "string") {
      throw new SyncError(said("syncNotBundle", [BUNDLE_FORMAT], `the answer is not a ${BUNDLE_FORMAT} signed bundle`));
    }
    await verifySignature(bundle, keys);
    let payload;
    try {
      payload = JSON.parse(bundle.payload);
    } catch {
      throw new SyncError(said("syncPayloadNotJson", [], "invalid rules: the signed payload is not JSON"));
    }
    const problems = payloadProblems(payload).slice(0, 5).join("; ");
    if (problems) throw new SyncError(said("syncInvalidRules", [problems], `invalid rules: ${problems}`));
    return { payload, signed: { payload: bundle.payload, signature: bundle.signature, key_id: bundle.key_id } };
  }

  async function doSync() {
    const s = await settings();
    const stored = await storedState();
    const state = stored && usablePayload(stored.payload) ? stored : await bundledState();
    const now = new Date().toISOString();
    // wrong settings (a policy's above all: nobody else checks them) are told at every sync,
    // ahead of its own error; the sync still uses what is usable of them. The error is stored
    // twice: lastError, the English text, and lastErrorSaid, its sentences (see said(); a
    // setting's problem: see problem()), which the options page shows in its language
    const told = (...sentences) => {
      const all = sentences.filter(Boolean);
      return { lastError: all.map((x) => x.en).join("; ") || null, lastErrorSaid: all.length ? all : null };
    };
    if (!s.serverUrl) {
      // no server: the bundled rules are the rules, with nothing left over from a server
      // (its error, its sync times); stored again if storage has none
      const error = told(...s.problems);
      // (the same error stored, in the same words: a setting's name is in the browser's language)
      const clean = state === stored && state.source === "bundled" &&
        JSON.stringify([state.lastError, state.lastErrorSaid ?? null]) ===
          JSON.stringify([error.lastError, error.lastErrorSaid]) &&
        !state.lastAttempt && state.version === (await bundledPayload()).version;
      return clean ? state : putState({ ...(await bundledState()), ...error });
    }
    try {
      const { payload, signed } = await fetchPayload(s);
      // (awaited here: a failed write is this sync's error, told below, like any other)
      return await putState({
        payload, signed, source: "server", version: payload.version,
        lastSync: now, lastAttempt: now, ...told(...s.problems), serverUrl: s.serverUrl,
      });
    } catch (err) {
      const sentences = err instanceof SyncError ? err.said
        : [said("syncUnexpected", [err && err.message], `unexpected error: ${err && err.message}`)];
      // keep the last good rules, unless no configured key vouches for them any more
      const distrust = await distrusted(state, s);
      if (distrust) {
        return putState({ ...(await bundledState()), lastAttempt: now, ...told(...s.problems, ...sentences, distrust) });
      }
      return putState({ ...state, lastAttempt: now, ...told(...s.problems, ...sentences) });
    }
  }

  /** Why the server's rules in `state` must go (a sentence: see said()): none of the keys in
   * the settings `s` verifies them (a key taken out of the settings, after a leak say, takes
   * its rules with it), or null. Every sync that fails checks this, and every change of the
   * settings syncs. Rules stored before their signature was (by an older version) are kept,
   * as they were. */
  async function distrusted(state, s) {
    if (state.source !== "server" || !state.signed) return null;
    try {
      await verifySignature(state.signed, splitKeys(s.publicKey).filter(wellFormedKey));
      return null;
    } catch {
      const from = withoutCredentials(state.serverUrl || "the server");
      const keyId = String(state.signed.key_id).slice(0, 16);
      return said("syncDistrusted", [from, state.version, keyId],
        `the rules from ${from} (version ${state.version}, key_id ${keyId}) are not signed by a ` +
        "configured public key any more, so the rules bundled with the extension are in force");
    }
  }

  /** `text` with the user name and password of any address in it left out. */
  function withoutCredentials(text) {
    return String(text).replace(/\/\/[^/\s"]*@/g, "//");
  }

  let syncChain = Promise.resolve();
  // why the last sync's outcome could not be stored (a sentence: see said()), or null: told by
  // status() (which reads storage) until a sync's outcome is stored again
  let unstored = null;
  function sync() {
    const run = syncChain.then(doSync, doSync).then((state) => {
      unstored = null;
      return state;
    }, (err) => {
      // (a failed write, above all: doSync tells every other fault in the state it stores)
      const reason = String((err && err.message) || err);
      unstored = said("syncUnstored", [reason],
        `the last sync's outcome was not stored (${reason}); the rules shown are still in force`);
      throw err;
    });
    syncChain = run.catch(() => undefined);
    return run;
  }

  // a sync nobody waits for (the alarm's, a policy change's): its failure is logged
  function syncInBackground() {
    sync().catch((err) => console.error("pwguard: sync failed:", err));
  }

  /** The periodic sync's alarm (none without a server URL), created anew (`replace`: the
   * settings changed, so may its period), or only if it is missing: at every start of the
   * background (Firefox forgets an add-on's alarms when it is disabled, and enabling it again
   * fires neither onStartup nor onInstalled), where creating an existing alarm again (a
   * service worker starts often) would keep pushing its next run back. Whether it created
   * the alarm. One at a time (a save, a policy change and a start may ask at once): each
   * reads the settings, clears and creates, and interleaved, one reading the old settings
   * could clear the alarm another had just made for the new ones. */
  let scheduleChain = Promise.resolve();
  function schedule(options) {
    const run = scheduleChain.then(() => reschedule(options));
    scheduleChain = run.catch(() => undefined);
    return run;
  }

  async function reschedule({ replace = true } = {}) {
    const s = await settings();
    if (replace) await ext.alarms.clear(M.ALARM);
    if (!s.serverUrl || (!replace && (await ext.alarms.get(M.ALARM)))) return false;
    await ext.alarms.create(M.ALARM, { periodInMinutes: s.pollMinutes, delayInMinutes: s.pollMinutes });
    return true;
  }

  // ---- pages open before the content scripts could run in them ----
  const INJECT_WAIT_MS = 5000; // how long a grant's answer waits for the open tabs' injection
  // the files of the manifest's content_scripts, by world (also those registered for
  // white-label hosts): one list, the manifest's (Firefox gives them as full URLs, which the
  // scripting API refuses: made relative)
  const DECLARED = ext.runtime.getManifest().content_scripts || [];
  const BASE = ext.runtime.getURL("");
  const relative = (file) => (file.startsWith(BASE) ? file.slice(BASE.length) : file);
  const filesOf = (entries) => [...new Set(entries.flatMap((c) => (c.js || []).map(relative)))];
  const MAIN_FILES = filesOf(DECLARED.filter((c) => c.world === "MAIN"));
  const ISOLATED_FILES = filesOf(DECLARED.filter((c) => c.world !== "MAIN"));

  /** Put the content scripts into the frames of open tabs matching `patterns` that lack
   * them. Chrome runs content scripts only in pages loaded after the install (Firefox puts
   * them into open tabs itself), and neither browser runs a newly registered white-label
   * host's in pages already open: a Zoho page open when a policy installs the extension, in
   * the middle of a working day, would otherwise stay unprotected until it is reloaded. The
   * isolated world goes first, so that it listens for guard-main.js's hello; each frame is
   * probed first, so no frame ever runs them twice. */
  async function protectOpenTabs(patterns) {
    if (!ext.scripting || !ext.scripting.executeScript || patterns.length === 0) return;
    let tabs;
    try {
      tabs = await ext.tabs.query({ url: patterns });
    } catch (err) {
      console.warn("pwguard: could not list the open tabs to protect:", err);
      return;
    }
    await Promise.all(tabs.map(async (tab) => {
      try {
        const probes = await ext.scripting.executeScript({
          target: { tabId: tab.id, allFrames: true }, injectImmediately: true,
          func: () => globalThis.__pwguardContentInstalled === true,
        });
        const frameIds = probes.filter((p) => p.result === false).map((p) => p.frameId);
        if (frameIds.length === 0) return;
        const target = { tabId: tab.id, frameIds };
        if (ISOLATED_FILES.length) {
          await ext.scripting.executeScript({ target, files: ISOLATED_FILES, injectImmediately: true });
        }
        if (MAIN_FILES.length) {
          await ext.scripting.executeScript({ target, files: MAIN_FILES, world: "MAIN", injectImmediately: true });
        }
      } catch (err) {
        console.warn("pwguard: could not protect a tab opened before the extension ran in it:", err);
      }
    }));
  }

  // ---- white-label hosts an administrator granted ----
  function isStaticPattern(pattern) {
    return STATIC_HOSTS.includes(pattern) ||
      STATIC_HOSTS.some((h) => {
        try {
          const a = E.parse_pattern(h);
          const b = E.parse_pattern(pattern);
          return a.host === b.host && a.scheme === b.scheme;
        } catch {
          return false;
        }
      });
  }

  // Registrations are serialized (a sync, a grant and a start may ask at once), and left alone
  // when unchanged: an unregister-then-register on every sync would leave a moment in which a
  // white-label page loads with no content script.
  let hostsChain = Promise.resolve();
  function registerExtraHosts(payload) {
    const run = hostsChain.then(() => updateExtraHosts(payload));
    hostsChain = run.catch(() => undefined);
    return run;
  }

  /** The hosts of the rules' sites outside the nine static hosts that the person or
   * administrator granted, as match patterns of whole hosts (see wholeHost). */
  async function grantedExtraSites(payload) {
    const wanted = new Set();
    for (const rule of (payload && payload.rules) || []) {
      for (const site of rule.sites || []) if (!isStaticPattern(site)) wanted.add(site);
    }
    const matches = new Set();
    const { origins = [] } = await ext.permissions.getAll();
    for (const site of wanted) {
      try {
        if (await ext.permissions.contains({ origins: [site] })) {
          matches.add(wholeHost(site));
          continue;
        }
      } catch {
        /* not a pattern this browser accepts as an origin */
      }
      // a site whose host has a wildcard ("https://*.portals.example.net/accounts/*"): the
      // hosts granted one by one on the options page that it takes in
      for (const origin of origins) {
        if (!isStaticPattern(origin) && coversHost(site, origin)) matches.add(origin);
      }
    }
    return [...matches].sort();
  }

  // whether the host of a rule's site ("https://*.example.net/accounts/*") takes in a granted
  // whole host ("https://acme.example.net/*", as the options page asks for them)
  function coversHost(site, origin) {
    const host = /^https:\/\/([a-z0-9.-]+)\/\*$/.exec(origin);
    if (!host) return false;
    try {
      const p = E.parse_pattern(site);
      return E.url_matches(`${p.scheme}://${p.host}/*`, `https://${host[1]}/`);
    } catch {
      return false;
    }
  }

  // "https://portal.example.com/accounts/*" -> "https://portal.example.com/*": content scripts
  // that run in blank and srcdoc frames (matchOriginAsFallback) must match whole hosts (a path
  // makes Chrome and Firefox refuse the registration), and content.js checks a page's URL
  // against the rules' sites itself
  function wholeHost(site) {
    const slash = site.indexOf("/", site.indexOf("://") + 3);
    return `${site.slice(0, slash)}/*`;
  }

  /** After a grant or a revocation: the toolbar badge says which Zoho hosts are out of reach;
   * the content scripts registered for the granted hosts the rules name, and put into their
   * pages already open, as into those of a Zoho host given back after it was withheld (no page
   * loaded meanwhile got the manifest's scripts); the registered patterns. */
  async function refreshExtraHosts() {
    const missing = await unreachableHosts();
    showReach(missing).catch((err) => console.error("pwguard: could not show where it may run:", err));
    const { matches: active } = await registerExtraHosts((await getState()).payload);
    const reachable = STATIC_HOSTS.filter((origin) => !missing.includes(origin));
    // (not forever: executeScript waits on a page that hangs, and a person may wait here)
    await Promise.race([protectOpenTabs([...reachable, ...active]),
      new Promise((done) => setTimeout(done, INJECT_WAIT_MS))]);
    return active;
  }

  /** The content scripts registered for the granted hosts the rules in `payload` name:
   * {matches: the registered patterns, added: those not registered before}. */
  async function updateExtraHosts(payload) {
    if (!ext.scripting || !ext.scripting.registerContentScripts) return { matches: [], added: [] };
    const matches = await grantedExtraSites(payload);
    const ids = ["pwguard-extra-main", "pwguard-extra"];
    try {
      const existing = await ext.scripting.getRegisteredContentScripts({ ids });
      const same = existing.length === ids.length && existing.every((x) =>
        JSON.stringify([...(x.matches || [])].sort()) === JSON.stringify(matches));
      if (same) return { matches, added: [] };
      if (matches.length === 0) {
        await ext.scripting.unregisterContentScripts({ ids: existing.map((x) => x.id) });
        return { matches, added: [] };
      }
      const common = { matches, runAt: "document_start", allFrames: true, matchOriginAsFallback: true };
      const scripts = [
        { id: ids[0], js: MAIN_FILES, world: "MAIN", ...common },
        { id: ids[1], js: ISOLATED_FILES, ...common },
      ];
      if (existing.length === ids.length) {
        await ext.scripting.updateContentScripts(scripts); // no moment without them
      } else {
        if (existing.length) await ext.scripting.unregisterContentScripts({ ids: existing.map((x) => x.id) });
        await ext.scripting.registerContentScripts(scripts);
      }
      const before = new Set(existing.flatMap((x) => x.matches || []));
      return { matches, added: matches.filter((m) => !before.has(m)) };
    } catch (err) {
      console.error("pwguard: could not register content scripts for extra hosts:", err);
      throw err;
    }
  }

  // ---- where pwguard may run ----
  /** The manifest's Zoho hosts the browser does not let pwguard reach now, where nothing of it
   * runs: a person withheld them (Chrome's site access "On click" or "On specific sites",
   * Firefox's permissions in about:addons). */
  async function unreachableHosts() {
    const granted = await Promise.all(STATIC_HOSTS.map((origin) =>
      ext.permissions.contains({ origins: [origin] }).catch(() => false)));
    return STATIC_HOSTS.filter((origin, i) => !granted[i]);
  }

  /** The toolbar icon says "!" while a Zoho host is out of reach (its title says which), the
   * one sign a person sees without opening the options page; the hosts out of reach. */
  async function showReach(missing = null) {
    missing ??= await unreachableHosts();
    if (ext.action) {
      const hosts = missing.map((origin) => new URL(origin.replace("/*", "/")).host).join(", ");
      const name = ext.i18n.getMessage("extName") || "pwguard";
      await Promise.all([
        ext.action.setBadgeText({ text: missing.length ? "!" : "" }),
        ext.action.setBadgeBackgroundColor({ color: "#c62828" }),
        ext.action.setTitle({ title: missing.length
          ? ext.i18n.getMessage("badgeUnreachable", [hosts]) || `${name}: not allowed on ${hosts}`
          : name }),
      ]);
    }
    return missing;
  }

  /** Whether pwguard runs in private windows (null: this browser does not say). */
  async function inPrivateWindows() {
    try {
      return await ext.extension.isAllowedIncognitoAccess();
    } catch {
      return null;
    }
  }

  // ---- status and the message router ----
  async function status() {
    const [s, state, unreachable, privateWindows] = await Promise.all([settings(), getState(),
      unreachableHosts(), inPrivateWindows()]);
    // the last error's sentences (a state stored by an older version has its English text only)
    const sentences = [unstored, ...(state.lastErrorSaid || [state.lastError && { en: state.lastError }])]
      .filter(Boolean);
    return {
      // the manifest's Zoho hosts pwguard may not run on; whether it runs in private windows
      unreachable, privateWindows,
      version: state.version, source: state.source, lastSync: state.lastSync,
      lastAttempt: state.lastAttempt,
      lastError: sentences.map((x) => x.en).join("; ") || null, lastErrorSaid: sentences,
      // where the rules in force came from: the server's URL, "" for the bundled rules
      from: state.source === "server" ? state.serverUrl || "" : "",
      serverUrl: s.serverUrl, publicKey: s.publicKey, pollMinutes: s.pollMinutes, managed: s.managed,
    };
  }

  function fromExtensionPage(sender) {
    return sender.id === ext.runtime.id && String(sender.url || "").startsWith(ext.runtime.getURL(""));
  }

  const handlers = {
    [M.GET_STATUS]: () => status(),
    [M.GET_RULES]: async () => (await getState()).payload,
    [M.SYNC_NOW]: async (msg, sender) => {
      if (!fromExtensionPage(sender)) throw new Error("sync-now is only for the options page");
      await sync();
      return status();
    },
    [M.REFRESH_HOSTS]: async (msg, sender) => {
      if (!fromExtensionPage(sender)) throw new Error("refresh-hosts is only for the options page");
      // after a grant on the options page: answer once the content scripts are in place
      return { active: await refreshExtraHosts() };
    },
    [M.SAVE_SETTINGS]: async (msg, sender) => {
      if (!fromExtensionPage(sender)) throw new Error("save-settings is only for the options page");
      const s = await settings();
      const next = { ...DEFAULTS };
      for (const key of Object.keys(DEFAULTS)) {
        if (msg.settings && key in msg.settings) next[key] = msg.settings[key];
      }
      next.serverUrl = String(next.serverUrl || "").trim();
      next.publicKey = splitKeys(next.publicKey).join("\n");
      next.pollMinutes = Number(next.pollMinutes);
      const problems = settingsProblems(next);
      // (saveErrors: the sentences, which the page shows in its language)
      if (problems.length) return { ...(await status()), saveErrors: problems };
      for (const key of s.managed) delete next[key]; // the administrator's values win anyway
      await ext.storage.local.set({ [M.STORE_SETTINGS]: next });
      await schedule();
      await sync();
      return status();
    },
  };

  ext.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    if (sender.id !== ext.runtime.id) return false;
    const handler = msg && handlers[msg.type];
    if (!handler) throw new Error(`pwguard: unknown message ${JSON.stringify(msg && msg.type)}`);
    Promise.resolve()
      .then(() => handler(msg, sender))
      .then(sendResponse, (err) => sendResponse({ error: String(err && err.message ? err.message : err) }));
    return true; // answer asynchronously
  });

  ext.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === M.ALARM) syncInBackground();
  });

  ext.storage.onChanged.addListener((changes, area) => {
    if (area === "managed") {
      schedule().catch((err) => console.error("pwguard: could not schedule the sync:", err)).then(syncInBackground);
    }
  });

  if (ext.permissions && ext.permissions.onAdded) {
    const refresh = () => refreshExtraHosts().catch(() => undefined); // (logged there)
    ext.permissions.onAdded.addListener(refresh);
    ext.permissions.onRemoved.addListener(refresh);
  }

  async function start() {
    await ensureState();
    await schedule();
    await sync();
  }
  ext.runtime.onInstalled.addListener((details) => {
    start();
    if (details.reason === "install") protectOpenTabs(STATIC_HOSTS);
  });
  ext.runtime.onStartup.addListener(() => start());
  // Every start of the background (a service worker woken for an alarm or a message, an
  // extension enabled again) makes sure the state and the alarm exist. An alarm that had to be
  // made means periodic syncs were missed (Firefox forgets an add-on's alarms while it is
  // disabled, and enabling it fires neither onStartup nor onInstalled): one runs now, so
  // settings or a policy changed meanwhile take effect at once, not a poll interval later.
  async function wake() {
    showReach().catch((err) => console.error("pwguard: could not show where it may run:", err));
    await ensureState().catch((err) => console.error("pwguard: could not store the bundled rules:", err));
    if (await schedule({ replace: false })) await sync();
  }
  wake().catch((err) => console.error("pwguard: could not schedule or run the sync:", err));
})();
