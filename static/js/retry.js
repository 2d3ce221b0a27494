/**
 * The retry after a transient failure (network error, timeout, 429, 5xx): one
 * pending retry at a time, after a back-off that grows with each failure in a
 * row up to the last step of RETRY_BACKOFF_MS (the cap), spread by RETRY_JITTER
 * so tabs do not retry in step, and never sooner than the server's Retry-After
 * ({@link backoffMs}). It never gives up: only an answer ends it ({@link Retry#reset}).
 * @module retry
 */
import { getClock } from "./clock.js";
import { backoffMs } from "./schedule.js";

/** @type {Set<Retry>} */
const instances = new Set();

export class Retry {
  #run;
  #clock;
  #random;
  #attempt = 0;
  #timer = null;

  /**
   * @param {object} options
   * @param {() => unknown} options.run what to do when the back-off has passed
   * @param {import("./clock.js").Clock} [options.clock]
   * @param {() => number} [options.random] uniform in [0, 1) (jitter)
   */
  constructor({ run, clock = getClock(), random = Math.random }) {
    this.#run = run;
    this.#clock = clock;
    this.#random = random;
    instances.add(this);
  }

  /** Failures in a row since the last success. */
  get attempt() { return this.#attempt; }

  /** Whether a retry is waiting for its back-off. */
  get pending() { return this.#timer !== null; }

  /**
   * A failure: run again after the back-off for it (replacing a pending retry).
   * @param {{retryAfterMs?: number|null}} [error] the failure, for its Retry-After
   * @returns {number} the delay chosen
   */
  after(error) {
    const delay = backoffMs(this.#attempt, { retryAfterMs: error?.retryAfterMs ?? null, random: this.#random });
    this.#attempt += 1;
    this.#cancel();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#run();
    }, delay);
    return delay;
  }

  /**
   * Skip the rest of the back-off (the network is back).
   * @returns {boolean} whether a retry was pending (and has now run)
   */
  now() {
    if (this.#timer === null) return false;
    this.#cancel();
    this.#run();
    return true;
  }

  /** A success: forget the failures and any pending retry. */
  reset() {
    this.#attempt = 0;
    this.#cancel();
  }

  /** Stop without forgetting the failures (the page stops its timers). */
  stop() {
    this.#cancel();
  }

  dispose() {
    this.#cancel();
    instances.delete(this);
  }

  #cancel() {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Reset hook: cancel every pending retry. */
export function resetRetries() {
  for (const retry of [...instances]) retry.dispose();
}
