/**
 * Errors in plain words for players; the code goes in small print beside them.
 * @module messages
 */

/** @type {Readonly<Record<string, string>>} code -> what it means for the player */
const PLAIN = Object.freeze({
  network_error: "We couldn't reach Guildhall. Check your connection; we'll keep trying.",
  timeout: "Guildhall took too long to answer. Please try again.",
  store_unavailable: "Guildhall is having a hiccup on our side. Please try again in a moment.",
  server_error: "Guildhall is having a hiccup on our side. Please try again in a moment.",
  rate_limited: "That was a lot of tries in a short time. Please wait a moment, then try again.",
  csrf_failed: "This page is out of date. Reload it and try again.",
  not_found: "That device is already signed out.",
});

/**
 * @param {{code: string}} error
 * @param {string} doing what failed, as "sign out" / "sign that device out"
 * @returns {{text: string, code: string}}
 */
export function plainError(error, doing) {
  return { text: `Couldn't ${doing}. ${PLAIN[error.code] ?? "Please try again."}`, code: error.code };
}

/** What the outage banner says while the server cannot be reached. */
export const OUTAGE_TEXT = "Guildhall can't be reached right now. You're still signed in; we'll reconnect as soon as it's back.";

/**
 * Show `text` in `el`, with `code` in small print after it (or clear it).
 * @param {Document} doc
 * @param {HTMLElement|null} el
 * @param {string} text
 * @param {string} [code]
 */
export function showMessage(doc, el, text, code = "") {
  if (!el) return;
  if (!text) {
    el.replaceChildren?.();
    el.textContent = "";
    return;
  }
  const words = doc.createElement("span");
  words.textContent = text;
  const parts = [words];
  if (code) {
    const small = doc.createElement("small");
    small.className = "error-code";
    small.textContent = ` (${code})`;
    parts.push(small);
  }
  if (el.replaceChildren) el.replaceChildren(...parts);
  else el.textContent = code ? `${text} (${code})` : text;
}
