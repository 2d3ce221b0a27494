/**
 * The page events that make a tab look at its session: `visibilitychange`,
 * `focus` and a bfcache restore (`pageshow`) check it, debounced to one check
 * per VISIBILITY_DEBOUNCE_MS; `online` skips the back-off of a pending retry.
 * @module page-watch
 */
import { VISIBILITY_DEBOUNCE_MS } from "./constants.js";
import { getClock } from "./clock.js";
import { listen } from "./emitter.js";
import { createThrottle } from "./schedule.js";
import { ignoreHandled } from "./token-service.js";

/** @type {Set<() => void>} */
const watching = new Set();

/**
 * @param {Pick<import("./token-service.js").TokenService, "checkSession" | "retryNow">} service
 * @param {object} [options]
 * @param {EventTarget} [options.win]
 * @param {EventTarget & {visibilityState: string}} [options.doc]
 * @param {import("./clock.js").Clock} [options.clock]
 * @returns {() => void} stops watching
 */
export function watchPage(service, { win = globalThis.window, doc = globalThis.document, clock = getClock() } = {}) {
  const throttle = createThrottle(VISIBILITY_DEBOUNCE_MS, clock);
  const onVisible = () => {
    if (doc.visibilityState === "visible" && throttle()) service.checkSession().catch(ignoreHandled);
  };
  const undo = [
    listen(doc, "visibilitychange", onVisible),
    listen(win, "focus", onVisible),
    listen(win, "pageshow", onVisible),
    listen(win, "online", () => service.retryNow()),
  ];
  const stop = () => {
    watching.delete(stop);
    for (const off of undo) off();
  };
  watching.add(stop);
  return stop;
}

/** Reset hook: stop every watch. */
export function resetPageWatches() {
  for (const stop of [...watching]) stop();
}
