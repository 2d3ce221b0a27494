/**
 * User-initiated session actions built on the token service's public methods:
 * logout (this session or all) and the activity heartbeat POST.
 * @module session-actions
 */
import { ACTIVITY_LOCK_NAME, ACTIVITY_SHARE_FRACTION, HEARTBEAT_INTERVAL_MS, PATHS } from "./constants.js";
import { getClock } from "./clock.js";
import { AuthClientError } from "./errors.js";
import { runWithLock } from "./lock.js";
import { ignoreHandled } from "./token-service.js";

/** @typedef {import("./token-service.js").TokenService} TokenService */

/**
 * Log out on the server, then in every tab. A 401 may mean only the session
 * cookie lapsed while the refresh cookie lives (the server would still sign the
 * browser back in), so the session is renewed through /auth/validate and the
 * logout tried once more. Network failures reject: the user is told, and is
 * not shown as signed out while the server still holds the session.
 * @param {TokenService} service
 * @param {{everywhere?: boolean}} [options]
 */
export async function logout(service, { everywhere = false } = {}) {
  const path = everywhere ? PATHS.logoutAll : PATHS.logout;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await service.post(path);
      break;
    } catch (error) {
      if (!(error instanceof AuthClientError) || error.status !== 401) throw error;
      try {
        await service.post(PATHS.validate);
      } catch (check) {
        if (!(check instanceof AuthClientError) || check.status !== 401) throw check;
        break; // nothing left to log out of
      }
    }
  }
  service.signOut(everywhere ? "logout_all" : "logout");
}

/**
 * One heartbeat's activity POST: at most one per interval per browser. Tabs
 * beat at the same moment (throttled background timers fire on the minute), so
 * the POST runs under a cross-tab lock: a tab that had to wait for it skips (a
 * sibling just posted), and one that gets it skips when a sibling posted within
 * `ACTIVITY_SHARE_FRACTION` of an interval (the time is shared in storage).
 * Also skipped while a refresh is due (the refresh comes first). A 401 is
 * re-checked, never taken as a sign-out.
 * @param {TokenService} service
 * @param {object} deps
 * @param {ReturnType<typeof import("./sync.js").createSync>} deps.sync where the last activity time is shared
 * @param {typeof runWithLock} [deps.runWithLock]
 * @param {import("./clock.js").Clock} [deps.clock]
 * @param {number} [deps.intervalMs]
 * @returns {Promise<boolean>} whether a POST succeeded
 */
export async function postActivity(service, { sync, runWithLock: lock = runWithLock, clock = getClock(), intervalMs = HEARTBEAT_INTERVAL_MS }) {
  if (service.status !== "signed-in" || service.isDue()) return false;
  try {
    return await lock(ACTIVITY_LOCK_NAME, async ({ waited }) => {
      const wall = clock.wallNow();
      const last = sync.lastActive();
      if (waited || (last !== null && wall >= last && wall - last < intervalMs * ACTIVITY_SHARE_FRACTION)) return false;
      sync.setLastActive(wall);
      await service.post(PATHS.activity);
      return true;
    });
  } catch (error) {
    if (!(error instanceof AuthClientError)) throw error;
    if (error.status === 401) await service.recheck().catch(ignoreHandled);
    return false;
  }
}
