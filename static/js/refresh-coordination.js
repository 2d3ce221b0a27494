/**
 * One renewal at a time: in a tab ({@link Renewals}) and across all tabs of
 * the browser ({@link renewUnderLock}).
 *
 * A tab refreshes only while holding the cross-tab lock. Having taken it, the
 * tab first looks at what the others stored (localStorage) or broadcast: a
 * usable answer newer than the one it had is taken instead of calling the
 * server. When the lock says another tab held it just before (`waited`), that
 * tab's answer may still be on its way, so this tab waits for it for up to
 * LOCK_RESULT_WAIT_MS before calling the server itself. If the lock stays busy
 * (a hung holder), the tab goes ahead anyway: the server answers concurrent
 * refreshes inside its grace window alike.
 *
 * It works on a tab's public face only ({@link Tab}, which a TokenService is);
 * the call to the server is handed in.
 * @module refresh-coordination
 */
import { LOCK_ATTEMPTS, LOCK_RESULT_WAIT_MS, PATHS, REFRESH_LOCK_NAME } from "./constants.js";
import { AuthClientError, CLIENT_CODES, signedOutError } from "./errors.js";

/**
 * What the coordination needs of a tab's token service.
 * @typedef {object} Tab
 * @property {string} status "signed-out" once signed out
 * @property {string|null} answerId identifies the answer the tab holds
 * @property {string|null} accessToken
 * @property {(beforeId: string|null, replace: string|null) => boolean} takeNewer
 *   take a sibling's newer usable answer; true when the tab now holds one
 * @property {(type: "session" | "signedout", fn: (detail: any) => void) => () => void} on
 */

/**
 * One renewal at a time in a tab. A caller joins the one in flight when it
 * gives what the caller needs (the same call, or a refresh, which renews
 * everything); a refresh asked for while only a token is being minted follows it.
 */
export class Renewals {
  /** @type {{path: string, promise: Promise<string|null>}|null} */
  #inflight = null;
  #tab;
  #options;

  /**
   * @param {Tab} tab
   * @param {object} options
   * @param {(path: string) => Promise<string|null>} options.call asks the server and takes its answer
   * @param {typeof import("./lock.js").runWithLock} options.runWithLock
   * @param {import("./clock.js").Clock} options.clock
   */
  constructor(tab, options) {
    this.#tab = tab;
    this.#options = options;
  }

  /**
   * @param {string} path /auth/refresh or /auth/token
   * @param {string|null} replace a token that must not be the result
   * @returns {Promise<string|null>} the access token
   */
  renew(path, replace) {
    const current = this.#inflight;
    if (current && (current.path === path || current.path === PATHS.refresh)) return current.promise;
    const { call, runWithLock, clock } = this.#options;
    const run = () => renewUnderLock(this.#tab, { call: () => call(path), replace, runWithLock, clock });
    const entry = { path, promise: (current ? current.promise.then(run, run) : run()).finally(() => {
      if (this.#inflight === entry) this.#inflight = null;
    }) };
    this.#inflight = entry;
    return entry.promise;
  }
}

/**
 * Renew once across tabs: take a sibling's answer when there is one, else `call`.
 * @param {Tab} tab
 * @param {object} options
 * @param {() => Promise<string|null>} options.call asks the server and takes its answer
 * @param {string|null} [options.replace] a token that must not be the result
 * @param {typeof import("./lock.js").runWithLock} options.runWithLock
 * @param {import("./clock.js").Clock} options.clock
 * @returns {Promise<string|null>} the access token
 */
export async function renewUnderLock(tab, { call, replace = null, runWithLock, clock }) {
  const before = tab.answerId;
  const holding = async ({ waited }) => {
    if (tab.status === "signed-out") throw signedOutError();
    if (tab.takeNewer(before, replace)) return tab.accessToken;
    if (waited && (await siblingResult(tab, clock, before, replace))) return tab.accessToken;
    if (tab.status === "signed-out") throw signedOutError();
    return call();
  };
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt += 1) {
    try {
      return await runWithLock(REFRESH_LOCK_NAME, holding);
    } catch (error) {
      if (!(error instanceof AuthClientError) || error.code !== CLIENT_CODES.lockTimeout) throw error;
    }
  }
  return holding({ waited: true });
}

/**
 * Wait up to LOCK_RESULT_WAIT_MS for a sibling's usable answer to arrive.
 * @param {Tab} tab
 * @param {import("./clock.js").Clock} clock
 * @param {string|null} beforeId
 * @param {string|null} replace
 * @returns {Promise<boolean>} whether one was taken
 */
export function siblingResult(tab, clock, beforeId, replace) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (taken) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      offSession();
      offSignedOut();
      resolve(taken);
    };
    const offSession = tab.on("session", () => { if (tab.takeNewer(beforeId, replace)) finish(true); });
    const offSignedOut = tab.on("signedout", () => finish(false));
    const timer = clock.setTimeout(() => finish(tab.takeNewer(beforeId, replace)), LOCK_RESULT_WAIT_MS);
  });
}
