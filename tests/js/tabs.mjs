// One simulated browser for the token-service suites: tabs sharing storage, a
// broadcast bus, a manual clock and one server (a scripted api or a fake fetch).
import { TokenService } from "../../static/js/token-service.js";
import { postActivity } from "../../static/js/session-actions.js";
import { createSync } from "../../static/js/sync.js";
import { createFallbackLock } from "../../static/js/lock.js";
import { createManualClock } from "../../static/js/clock.js";
import { classifyResponse, networkError } from "../../static/js/errors.js";
import { PATHS } from "../../static/js/constants.js";
import { createFakeApi, createFakeBus, createFakeStorage, sessionAnswer } from "./helpers.mjs";

export const MIN = 60_000;
export const reject401 = (code) => () => { throw classifyResponse(401, { error: code, detail: code }); };
export const offline = () => { throw networkError(new TypeError("Failed to fetch")); };

/** A server that signs in with `token` and validates without minting. */
export const server = (token = "a", more = {}) => createFakeApi({
  [PATHS.refresh]: () => sessionAnswer({ token }),
  [PATHS.validate]: () => sessionAnswer({ token: null, refreshed: false }),
  ...more,
});

/**
 * @param {object} [api] what the tabs' TokenService posts through (createFakeApi or createApi)
 * @param {{clock?: ReturnType<typeof createManualClock>}} [options]
 */
export function browser(api = createFakeApi(), { clock = createManualClock() } = {}) {
  const storage = createFakeStorage();
  const bus = createFakeBus();
  const tabs = [];
  /** Open a page; `runWithLock` replaces its cross-tab lock, `wrapLock` wraps it. */
  const tab = ({ runWithLock, wrapLock = (fn) => fn } = {}) => {
    const sync = createSync({ storage, channel: bus.open() });
    const lock = createFallbackLock({ storage, channel: bus.open(), clock, owner: `tab${tabs.length}` });
    const navigated = [];
    const service = new TokenService({
      api, sync, clock, runWithLock: runWithLock ?? wrapLock(lock.runWithLock), navigate: (p) => navigated.push(p), random: () => 0.5,
    });
    const activity = () => postActivity(service, { sync, runWithLock: lock.runWithLock, clock });
    const t = { service, sync, navigated, activity };
    tabs.push(t);
    return t;
  };
  const run = (ms = 0) => clock.advanceAsync(ms);
  return { api, clock, storage, bus, tab, tabs, run };
}

/** Let `ms` of clock time pass (timers and promise chains run), then settle `promise`. */
export async function within(b, promise, ms = 1_000) {
  await b.run(ms);
  return promise;
}

/** Start a tab and let the lock's confirmation delay pass. */
export async function started(b, t) {
  const status = t.service.start();
  await b.run(1_000);
  return status;
}
