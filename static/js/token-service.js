/**
 * The token service: holds the access token and keeps the session alive.
 *
 * - Page load, refresh first: a usable shared token is checked with
 *   /auth/validate, otherwise the page refreshes before anything else.
 * - Refreshes before expiry, on a timer, and on `visibilitychange`/`focus`
 *   (debounced), once across tabs (see refresh-coordination.js); the tab that
 *   called the server stores and broadcasts the answer, the others take it.
 * - Only a definitive answer signs out (clear storage, broadcast, go to `/`).
 *   A doubtful 401 is re-checked with /auth/validate; network failures, 429 and
 *   5xx are retried with back-off and on `online`.
 * @module token-service
 */
import { PATHS, RECHECK_DELAY_MS, SESSION_CHECK_MIN_INTERVAL_MS, VISIBILITY_DEBOUNCE_MS } from "./constants.js";
import { elapsedSince, getClock, markNow } from "./clock.js";
import { AuthClientError, CLIENT_CODES, signedOutError } from "./errors.js";
import { AuthState } from "./auth-state.js";
import { backoffMs, createThrottle } from "./schedule.js";
import { runWithLock } from "./lock.js";
import { Emitter, listen } from "./emitter.js";
import { adoptNewer, renewUnderLock } from "./refresh-coordination.js";

/** @typedef {"starting" | "signed-in" | "signed-out"} Status */

const SOURCE_DECIDES = new Set([PATHS.validate, PATHS.refresh]);
/** @type {Set<TokenService>} */
const instances = new Set();

/** Swallow an error the service already handled (retry scheduled or signed out). */
export function ignoreHandled(error) {
  if (!(error instanceof AuthClientError)) throw error;
}

/**
 * Events: "session" (an answer was taken; detail: the AuthState), "token" (the
 * access token changed), "signedout" ({reason}), "trouble" ({code, detail}: the
 * server could not be reached, still signed in), "login" ({sessionId}: a tab signed in).
 */
export class TokenService extends Emitter {
  /**
   * @param {object} deps
   * @param {import("./api.js").Api} deps.api
   * @param {ReturnType<typeof import("./sync.js").createSync>} deps.sync
   * @param {import("./clock.js").Clock} [deps.clock]
   * @param {typeof runWithLock} [deps.runWithLock]
   * @param {(path: string) => void} [deps.navigate]
   * @param {() => number} [deps.random]
   */
  constructor({ api, sync, clock = getClock(), runWithLock: lock = runWithLock, navigate = (p) => globalThis.location.replace(p), random = Math.random }) {
    super();
    Object.assign(this, { api, sync, clock, lock, navigate, random });
    this.state = new AuthState(clock);
    /** @type {Status} */ this.status = "starting";
    this.inflight = null;
    this.validating = null;
    this.refreshTimer = null;
    this.retryTimer = null;
    this.retryAttempt = 0;
    this.lastRefresh = null;
    this.lastCheck = null;
    this.detach = [];
    instances.add(this);
  }

  get accessToken() { return this.state.accessToken; }

  /**
   * Page load: adopt what siblings stored, then validate (usable token) or refresh.
   * @returns {Promise<Status>} "starting" while the server cannot be reached (retrying)
   */
  async start() {
    this.detach.push(this.sync.subscribe((message) => this.onSync(message)));
    const stored = this.sync.loadSnapshot();
    if (stored) this.state.adopt(stored);
    const before = this.state.sessionId;
    // Tell landing tabs (and tabs of an older session) once this tab is signed in.
    const announce = () => {
      if (this.state.sessionId !== before) this.sync.post({ type: "login", sessionId: this.state.sessionId });
    };
    try {
      if (this.state.isDue()) await this.refresh();
      else await this.validate();
    } catch (error) {
      ignoreHandled(error);
    }
    if (this.status === "signed-in") announce();
    else if (this.status === "starting") {
      const off = this.on("session", () => { off(); announce(); });
      this.detach.push(off);
    }
    return this.status;
  }

