/**
 * The token service: holds the access token and keeps the session alive.
 *
 * - Page load, refresh first: a usable shared token is checked with
 *   /auth/validate, otherwise the page refreshes before anything else.
 * - Refreshes before expiry, on a timer, and when the page asks (page-watch.js:
 *   `visibilitychange`/`focus`, debounced), once across tabs (see
 *   refresh-coordination.js); the tab that called the server stores and
 *   broadcasts the answer, the others take it.
 * - Only a definitive answer signs out (clear storage, broadcast, go to `/`):
 *   `session_revoked`, `session_expired`, `refresh_reused`, or `not_authenticated`
 *   from /auth/refresh or /auth/validate (no refresh cookie). A doubtful 401 is
 *   re-checked once with /auth/validate. A transient failure (network, timeout,
 *   429, 5xx) never signs out: it is retried with back-off (retry.js) and on
 *   `online`, each time under the cross-tab lock, with the refresh cookie the
 *   browser holds (the same one until an answer arrives).
 * @module token-service
 */
import { PATHS, RECHECK_DELAY_MS, SESSION_CHECK_MIN_INTERVAL_MS } from "./constants.js";
import { elapsedSince, getClock, markNow } from "./clock.js";
import { AuthClientError, CLIENT_CODES, outcomeOf, signedOutError } from "./errors.js";
import { AuthState } from "./auth-state.js";
import { runWithLock } from "./lock.js";
import { Emitter } from "./emitter.js";
import { Renewals } from "./refresh-coordination.js";
import { Retry } from "./retry.js";
import { reasonOf, signInPath } from "./signed-out.js";

/** @typedef {"starting" | "signed-in" | "signed-out"} Status */

/** @type {Set<TokenService>} */
const instances = new Set();

/** Swallow an error the service already handled (retry scheduled or signed out). */
export function ignoreHandled(error) {
  if (!(error instanceof AuthClientError)) throw error;
}

/**
 * Events: "session" ({user, sessionId}: an answer was taken), "token" (the
 * access token changed), "signedout" ({reason}), "trouble" ({code, detail}: the
 * server could not be reached, still signed in), "login" ({sessionId}: a tab signed in).
 */
