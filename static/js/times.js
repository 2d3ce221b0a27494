/**
 * `<time data-relative datetime="ISO">` elements read as "3 minutes ago" in the
 * viewer's language, with the full local date and time (the viewer's time zone)
 * as their tooltip. The server renders a UTC fallback for pages without script.
 * @module times
 */

const UNITS = /** @type {const} */ ([
  ["year", 365 * 86_400_000], ["month", 30 * 86_400_000], ["week", 7 * 86_400_000],
  ["day", 86_400_000], ["hour", 3_600_000], ["minute", 60_000],
]);

/**
 * @param {number} thenMs
 * @param {number} nowMs
 * @param {string} [locale]
 * @returns {string} "just now", "5 minutes ago", "yesterday"...
 */
export function relativeTime(thenMs, nowMs, locale = undefined) {
  const diff = thenMs - nowMs;
  if (Math.abs(diff) < 60_000) return "just now";
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms) return format.format(Math.round(diff / ms), unit);
  }
  return "just now";
}

/**
 * Rewrite every relative time under `root` now.
 * @param {ParentNode} root
 * @param {number} nowMs
 */
export function renderTimes(root, nowMs) {
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const el of root.querySelectorAll("time[data-relative]")) {
    const then = Date.parse(el.getAttribute("datetime") ?? "");
    if (Number.isNaN(then)) continue;
    el.textContent = relativeTime(then, nowMs);
    el.setAttribute("title", full.format(then));
  }
}