  /** Listen to the page: visibility, focus, bfcache restore, network back. */
  attach(win = globalThis.window, doc = globalThis.document) {
    const throttle = createThrottle(VISIBILITY_DEBOUNCE_MS, this.clock);
    const onVisible = () => {
      if (doc.visibilityState === "visible" && throttle()) this.checkSession().catch(ignoreHandled);
    };
    this.detach.push(
      listen(doc, "visibilitychange", onVisible),
      listen(win, "focus", onVisible),
      listen(win, "pageshow", onVisible),
      listen(win, "online", () => this.retryNow()),
    );
  }

  /**
   * Check the session: refresh if due, else ask /auth/validate (at most every
   * SESSION_CHECK_MIN_INTERVAL_MS unless forced). Never rejects with a handled error.
   * @param {{force?: boolean}} [options]
   */
  async checkSession({ force = false } = {}) {
    if (this.status === "signed-out") return false;
    try {
      if (this.state.isDue()) await this.refresh();
      else if (force || !this.lastCheck || elapsedSince(this.lastCheck, this.clock) >= SESSION_CHECK_MIN_INTERVAL_MS) await this.validate();
      return this.status === "signed-in";
    } catch (error) {
      ignoreHandled(error);
      return false;
    }
  }

  /** @returns {Promise<string|null>} the access token after asking /auth/validate */
  validate() {
    this.validating ??= this.call(PATHS.validate).finally(() => { this.validating = null; });
    return this.validating;
  }

  /**
   * Refresh (rotate) under the cross-tab lock, unless a sibling already did.
   * @param {{replace?: string|null}} [options] a token that must not come back
   * @returns {Promise<string|null>}
   */
  refresh({ replace = null } = {}) {
    return this.renew(PATHS.refresh, replace);
  }

  /**
   * The accessTokenFactory: a token that is not due and is not `replace`.
   * @param {{replace?: string|null}} [options]
   * @returns {Promise<string>}
   */
  async getFreshToken({ replace = null } = {}) {
    if (this.status === "signed-out") throw signedOutError();
    const s = this.state;
    if (s.accessToken && s.accessToken !== replace && !s.accessDue() && !s.sessionDue()) return s.accessToken;
    // A token only is missing: mint one; the session cookie is due as well: rotate.
    const path = s.sessionDue() ? PATHS.refresh : PATHS.token;
    let token = await this.renew(path, replace);
    // Joined a renewal started for another reason that kept `replace`: renew once more.
    if (token === replace) token = await this.renew(path, replace);
    if (!token) throw new AuthClientError(CLIENT_CODES.badResponse, { detail: "No access token in the answer." });
    return token;
  }

  /**
   * One renewal at a time in this tab. A caller joins the one in flight when it
   * gives what the caller needs (the same call, or a refresh, which renews
   * everything); a refresh asked for while only a token is being minted follows it.
   * @param {string} path @param {string|null} replace
   */
  renew(path, replace) {
    if (this.status === "signed-out") return Promise.reject(signedOutError());
    const current = this.inflight;
    if (current && (current.path === path || current.path === PATHS.refresh)) return current.promise;
    const run = () => renewUnderLock(this, path, replace);
    const entry = { path, promise: (current ? current.promise.then(run, run) : run()).finally(() => {
      if (this.inflight === entry) this.inflight = null;
    }) };
    this.inflight = entry;
    return entry.promise;
  }

  /**
   * POST to an auth endpoint and take its answer; failures go through {@link fail}.
   * @param {string} path
   * @param {{final?: boolean}} [options] final: a 401 here is the last word (a re-check)
   */
  async call(path, { final = false } = {}) {
    let answer;
    try {
      answer = await this.api.post(path);
      if (answer.valid === false) throw new AuthClientError("not_authenticated", { status: 200 });
    } catch (error) {
      return this.fail(error, path, final);
    }
    // Signed out (by a sibling, say) while the answer was on its way: it must not revive this tab.
    if (this.status === "signed-out") throw signedOutError();
    if (path === PATHS.validate) this.lastCheck = markNow(this.clock);
    const previous = this.state.accessToken;
    const snapshot = this.state.applyAnswer(answer);
    const rotated = path === PATHS.refresh || answer.refreshed === true;
    if (rotated) this.lastRefresh = markNow(this.clock);
    this.sync.saveSnapshot(snapshot);
    if (rotated || snapshot.accessToken !== previous) this.sync.post({ type: "token", snapshot });
    this.taken(previous);
    return this.state.accessToken;
  }

