/**
 * Heartbeat with suspension detection.
 *
 * Every interval the tab beats (the caller posts /auth/activity). If the time
 * since the previous beat is over SUSPENSION_MULTIPLIER intervals, the tab's
 * timers were paused (sleep, background freezing, throttling), so `onSuspend`
 * runs first: the caller checks the session at once. The gap is the larger of
 * monotonic and wall elapsed time ({@link elapsedSince}), because a monotonic
 * clock may stall while the device sleeps.
 * @module heartbeat
 */
import { HEARTBEAT_INTERVAL_MS, SUSPENSION_MULTIPLIER } from "./constants.js";
import { elapsedSince, getClock, markNow } from "./clock.js";

/**
 * @typedef {object} Heartbeat
 * @property {() => void} start
 * @property {() => void} stop
 * @property {() => void} tick run one beat now (also used by the timer)
 * @property {() => boolean} running
 */

/** @type {Set<Heartbeat>} */
const instances = new Set();

/**
 * Whether a gap between beats means the tab was suspended.
 * @param {number} gapMs
 * @param {number} intervalMs
 * @param {number} [multiplier]
 */
export function isSuspension(gapMs, intervalMs, multiplier = SUSPENSION_MULTIPLIER) {
  return gapMs > intervalMs * multiplier;
}

/**
 * @param {object} options
 * @param {(info: {gapMs: number}) => unknown} options.onBeat
 * @param {(info: {gapMs: number}) => unknown} options.onSuspend
 * @param {number} [options.intervalMs]
 * @param {number} [options.multiplier]
 * @param {import("./clock.js").Clock} [options.clock]
 * @param {(error: unknown) => void} [options.onError] where failures of async callbacks go
 * @returns {Heartbeat}
 */
export function createHeartbeat({
  onBeat,
  onSuspend,
  intervalMs = HEARTBEAT_INTERVAL_MS,
  multiplier = SUSPENSION_MULTIPLIER,
  clock = getClock(),
  onError = (error) => console.error("heartbeat", error),
}) {
  let timer = null;
  let last = markNow(clock);
  let active = false;

  const call = (fn, info) => {
    const result = fn(info);
    if (result && typeof (/** @type {any} */ (result).then) === "function") {
      /** @type {Promise<unknown>} */ (result).catch(onError);
    }
  };
  const schedule = () => {
    clock.clearTimeout(timer);
    timer = clock.setTimeout(() => heartbeat.tick(), intervalMs);
  };

  const heartbeat = {
    start() {
      if (active) return;
      active = true;
      instances.add(heartbeat);
      last = markNow(clock);
      schedule();
    },
    stop() {
      active = false;
      instances.delete(heartbeat);
      clock.clearTimeout(timer);
      timer = null;
    },
    tick() {
      const gapMs = elapsedSince(last, clock);
      last = markNow(clock);
      if (active) schedule();
      if (isSuspension(gapMs, intervalMs, multiplier)) call(onSuspend, { gapMs });
      call(onBeat, { gapMs });
    },
    running: () => active,
  };
  return heartbeat;
}

/** Reset hook: stop every running heartbeat. */
export function resetHeartbeats() {
  for (const heartbeat of [...instances]) heartbeat.stop();
}