export class TokenService extends Emitter {
  #api; #sync; #clock; #navigate; #state; #retry; #renewals;
  /** @type {Status} */ #status = "starting";
  #validating = null;
  #refreshTimer = null;
  #lastRefresh = null;
  #lastCheck = null;
  /** @type {Array<() => void>} */ #detach = [];

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
    this.#api = api;
    this.#sync = sync;
    this.#clock = clock;
    this.#navigate = navigate;
    this.#state = new AuthState(clock);
    this.#retry = new Retry({ clock, random, run: () => this.checkSession({ force: true }) });
    this.#renewals = new Renewals(this, { call: (path) => this.#call(path), runWithLock: lock, clock });
    instances.add(this);
  }

  /** @returns {Status} */
  get status() { return this.#status; }
  get accessToken() { return this.#state.accessToken; }
  get sessionId() { return this.#state.sessionId; }
  get user() { return this.#state.user; }
  /** Identifies the answer this tab holds; it changes with every answer taken. */
  get answerId() { return this.#state.id; }
  /** Failed attempts in a row, and whether a retry is waiting for its back-off. */
  get retry() { return { attempt: this.#retry.attempt, pending: this.#retry.pending }; }
  /** True when nothing is known yet or a credential needs a refresh. */
  isDue() { return this.#state.isDue(); }

  /**
   * Page load: adopt what siblings stored, then validate (usable token) or refresh.
   * @returns {Promise<Status>} "starting" while the server cannot be reached (retrying)
   */
  async start() {
    this.#detach.push(this.#sync.subscribe((message) => this.#onSync(message)));
    const stored = this.#sync.loadSnapshot();
    if (stored) this.#state.adopt(stored);
    const before = this.sessionId;
    // Once signed in, tell landing tabs (and tabs of an older session).
    const off = this.on("session", ({ sessionId }) => {
      off();
      if (sessionId !== before) this.#sync.post({ type: "login", sessionId });
    });
    this.#detach.push(off);
    try {
      await (this.isDue() ? this.refresh() : this.validate());
    } catch (error) {
      ignoreHandled(error);
    }
    return this.#status;
  }

  /**
   * Check the session: refresh if due, else ask /auth/validate (at most every
   * SESSION_CHECK_MIN_INTERVAL_MS unless forced). Never rejects with a handled error.
   * @param {{force?: boolean}} [options]
   */
  async checkSession({ force = false } = {}) {
    if (this.#status === "signed-out") return false;
    try {
      if (this.isDue()) await this.refresh();
      else if (force || !this.#lastCheck || elapsedSince(this.#lastCheck, this.#clock) >= SESSION_CHECK_MIN_INTERVAL_MS) await this.validate();
      return this.#status === "signed-in";
    } catch (error) {
      ignoreHandled(error);
      return false;
    }
  }

  /** @returns {Promise<string|null>} the access token after asking /auth/validate */
  validate() {
    this.#validating ??= this.#call(PATHS.validate).finally(() => { this.#validating = null; });
    return this.#validating;
  }

  /** Refresh (rotate) under the cross-tab lock, unless a sibling already did. @param {{replace?: string|null}} [options] */
  refresh({ replace = null } = {}) {
    return this.#renew(PATHS.refresh, replace);
  }

  /**
   * The accessTokenFactory: a token that is not due and is not `replace`.
   * @param {{replace?: string|null}} [options]
   * @returns {Promise<string>}
   */
  async getFreshToken({ replace = null } = {}) {
    if (this.#status === "signed-out") throw signedOutError();
    const s = this.#state;
    if (s.accessToken && s.accessToken !== replace && !s.accessDue() && !s.sessionDue()) return s.accessToken;
    // A token only is missing: mint one; the session cookie is due as well: rotate.
    const path = s.sessionDue() ? PATHS.refresh : PATHS.token;
    let token = await this.#renew(path, replace);
    // Joined a renewal started for another reason that kept `replace`: renew once more.
    if (token === replace) token = await this.#renew(path, replace);
    if (!token) throw new AuthClientError(CLIENT_CODES.badResponse, { detail: "No access token in the answer." });
    return token;
  }

  /**
   * Take a sibling's newer answer: from storage when it is usable, or one
   * already received by broadcast.
   * @param {string|null} beforeId the answer this tab held when it decided to renew
   * @param {string|null} [replace] a token the answer must not carry
   * @returns {boolean} whether this tab now holds a usable answer newer than `beforeId`
   */
  takeNewer(beforeId, replace = null) {
    const shared = this.#sync.loadSnapshot();
    if (shared && shared.id !== beforeId && shared.accessToken !== replace && AuthState.usable(shared, this.#clock)) {
      this.#adopt(shared);
      return true;
    }
    const s = this.#state;
    return s.id !== beforeId && s.accessToken !== replace && !s.isDue();
  }

  /**
   * A doubtful 401: let a racing sibling's cookies land, then ask /auth/validate.
   * Only a definitive answer there signs out; anything else is retried.
   * @returns {Promise<string|null>}
   */
  async recheck() {
    const before = this.answerId;
    await new Promise((resolve) => this.#clock.setTimeout(resolve, RECHECK_DELAY_MS));
    if (this.#status === "signed-out") throw signedOutError();
    if (this.takeNewer(before)) return this.accessToken;
    return this.#call(PATHS.validate, { final: true });
  }

  /** POST to an auth endpoint without taking the answer (logout, activity); rejects with AuthClientError. */
  post(path) { return this.#api.post(path); }

  /** Retry a failed check now (the `online` event). */
  retryNow() {
    if (!this.#retry.now() && this.#status === "starting") this.checkSession({ force: true });
  }

  /**
   * Sign out here and (unless told by a sibling) in every tab.
   * @param {string} reason
   * @param {{fromBroadcast?: boolean}} [options]
   */
  signOut(reason, { fromBroadcast = false } = {}) {
    if (this.#status === "signed-out") return;
    this.#status = "signed-out";
    this.stopTimers();
    this.#sync.clear();
    if (!fromBroadcast) this.#sync.post({ type: "logout", reason });
    this.#state.clear();
    this.emit("signedout", { reason });
    this.#navigate(signInPath(reason));
  }

  /** Stop the scheduled refresh and any pending retry. */
  stopTimers() {
    this.#clock.clearTimeout(this.#refreshTimer);
    this.#refreshTimer = null;
    this.#retry.stop();
  }

  dispose() {
    this.stopTimers();
    this.#retry.dispose();
    for (const off of this.#detach.splice(0)) off();
    this.clearListeners();
    instances.delete(this);
  }

  /** @param {string} path @param {string|null} replace */
  #renew(path, replace) {
    if (this.#status === "signed-out") return Promise.reject(signedOutError());
    return this.#renewals.renew(path, replace);
  }

  /**
   * POST to an auth endpoint and take its answer; failures go through {@link #fail}.
   * @param {string} path
   * @param {{final?: boolean}} [options] final: this is the re-check; it is not re-checked again
   */
  async #call(path, { final = false } = {}) {
    let answer;
    try {
      answer = await this.#api.post(path);
      if (answer.valid === false) throw new AuthClientError("not_authenticated", { status: 200 });
    } catch (error) {
      return this.#fail(error, path, final);
    }
    // Signed out (by a sibling, say) while the answer was on its way: it must not revive this tab.
    if (this.#status === "signed-out") throw signedOutError();
    if (path === PATHS.validate) this.#lastCheck = markNow(this.#clock);
    const previous = this.accessToken;
    const snapshot = this.#state.applyAnswer(answer);
    const rotated = path === PATHS.refresh || answer.refreshed === true;
    if (rotated) this.#lastRefresh = markNow(this.#clock);
    this.#sync.saveSnapshot(snapshot);
    if (rotated || snapshot.accessToken !== previous) this.#sync.post({ type: "token", snapshot });
    this.#taken(previous);
    return this.accessToken;
  }

  /** Act on a failure as {@link outcomeOf} decides: sign out, re-check, or retry with back-off. */
  async #fail(error, source, final) {
    if (!(error instanceof AuthClientError)) throw error;
    const outcome = outcomeOf(error, { source, final });
    if (outcome === "sign-out") this.signOut(reasonOf(error));
    else if (outcome === "recheck") return this.recheck();
    else {
      this.#retry.after(error);
      this.emit("trouble", { code: error.code, detail: error.detail });
    }
    throw error;
  }

  /** Take a sibling's snapshot. @param {import("./sync.js").AuthSnapshot} snapshot */
  #adopt(snapshot) {
    const previous = this.accessToken;
    if (this.#state.adopt(snapshot)) this.#taken(previous);
  }

  /** Bookkeeping after an answer was taken (own or a sibling's). @param {string|null} previous the token before */
  #taken(previous) {
    this.#status = "signed-in";
    this.#retry.reset();
    this.#schedule();
    this.emit("session", { user: this.user, sessionId: this.sessionId });
    if (previous !== this.accessToken) this.emit("token", this.accessToken);
  }

  #schedule() {
    this.#clock.clearTimeout(this.#refreshTimer);
    const since = this.#lastRefresh ? elapsedSince(this.#lastRefresh, this.#clock) : null;
    const { delayMs, action } = this.#state.plan(since);
    this.#refreshTimer = this.#clock.setTimeout(() => {
      this.#refreshTimer = null;
      if (this.#status === "signed-out") return;
      if (action === "check") this.validate().catch(ignoreHandled);
      else if (this.isDue()) this.refresh().catch(ignoreHandled);
      else this.#schedule();
    }, delayMs);
  }

  /** @param {import("./sync.js").SyncMessage} message */
  #onSync(message) {
    if (this.#status === "signed-out") return;
    if (message.type === "token") this.#adopt(message.snapshot);
    else if (message.type === "logout") this.signOut(message.reason, { fromBroadcast: true });
    else if (message.type === "login") this.emit("login", { sessionId: message.sessionId });
  }
}

/** Reset hook: dispose every token service. */
export function resetTokenServices() {
  for (const service of [...instances]) service.dispose();
}