  /**
   * Bookkeeping after an answer was taken (own or a sibling's).
   * @param {string|null} previous the access token before
   */
  taken(previous) {
    this.status = "signed-in";
    this.retryAttempt = 0;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.schedule();
    this.emit("session", this.state);
    if (previous !== this.state.accessToken) this.emit("token", this.state.accessToken);
  }

  /**
   * Decide what a failure means. Only /auth/validate and /auth/refresh speak for
   * the session; a 401 elsewhere may be a lapsed session cookie with a live
   * refresh cookie, so it is re-checked.
   */
  async fail(error, source, final) {
    if (!(error instanceof AuthClientError)) throw error;
    if ((error.definitive && SOURCE_DECIDES.has(source)) || (final && error.status === 401)) {
      this.signOut(error.code);
    } else if (error.status === 401 || error.kind === "recheck") {
      return this.recheck();
    } else {
      this.retryLater(error);
    }
    throw error;
  }

  /** A doubtful 401: let a racing sibling's cookies land, then ask /auth/validate; any 401 there is final. */
  async recheck() {
    const before = this.state.id;
    await new Promise((resolve) => this.clock.setTimeout(resolve, RECHECK_DELAY_MS));
    if (adoptNewer(this, before, null)) return this.state.accessToken;
    return this.call(PATHS.validate, { final: true });
  }

  retryLater(error) {
    const delay = backoffMs(this.retryAttempt, { retryAfterMs: error.retryAfterMs, random: this.random });
    this.retryAttempt += 1;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => this.retryNow(), delay);
    this.emit("trouble", { code: error.code, detail: error.detail });
  }

  /** Retry a failed check now (the `online` event). */
  retryNow() {
    if (this.retryTimer === null && this.status !== "starting") return;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.checkSession({ force: true });
  }

  schedule() {
    this.clock.clearTimeout(this.refreshTimer);
    const since = this.lastRefresh ? elapsedSince(this.lastRefresh, this.clock) : null;
    const { delayMs, action } = this.state.plan(since);
    this.refreshTimer = this.clock.setTimeout(() => {
      this.refreshTimer = null;
      if (this.status === "signed-out") return;
      if (action === "check") this.validate().catch(ignoreHandled);
      else if (this.state.isDue()) this.refresh().catch(ignoreHandled);
      else this.schedule();
    }, delayMs);
  }

  /** @param {import("./sync.js").SyncMessage} message */
  onSync(message) {
    if (this.status === "signed-out") return;
    if (message.type === "token") {
      const previous = this.state.accessToken;
      if (this.state.adopt(message.snapshot)) this.taken(previous);
    } else if (message.type === "logout") {
      this.signOut(message.reason, { fromBroadcast: true });
    } else if (message.type === "login") {
      this.emit("login", { sessionId: message.sessionId });
    }
  }

  /**
   * Sign out here and (unless told by a sibling) in every tab.
   * @param {string} reason
   * @param {{fromBroadcast?: boolean}} [options]
   */
  signOut(reason, { fromBroadcast = false } = {}) {
    if (this.status === "signed-out") return;
    this.status = "signed-out";
    this.stopTimers();
    this.sync.clear();
    if (!fromBroadcast) this.sync.post({ type: "logout", reason });
    this.state.clear();
    this.emit("signedout", { reason });
    this.navigate(PATHS.signIn);
  }

  stopTimers() {
    this.clock.clearTimeout(this.refreshTimer);
    this.clock.clearTimeout(this.retryTimer);
    this.refreshTimer = this.retryTimer = null;
  }

  dispose() {
    this.stopTimers();
    for (const off of this.detach.splice(0)) off();
    this.clearListeners();
    instances.delete(this);
  }
}

/** Reset hook: dispose every token service. */
export function resetTokenServices() {
  for (const service of [...instances]) service.dispose();
}
