// Message ids and storage keys shared by every part of the extension (one place, so a typo
// is a ReferenceError, not a silently ignored message). Classic script: attaches to globalThis.
(() => {
  "use strict";
  globalThis.pwguardMessages = Object.freeze({
    // runtime messages, all answered by the background's single router
    GET_STATUS: "pwguard/get-status", //       -> status object
    SAVE_SETTINGS: "pwguard/save-settings", // {settings} -> status object (after a sync)
    SYNC_NOW: "pwguard/sync-now", //           -> status object once the sync has finished
    GET_RULES: "pwguard/get-rules", //         -> {rules payload} (content script fallback)
    REFRESH_HOSTS: "pwguard/refresh-hosts", // -> {active: [patterns]} once the content scripts
    //                                            for granted white-label hosts are registered
    // storage.local keys, written only by the background
    STORE_STATE: "state", // {payload, signed, source, version, lastSync, lastAttempt, lastError,
    //                       lastErrorSaid, serverUrl}; signed: {payload, signature, key_id} of a
    //                       server's rules; lastErrorSaid: lastError's sentences, {key, subs, en}
    STORE_SETTINGS: "settings", // {serverUrl, publicKey, pollMinutes} from the options page
    STORE_POLICY: "policy", // the enterprise policy's keys as last read (in force while the
    //                         browser fails to read it)
    ALARM: "pwguard-sync",
  });
})();
