/**
 * `runWithLock(name, fn)`: one holder at a time across every tab of the origin.
 *
 * The Web Locks API is used where the browser has it (a closed tab releases its
 * locks at once). Elsewhere a localStorage claim plus a BroadcastChannel release
 * message stands in: a tab that is closed releases its claims on `pagehide`, and
 * a claim older than the TTL is abandoned (its tab crashed), so a dead holder
 * blocks the others for at most LOCK_TTL_MS. The choice is made by feature
 * detection on first use; {@link resetLocks} forgets it (tests).
 *
 * A waiter gives up after LOCK_WAIT_MS with an `lock_timeout` AuthClientError;
 * a holder keeps the lock for at most LOCK_TTL_MS even if `fn` hangs. `fn`
 * learns whether it had to wait (`{waited}`): if so, another tab held the lock
 * just before, and its result may still be on its way.
 * @module lock
 */
import { CHANNEL_NAME, CLOCK_SKEW_TOLERANCE_MS, LOCK_CONFIRM_MS, LOCK_POLL_MS, LOCK_RESULT_WAIT_MS, LOCK_TTL_MS, LOCK_WAIT_MS, STORAGE_PREFIX } from "./constants.js";
import { getClock } from "./clock.js";
import { openChannel } from "./channel.js";
import { AuthClientError, CLIENT_CODES } from "./errors.js";
import { randomId } from "./ids.js";

/**
 * @typedef {object} LockOptions
 * @property {number} [waitMs]
 * @property {number} [ttlMs]
 */
/**
 * @typedef {object} Lock
 * @property {"web-locks" | "fallback"} kind
 * @property {<T>(name: string, fn: (info: {waited: boolean}) => Promise<T> | T, options?: LockOptions) => Promise<T>} runWithLock
 * @property {() => void} dispose
 */

/** @param {string} name */
function lockTimeout(name) {
  return new AuthClientError(CLIENT_CODES.lockTimeout, { detail: `Timed out waiting for lock ${name}.` });
}


/**
 * Resolve after `ms`, or earlier through the returned `cancel`.
 * @param {import("./clock.js").Clock} clock
 * @param {number} ms
 */
function timer(clock, ms) {
  let id;
  let done;
  const promise = new Promise((resolve) => {
    done = resolve;
    id = clock.setTimeout(resolve, ms);
  });
  return { promise, cancel: () => { clock.clearTimeout(id); done(); } };
}

/**
 * Web Locks grant the lock across processes at once, but the previous holder's
 * localStorage write and broadcast reach this tab a little later. So a holder
 * whose `fn` succeeded takes a short-lived shared lock `<name>:done:<id>` before
 * letting go, and the next holder counts as `waited` while one (not its own) is
 * held: it then knows a result is on its way, even though the lock was free.
 * @param {object} options
 * @param {LockManager} options.locks `navigator.locks`
 * @param {import("./clock.js").Clock} [options.clock]
 * @param {number} [options.doneMs] how long a finished holder's mark stays
 * @returns {Lock}
 */
export function createWebLock({ locks, clock = getClock(), doneMs = LOCK_RESULT_WAIT_MS }) {
  /** @type {Set<string>} this tab's own marks */
  const mine = new Set();

  const recentlyDone = async (name) => {
    if (typeof locks.query !== "function") return false;
    const { held = [] } = await locks.query();
    return held.some((lock) => lock.name?.startsWith(`${name}:done:`) && !mine.has(lock.name));
  };

  const markDone = (name) => new Promise((granted) => {
    const mark = `${name}:done:${randomId()}`;
    mine.add(mark);
    locks.request(mark, { mode: "shared" }, () => {
      granted();
      return timer(clock, doneMs).promise;
    }).finally(() => mine.delete(mark));
  });

  return {
    kind: "web-locks",
    async runWithLock(name, fn, { waitMs = LOCK_WAIT_MS, ttlMs = LOCK_TTL_MS } = {}) {
      /** @type {Promise<{value?: any, error?: unknown, failed: boolean}>|undefined} */
      let outcome;
      // Hold the lock while fn runs, but never past the TTL.
      const hold = async (waited) => {
        outcome = Promise.resolve({ waited })
          .then(fn)
          .then((value) => ({ value, failed: false }), (error) => ({ error, failed: true }));
        const ttl = timer(clock, ttlMs);
        const settled = await Promise.race([outcome, ttl.promise]);
        ttl.cancel();
        if (settled && !settled.failed) await markDone(name);
      };
      await locks.request(name, { mode: "exclusive", ifAvailable: true }, async (lock) => {
        if (lock) await hold(await recentlyDone(name));
      });
      if (!outcome) {
        const controller = new AbortController();
        let granted = false;
        const wait = clock.setTimeout(() => { if (!granted) controller.abort(); }, waitMs);
        try {
          await locks.request(name, { mode: "exclusive", signal: controller.signal }, async () => {
            granted = true;
            clock.clearTimeout(wait);
            await hold(true);
          });
        } catch (error) {
          if (!granted && /** @type {any} */ (error)?.name === "AbortError") throw lockTimeout(name);
          throw error;
        } finally {
          clock.clearTimeout(wait);
        }
      }
      const result = await /** @type {NonNullable<typeof outcome>} */ (outcome);
      if (result.failed) throw result.error;
      return result.value;
    },
    dispose() {},
  };
}

