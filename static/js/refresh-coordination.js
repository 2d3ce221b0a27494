/**
 * One refresh across all tabs of the browser.
 *
 * A tab refreshes only while holding the cross-tab lock. Having taken it, the
 * tab first looks at what the others stored (localStorage) or broadcast: a
 * usable answer newer than the one it had is taken instead of calling the
 * server. When the lock says another tab held it just before (`waited`), that
 * tab's answer may still be on its way, so this tab waits for it for up to
 * LOCK_RESULT_WAIT_MS before calling the server itself. If the lock stays busy
 * (a hung holder), the tab goes ahead anyway: the server answers concurrent
 * refreshes inside its grace window alike.
 * @module refresh-coordination
 */
import { LOCK_ATTEMPTS, LOCK_RESULT_WAIT_MS, REFRESH_LOCK_NAME } from "./constants.js";
import { AuthState } from "./auth-state.js";
import { AuthClientError, CLIENT_CODES, signedOutError } from "./errors.js";

/** @typedef {import("./token-service.js").TokenService} TokenService */

/**
 * Renew through `path` (/auth/refresh or /auth/token) once across tabs.
 * @param {TokenService} service
 * @param {string} path
 * @param {string|null} replace a token that must not be the result
 * @returns {Promise<string|null>} the access token
 */
export async function renewUnderLock(service, path, replace) {
  const before = service.state.id;
  const holding = async ({ waited }) => {
    if (service.status === "signed-out") throw signedOutError();
    if (adoptNewer(service, before, replace)) return service.state.accessToken;
    if (waited && (await siblingResult(service, before, replace))) return service.state.accessToken;
    if (service.status === "signed-out") throw signedOutError();
    return service.call(path);
  };
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt += 1) {
    try {
      return await service.lock(REFRESH_LOCK_NAME, holding);
    } catch (error) {
      if (!(error instanceof AuthClientError) || error.code !== CLIENT_CODES.lockTimeout) throw error;
    }
  }
  return holding({ waited: true });
}

/**
 * Take a sibling's newer, usable answer: from storage, or already received by
 * broadcast while this tab waited.
 * @param {TokenService} service
 * @param {string|null} beforeId the answer this tab had when it decided to renew
 * @param {string|null} replace
 * @returns {boolean} whether this tab now holds such an answer
 */
export function adoptNewer(service, beforeId, replace) {
  const shared = service.sync.loadSnapshot();
  if (shared && shared.id !== beforeId && shared.accessToken !== replace && AuthState.usable(shared, service.clock)) {
    const previous = service.state.accessToken;
    if (service.state.adopt(shared)) service.taken(previous);
    return true;
  }
  const { state } = service;
  return state.id !== beforeId && state.accessToken !== replace && !state.isDue();
}

/**
 * Wait up to LOCK_RESULT_WAIT_MS for a sibling's usable answer to arrive.
 * @param {TokenService} service
 * @param {string|null} beforeId
 * @param {string|null} replace
 * @returns {Promise<boolean>} whether one was taken
 */
export function siblingResult(service, beforeId, replace) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (taken) => {
      if (settled) return;
      settled = true;
      service.clock.clearTimeout(timer);
      offSession();
      offSignedOut();
      resolve(taken);
    };
    const offSession = service.on("session", () => { if (adoptNewer(service, beforeId, replace)) finish(true); });
    const offSignedOut = service.on("signedout", () => finish(false));
    const timer = service.clock.setTimeout(() => finish(adoptNewer(service, beforeId, replace)), LOCK_RESULT_WAIT_MS);
  });
}

/** Reset hook (this module keeps no state). */
export function resetRefreshCoordination() {}
