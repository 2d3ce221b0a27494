/**
 * What one tab knows about its session: the access token, how long it and the
 * session cookie have left, the session's absolute end, and the user. Lifetimes
 * come from the server's `*_expires_in` and are counted from when this tab
 * learnt them ({@link elapsedSince}); another tab's values are aged by the wall
 * clock ({@link remainingFromShared}). The device clock is never compared with a
 * token's `exp`.
 * @module auth-state
 */
import { elapsedSince, getClock, markNow } from "./clock.js";
import { isDue, planRefresh, remainingFromShared } from "./schedule.js";
import { randomId } from "./ids.js";

/** @typedef {import("./sync.js").AuthSnapshot} AuthSnapshot */
/** @typedef {{remainingMs: number, lifetimeMs: number}} Lifetime */

/**
 * A server timestamp: integer epoch seconds, the one wire format of
 * `server_time` and `session.*_expires_at`; anything else is unknown (null).
 * @param {unknown} value
 * @returns {number|null}
 */
function seconds(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * Time left before the session's absolute end, by the server's own clock.
 * @param {any} answer a validate/refresh answer
 * @returns {number|null}
 */
export function absoluteRemainingFromAnswer(answer) {
  const end = seconds(answer?.session?.absolute_expires_at);
  const serverNow = seconds(answer?.server_time);
  return end === null || serverNow === null ? null : Math.max(0, (end - serverNow) * 1000);
}

export class AuthState {
  /** @param {import("./clock.js").Clock} [clock] */
  constructor(clock = getClock()) {
    this.clock = clock;
    this.clear();
  }

  clear() {
    /** @type {string|null} */ this.id = null;
    this.mark = markNow(this.clock);
    /** @type {string|null} */ this.accessToken = null;
    /** @type {Lifetime|null} */ this.access = null;
    /** @type {Lifetime|null} */ this.session = null;
    /** @type {number|null} */ this.absoluteMs = null;
    /** @type {string|null} */ this.sessionId = null;
    /** @type {import("./sync.js").SessionUser|null} */ this.user = null;
  }

  /** @param {Lifetime|null} lifetime */
  #left(lifetime) {
    return lifetime ? Math.max(0, lifetime.remainingMs - elapsedSince(this.mark, this.clock)) : null;
  }

  accessRemainingMs() { return this.accessToken ? this.#left(this.access) : null; }
  sessionRemainingMs() { return this.#left(this.session); }
  absoluteRemainingMs() {
    return this.absoluteMs === null ? null : Math.max(0, this.absoluteMs - elapsedSince(this.mark, this.clock));
  }

  /** @returns {Lifetime[]} the credentials a refresh renews, as of now */
  credentials() {
    const list = [];
    const access = this.accessRemainingMs();
    if (access !== null && this.access) list.push({ remainingMs: access, lifetimeMs: this.access.lifetimeMs });
    const session = this.sessionRemainingMs();
    if (session !== null && this.session) list.push({ remainingMs: session, lifetimeMs: this.session.lifetimeMs });
    return list;
  }

  /** True when the access token is missing or due. */
  accessDue() {
    const left = this.accessRemainingMs();
    return left === null || !this.access || isDue(left, this.access.lifetimeMs);
  }

  /** True when the session cookie is unknown or due (a refresh is needed). */
  sessionDue() {
    const left = this.sessionRemainingMs();
    return left === null || !this.session || isDue(left, this.session.lifetimeMs);
  }

  /** True when nothing is known yet or any credential needs a refresh. */
  isDue() {
    return this.id === null || this.sessionDue() || (this.accessToken !== null && this.accessDue());
  }

  /** @param {number|null} sinceLastRefreshMs */
  plan(sinceLastRefreshMs) {
    return planRefresh({ credentials: this.credentials(), absoluteRemainingMs: this.absoluteRemainingMs(), sinceLastRefreshMs });
  }

  /**
   * Take a server answer (validate, refresh or token); values it lacks are kept.
   * @param {any} answer
   * @returns {AuthSnapshot}
   */
  applyAnswer(answer) {
    const access = this.accessRemainingMs();
    const session = this.sessionRemainingMs();
    const absolute = this.absoluteRemainingMs();
    const keep = (left, prev) => (left === null || !prev ? null : { remainingMs: left, lifetimeMs: prev.lifetimeMs });
    this.mark = markNow(this.clock);
    this.id = randomId();
    const sessionId = answer.session && answer.session.id != null ? String(answer.session.id) : this.sessionId;
    if (sessionId !== this.sessionId && this.sessionId !== null) {
      // Another session than the one the kept values belong to (a new sign-in): keep nothing.
      this.accessToken = null;
      this.access = null;
      this.session = null;
      this.absoluteMs = null;
    }
    if (typeof answer.access_token === "string" && typeof answer.access_expires_in === "number") {
      const ms = answer.access_expires_in * 1000;
      this.accessToken = answer.access_token;
      this.access = { remainingMs: ms, lifetimeMs: ms };
    } else {
      this.access = keep(access, this.access);
    }
    if (typeof answer.session_token_expires_in === "number") {
      const ms = answer.session_token_expires_in * 1000;
      this.session = { remainingMs: ms, lifetimeMs: ms };
    } else {
      this.session = keep(session, this.session);
    }
    this.absoluteMs = absoluteRemainingFromAnswer(answer) ?? (this.absoluteMs === null ? null : absolute);
    if (answer.user && typeof answer.user === "object") this.user = answer.user;
    this.sessionId = sessionId;
    return this.snapshot();
  }

  /**
   * Take what another tab shared. Returns false (and changes nothing) when it is
   * the snapshot this tab already holds.
   * @param {AuthSnapshot} snapshot
   */
  adopt(snapshot) {
    if (snapshot.id === this.id) return false;
    const wall = this.clock.wallNow();
    const aged = (ms, life) => (ms === null || life === null
      ? null
      : { remainingMs: remainingFromShared(ms, snapshot.savedAt, wall), lifetimeMs: life });
    this.mark = markNow(this.clock);
    this.id = snapshot.id;
    this.accessToken = snapshot.accessToken;
    this.access = aged(snapshot.accessExpiresInMs, snapshot.accessLifetimeMs);
    this.session = aged(snapshot.sessionExpiresInMs, snapshot.sessionLifetimeMs);
    this.absoluteMs = snapshot.absoluteRemainingMs === null
      ? null
      : remainingFromShared(snapshot.absoluteRemainingMs, snapshot.savedAt, wall);
    this.sessionId = snapshot.sessionId;
    this.user = snapshot.user;
    return true;
  }

  /** @returns {AuthSnapshot} this state as of now, to store or broadcast */
  snapshot() {
    return {
      v: 1,
      id: this.id ?? randomId(),
      savedAt: this.clock.wallNow(),
      accessToken: this.accessToken,
      accessExpiresInMs: this.accessRemainingMs(),
      accessLifetimeMs: this.access ? this.access.lifetimeMs : null,
      sessionExpiresInMs: this.sessionRemainingMs(),
      sessionLifetimeMs: this.session ? this.session.lifetimeMs : null,
      absoluteRemainingMs: this.absoluteRemainingMs(),
      sessionId: this.sessionId,
      user: this.user,
    };
  }

  /**
   * Would this snapshot be usable here (not due), without adopting it?
   * @param {AuthSnapshot} snapshot
   */
  static usable(snapshot, clock = getClock()) {
    const probe = new AuthState(clock);
    probe.adopt(snapshot);
    return !probe.isDue();
  }
}