/**
 * @param {object} [options]
 * @param {Storage} [options.storage]
 * @param {import("./channel.js").Channel} [options.channel]
 * @param {import("./clock.js").Clock} [options.clock]
 * @param {string} [options.owner] identifies this tab in claims
 * @param {EventTarget} [options.events] where `pagehide` arrives (window)
 * @returns {Lock}
 */
export function createFallbackLock({
  storage = globalThis.localStorage,
  channel: givenChannel,
  clock = getClock(),
  owner = randomId(),
  events = globalThis.window,
} = {}) {
  const channel = givenChannel ?? openChannel(`${CHANNEL_NAME}:lock`);
  /** @type {Set<() => void>} */
  const sleepers = new Set();
  const wakeAll = () => { for (const wake of [...sleepers]) wake(); };
  const unsubscribe = channel.subscribe((message) => {
    if (message && message.type === "lock_released") wakeAll();
  });
  /** Claims this tab holds now, by lock name. @type {Map<string, {nonce: string}>} */
  const mine = new Map();
  // A closing tab's refresh dies with it, and the server's grace window for a
  // rotation it may have made (REFRESH_GRACE, as long as the TTL) is running: let
  // the next tab in now rather than after the TTL. A crashed tab cannot do this.
  const onPageHide = () => { for (const [name, claim] of [...mine]) release(name, claim); };
  events?.addEventListener?.("pagehide", onPageHide);

  const keyOf = (/** @type {string} */ name) => `${STORAGE_PREFIX}lock:${name}`;
  const read = (/** @type {string} */ key) => {
    const raw = storage.getItem(key);
    if (!raw) return null;
    try {
      const claim = JSON.parse(raw);
      return claim && typeof claim.nonce === "string" && typeof claim.expiresAt === "number" ? claim : null;
    } catch (error) {
      if (error instanceof SyntaxError) return null;
      throw error;
    }
  };
  // Abandoned: past its TTL, or claiming more than a TTL ahead (the wall clock moved back). Tabs
  // read the wall clock in different processes, a few milliseconds apart: a claim written a
  // moment ago by a tab whose clock runs slightly ahead is live, not from a clock set back.
  const stale = (claim, wall, ttlMs) => wall >= claim.expiresAt || claim.expiresAt - wall > ttlMs + CLOCK_SKEW_TOLERANCE_MS;

  const sleep = (ms) => {
    const t = timer(clock, ms);
    sleepers.add(t.cancel);
    return t.promise.then(() => sleepers.delete(t.cancel));
  };

  async function acquire(name, waitMs, ttlMs) {
    const key = keyOf(name);
    const deadline = clock.now() + waitMs;
    // `waited`: a live holder released the lock to us (its result may follow). Taking
    // over an abandoned claim is not waiting: nothing will follow from a dead tab.
    let sawHolder = false;
    for (;;) {
      const held = read(key);
      const wall = clock.wallNow();
      const abandoned = held !== null && stale(held, wall, ttlMs);
      if (!held || abandoned) {
        const claim = { owner, nonce: randomId(), expiresAt: wall + ttlMs };
        storage.setItem(key, JSON.stringify(claim));
        // localStorage has no compare-and-set: write, let racing writers land, read back.
        const confirm = timer(clock, LOCK_CONFIRM_MS);
        await confirm.promise;
        if (read(key)?.nonce === claim.nonce) return { claim, waited: sawHolder && !abandoned };
      } else {
        sawHolder = true;
      }
      const left = deadline - clock.now();
      if (left <= 0) throw lockTimeout(name);
      await sleep(Math.min(LOCK_POLL_MS, left));
    }
  }

  function release(name, claim) {
    if (mine.get(name) === claim) mine.delete(name);
    const key = keyOf(name);
    if (read(key)?.nonce === claim.nonce) storage.removeItem(key);
    channel.postMessage({ type: "lock_released", name });
    wakeAll();
  }

  return {
    kind: "fallback",
    async runWithLock(name, fn, { waitMs = LOCK_WAIT_MS, ttlMs = LOCK_TTL_MS } = {}) {
      const { claim, waited } = await acquire(name, waitMs, ttlMs);
      mine.set(name, claim);
      try {
        return await fn({ waited });
      } finally {
        release(name, claim);
      }
    },
    dispose() {
      unsubscribe();
      events?.removeEventListener?.("pagehide", onPageHide);
      if (!givenChannel) channel.close();
      wakeAll();
    },
  };
}

/** @type {Lock|null} */
let defaultLock = null;

/**
 * The lock for this environment, chosen once by feature detection.
 * @returns {Lock}
 */
export function getLock() {
  if (!defaultLock) {
    const locks = globalThis.navigator?.locks;
    defaultLock = locks && typeof locks.request === "function" ? createWebLock({ locks }) : createFallbackLock();
  }
  return defaultLock;
}

/**
 * Run `fn` while holding the cross-tab lock `name`.
 * @template T
 * @param {string} name
 * @param {(info: {waited: boolean}) => Promise<T> | T} fn
 * @param {LockOptions} [options]
 * @returns {Promise<T>}
 */
export function runWithLock(name, fn, options) {
  return getLock().runWithLock(name, fn, options);
}

/** @param {Lock} lock use this lock instead of detecting one (tests). */
export function setLock(lock) {
  defaultLock = lock;
}

/** Reset hook: forget the detected lock (and stop its listeners). */
export function resetLocks() {
  defaultLock?.dispose();
  defaultLock = null;
}
