/**
 * Injectable clocks. Every module takes time from a {@link Clock} so that unit
 * tests and Playwright's clock (which fakes `performance`, `Date` and timers in
 * pages, but not inside a SharedWorker) can drive it.
 *
 * - `now()` is monotonic (performance.now) and can stall while the device
 *   sleeps; `wallNow()` (Date.now) keeps counting across sleep but can jump.
 *   Elapsed time is therefore taken as the larger of the two, never negative
 *   (see {@link elapsedSince}): a sleeping laptop ages its tokens, and a clock
 *   set backwards never makes one look younger.
 * - Server lifetimes are counted from when an answer arrived; the device clock
 *   is never compared with a token's `exp`.
 * @module clock
 */
import { WORKER_CLOCK_REBASE_MS } from "./constants.js";

/**
 * @typedef {object} Clock
 * @property {() => number} now monotonic milliseconds
 * @property {() => number} wallNow epoch milliseconds (device clock)
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 */

/** @typedef {{mono: number, wall: number}} TimeMark */

/** The platform clock, looked up at call time so fakes installed later are honoured. */
export const systemClock = Object.freeze({
  now: () => globalThis.performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
});

let current = /** @type {Clock} */ (systemClock);

/** @returns {Clock} the clock modules use when none is passed in. */
export function getClock() {
  return current;
}

/** @param {Clock} clock replaces the default clock (tests). */
export function setClock(clock) {
  current = clock;
}

/** Reset hook: back to the platform clock. */
export function resetClock() {
  current = systemClock;
}

/**
 * @param {Clock} [clock]
 * @returns {TimeMark}
 */
export function markNow(clock = current) {
  return { mono: clock.now(), wall: clock.wallNow() };
}

/**
 * Milliseconds since `mark`: the larger of monotonic and wall elapsed time, at least 0.
 * @param {TimeMark} mark
 * @param {Clock} [clock]
 */
export function elapsedSince(mark, clock = current) {
  return Math.max(0, clock.now() - mark.mono, clock.wallNow() - mark.wall);
}

/**
 * A clock that only moves when told to: for unit tests, and (fed by pages) for
 * the shared worker.
 * @param {{now?: number, wall?: number}} [start]
 */
export function createManualClock(start = {}) {
  let mono = start.now ?? 0;
  let wallOffset = (start.wall ?? 1_700_000_000_000) - mono;
  let nextId = 1;
  /** @type {Map<number, {due: number, fn: () => void}>} */
  const timers = new Map();

  const nextDue = (limit) => {
    let best = null;
    for (const [id, t] of timers) {
      if (t.due <= limit && (!best || t.due < best.t.due || (t.due === best.t.due && id < best.id))) {
        best = { id, t };
      }
    }
    return best;
  };

  const clock = {
    now: () => mono,
    wallNow: () => mono + wallOffset,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { due: mono + Math.max(0, Number(ms) || 0), fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    /** Number of pending timers. */
    pending: () => timers.size,
    /** Move time forward by `ms`, firing due timers in order. */
    advance(ms) {
      const target = mono + ms;
      for (let next = nextDue(target); next; next = nextDue(target)) {
        timers.delete(next.id);
        mono = Math.max(mono, next.t.due);
        next.t.fn();
      }
      mono = target;
    },
    /**
     * Jump forward by `ms` and fire every timer due by then once, as Playwright's
     * `fast_forward` does: timers scheduled while firing count from the new time,
     * so a long jump cannot chain a whole timeout sequence inside itself.
     */
    fastForward(ms) {
      mono += Math.max(0, ms);
      for (let next = nextDue(mono); next; next = nextDue(mono)) {
        timers.delete(next.id);
        next.t.fn();
      }
    },
    /**
     * Like advance, but lets promise chains (and other macrotasks, via `flush`) run
     * after each timer, so async code can schedule follow-up timers in range.
     * @param {number} ms
     * @param {() => Promise<void>} [flush]
     */
    async advanceAsync(ms, flush = microtasks) {
      const target = mono + ms;
      await flush();
      for (;;) {
        const next = nextDue(target);
        if (!next) break;
        timers.delete(next.id);
        mono = Math.max(mono, next.t.due);
        next.t.fn();
        await flush();
      }
      mono = target;
      await flush();
    },
    /**
     * Move time without firing timers, as a suspended device does. `wall: false`
     * models a monotonic clock that kept counting while the wall clock did not,
     * `mono: false` a monotonic clock that stalled during sleep.
     */
    jump(ms, { mono: moveMono = true, wall: moveWall = true } = {}) {
      if (moveMono) mono += ms;
      if (moveWall && !moveMono) wallOffset += ms;
      if (!moveWall && moveMono) wallOffset -= ms;
    },
    /** Set the wall clock (a user changing the device time). */
    setWall(wall) {
      wallOffset = wall - mono;
    },
  };
  return clock;
}

async function microtasks() {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

/**
 * The shared worker's clock: it advances only when a page reports its time, so
 * time-dependent decisions in the worker follow the pages' (possibly faked)
 * clocks. Reports slightly behind the latest one (a sibling tab's message in
 * flight) are ignored; a report far behind is a device clock change and rebases.
 */
export function createDrivenClock() {
  const clock = createManualClock({ now: 0 });
  /** @type {number|null} */
  let last = null;
  return Object.assign(clock, {
    /** @param {number} pageWallNow a page's `Date.now()` */
    feed(pageWallNow) {
      if (typeof pageWallNow !== "number" || !Number.isFinite(pageWallNow)) return;
      if (last === null) {
        last = pageWallNow;
        clock.setWall(pageWallNow);
        return;
      }
      if (pageWallNow > last) {
        const step = pageWallNow - last;
        last = pageWallNow;
        clock.fastForward(step);
      } else if (last - pageWallNow > WORKER_CLOCK_REBASE_MS) {
        last = pageWallNow;
        clock.setWall(pageWallNow);
      }
    },
  });
}
