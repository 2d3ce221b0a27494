/**
 * Pure timing decisions: when a credential is due for refresh, how long to back
 * off after a failure, how much of a lifetime shared by another tab is left.
 * Inputs are lifetimes the server stated (`*_expires_in`), counted from when the
 * answer arrived; nothing here reads a clock.
 * @module schedule
 */
import {
  CLOCK_SKEW_TOLERANCE_MS,
  MAX_TIMER_DELAY_MS,
  MIN_REFRESH_INTERVAL_MS,
  REFRESH_MARGIN_FRACTION,
  REFRESH_MARGIN_MAX_FRACTION,
  REFRESH_MARGIN_MS,
  RETRY_AFTER_MAX_MS,
  RETRY_BACKOFF_MS,
  RETRY_JITTER,
} from "./constants.js";

/**
 * How long before expiry a credential of this lifetime is refreshed: 5 minutes or
 * 10% of its lifetime, whichever is larger, capped at half the lifetime so a short
 * lifetime does not make every token due at once.
 * @param {number} lifetimeMs
 */
export function refreshMarginMs(lifetimeMs) {
  const life = Math.max(0, lifetimeMs);
  return Math.min(Math.max(REFRESH_MARGIN_MS, life * REFRESH_MARGIN_FRACTION), life * REFRESH_MARGIN_MAX_FRACTION);
}

/**
 * @param {number} remainingMs
 * @param {number} lifetimeMs
 */
export function isDue(remainingMs, lifetimeMs) {
  return remainingMs <= refreshMarginMs(lifetimeMs);
}

/**
 * @typedef {object} Lifetime
 * @property {number} remainingMs what is left now
 * @property {number} lifetimeMs what it was when issued
 */

/**
 * Delay until the next refresh.
 * @param {object} input
 * @param {Lifetime[]} input.credentials every credential a refresh renews (access token, session cookie)
 * @param {number|null} [input.absoluteRemainingMs] time left before the session's absolute end
 * @param {number|null} [input.sinceLastRefreshMs] time since this browser last refreshed
 * @returns {{delayMs: number, action: "refresh" | "check"}} "check" when no refresh can
 *   extend the session any more: ask the server once the session has ended.
 */
export function planRefresh({ credentials, absoluteRemainingMs = null, sinceLastRefreshMs = null }) {
  let delay = Infinity;
  let longest = 0;
  for (const { remainingMs, lifetimeMs } of credentials) {
    delay = Math.min(delay, remainingMs - refreshMarginMs(lifetimeMs));
    longest = Math.max(longest, remainingMs);
  }
  if (absoluteRemainingMs != null && absoluteRemainingMs <= longest + MIN_REFRESH_INTERVAL_MS) {
    // Not before MIN_REFRESH_INTERVAL_MS, so a server that disagrees is not asked in a loop.
    return { delayMs: clampDelay(Math.max(absoluteRemainingMs, MIN_REFRESH_INTERVAL_MS)), action: "check" };
  }
  if (sinceLastRefreshMs != null) delay = Math.max(delay, MIN_REFRESH_INTERVAL_MS - sinceLastRefreshMs);
  return { delayMs: clampDelay(delay), action: "refresh" };
}

/** @param {number} ms */
function clampDelay(ms) {
  if (!Number.isFinite(ms)) return MAX_TIMER_DELAY_MS;
  return Math.min(Math.max(0, Math.round(ms)), MAX_TIMER_DELAY_MS);
}

/**
 * Back-off before retry number `attempt` (0-based): the step for it (the last
 * step repeats), or the server's Retry-After (up to `retryAfterMaxMs`) when that
 * is longer, spread by +/- `jitter` so tabs do not retry in step, but never
 * sooner than the Retry-After.
 * @param {number} attempt
 * @param {object} [options]
 * @param {number|null} [options.retryAfterMs]
 * @param {() => number} [options.random] uniform in [0, 1)
 * @param {readonly number[]} [options.steps]
 * @param {number} [options.jitter]
 * @param {number} [options.retryAfterMaxMs]
 */
export function backoffMs(attempt, {
  retryAfterMs = null, random = Math.random, steps = RETRY_BACKOFF_MS, jitter = RETRY_JITTER, retryAfterMaxMs = RETRY_AFTER_MAX_MS,
} = {}) {
  const step = steps[Math.min(Math.max(0, attempt), steps.length - 1)];
  const floor = retryAfterMs == null ? 0 : Math.min(Math.max(0, retryAfterMs), retryAfterMaxMs);
  const base = Math.max(step, floor);
  const spread = base * jitter * (2 * random() - 1);
  return Math.max(Math.round(base + spread), floor);
}

/**
 * What is left of a lifetime another tab stored, judged by the wall clock only
 * (the one clock tabs share). A wall clock that moved backwards since the value
 * was stored makes the age unknowable, so the lifetime counts as used up.
 * @param {number} expiresInMs lifetime when it was stored
 * @param {number} storedAtWall the storing tab's `Date.now()`
 * @param {number} wallNow this tab's `Date.now()`
 */
export function remainingFromShared(expiresInMs, storedAtWall, wallNow) {
  const age = wallNow - storedAtWall;
  if (age < -CLOCK_SKEW_TOLERANCE_MS) return 0;
  return Math.max(0, expiresInMs - Math.max(0, age));
}

/**
 * Leading-edge throttle: the first call passes, calls within `windowMs` after it do not.
 * @param {number} windowMs
 * @param {{now: () => number}} clock
 * @returns {() => boolean} true when the caller should act
 */
export function createThrottle(windowMs, clock) {
  let last = -Infinity;
  return () => {
    const now = clock.now();
    if (now - last < windowMs) return false;
    last = now;
    return true;
  };
}
