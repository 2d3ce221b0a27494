/**
 * The client's one error type and the one closed list of error codes.
 *
 * Every code the client can hold is in {@link ERROR_KINDS}, with what it means
 * for the session: "definitive" (the session is over), "recheck" (a 401 a stale
 * or racing request can explain: ask /auth/validate before deciding) or "retry"
 * (transient: network, timeout, 429, 5xx, refusals, odd answers). A code from
 * the server that is not on the list is replaced by the client code for its
 * HTTP status, so a new server code can never sign anybody out by accident.
 * The server's codes are those the server's error classes register (README,
 * "Error codes"); tests/sessions_core/test_errors.py holds this list to them.
 * Errors cross `postMessage` as plain `{code, detail}` objects ({@link toWireError}).
 * @module errors
 */

import { PATHS } from "./constants.js";

/** @typedef {"definitive" | "recheck" | "retry"} ErrorKind */
/** @typedef {{code: string, detail: string}} WireError */

/** Codes the client itself produces. */
export const CLIENT_CODES = Object.freeze({
  network: "network_error",
  timeout: "timeout",
  unauthorized: "unauthorized",
  csrf: "csrf_failed",
  rateLimited: "rate_limited",
  server: "server_error",
  http: "http_error",
  badResponse: "bad_response",
  lockTimeout: "lock_timeout",
  signedOut: "signed_out",
  connectionClosed: "connection_closed",
  noTab: "no_tab",
  handshake: "handshake_failed",
  hubError: "hub_error",
  client: "client_error",
});

/** Every error code the client knows, and what it means for the session. */
export const ERROR_KINDS = Object.freeze({
  // Server (sessions_core/errors.py, `definitive = True`): the session is over. Whether
  // an answer speaks for the session depends on the endpoint too: see outcomeOf below.
  not_authenticated: "definitive",
  session_expired: "definitive",
  session_revoked: "definitive",
  refresh_reused: "definitive",
  account_disabled: "definitive",
  // Server: 401s a stale or racing request can produce.
  refresh_invalid: "recheck",
  token_invalid: "recheck",
  token_expired: "recheck",
  // Server: the request failed, the session did not.
  auth_error: "retry",
  bad_request: "retry",
  not_found: "retry",
  rate_limited: "retry",
  store_unavailable: "retry",
  provider_error: "retry",
  provider_unavailable: "retry",
  forbidden: "retry",
  oauth_state_invalid: "retry",
  next_invalid: "retry",
  method_not_allowed: "retry",
  // Server, sign-in (signin/errors.py): a failed sign-in, never a session's end.
  discord_denied: "retry",
  discord_unavailable: "retry",
  discord_bad_response: "retry",
  discord_code_invalid: "retry",
  discord_config_invalid: "retry",
  discord_error: "retry",
  discord_not_configured: "retry",
  playfab_unavailable: "retry",
  playfab_bad_response: "retry",
  playfab_error: "retry",
  playfab_config_invalid: "retry",
  playfab_not_configured: "retry",
  // Server, realtime hub (realtime/errors.py): a refused call or connection.
  origin_refused: "retry",
  connection_unknown: "retry",
  protocol_error: "retry",
  unknown_method: "retry",
  bad_arguments: "retry",
  token_mismatch: "retry",
  bad_group: "retry",
  too_many_groups: "retry",
  // Client.
  [CLIENT_CODES.signedOut]: "definitive",
  [CLIENT_CODES.unauthorized]: "recheck",
  [CLIENT_CODES.network]: "retry",
  [CLIENT_CODES.timeout]: "retry",
  [CLIENT_CODES.csrf]: "retry",
  [CLIENT_CODES.server]: "retry",
  [CLIENT_CODES.http]: "retry",
  [CLIENT_CODES.badResponse]: "retry",
  [CLIENT_CODES.lockTimeout]: "retry",
  [CLIENT_CODES.connectionClosed]: "retry",
  [CLIENT_CODES.noTab]: "retry",
  [CLIENT_CODES.handshake]: "retry",
  [CLIENT_CODES.hubError]: "retry",
  [CLIENT_CODES.client]: "retry",
});

/**
 * @param {unknown} code
 * @returns {code is keyof typeof ERROR_KINDS}
 */
export function isKnownCode(code) {
  return typeof code === "string" && Object.hasOwn(ERROR_KINDS, code);
}

export class AuthClientError extends Error {
  /**
   * @param {keyof typeof ERROR_KINDS} code one of {@link ERROR_KINDS}; its kind follows from it
   * @param {object} [options]
   * @param {string} [options.detail]
   * @param {number} [options.status] HTTP status, 0 when no answer arrived
   * @param {number|null} [options.retryAfterMs] server's Retry-After, if any
   * @param {string} [options.reason] why a session was revoked, as the server said (`session_revoked`)
   * @param {unknown} [options.cause]
   */
  constructor(code, { detail = "", status = 0, retryAfterMs = null, reason = "", cause } = {}) {
    if (!isKnownCode(code)) throw new TypeError(`Unknown error code ${String(code)}`);
    super(detail || code, cause === undefined ? undefined : { cause });
    this.name = "AuthClientError";
    this.code = code;
    this.detail = detail || code;
    /** @type {ErrorKind} */ this.kind = ERROR_KINDS[code];
    this.status = status;
    this.retryAfterMs = retryAfterMs;
    this.reason = reason;
  }

  /** True when this code means the session is over. */
  get definitive() {
    return this.kind === "definitive";
  }
}

/** The service was signed out while a caller waited. */
export function signedOutError() {
  return new AuthClientError(CLIENT_CODES.signedOut, { detail: "Signed out." });
}

/**
 * `Retry-After` as milliseconds. Only delta-seconds are honoured: an HTTP date
 * would have to be compared with the device clock, which may be wrong.
 * @param {string|null|undefined} value
 * @returns {number|null}
 */
export function parseRetryAfter(value) {
  if (value == null) return null;
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) return null;
  return Number(text) * 1000;
}

/**
 * The client code that stands for an HTTP status whose body gave no known code.
 * @param {number} status
 */
function codeForStatus(status) {
  // A 401 without a known code (a proxy, a newer server) is not proof of sign-out: re-check.
  if (status === 401) return CLIENT_CODES.unauthorized;
  if (status === 403) return CLIENT_CODES.csrf;
  if (status === 429) return CLIENT_CODES.rateLimited;
  if (status >= 500) return CLIENT_CODES.server;
  return CLIENT_CODES.http;
}

/**
 * Classify a non-2xx HTTP answer: the server's code when the list knows it,
 * else the client code for the status (the server's code is kept in `detail`).
 * @param {number} status
 * @param {unknown} body parsed JSON body, or null when it was not JSON
 * @param {string|null} [retryAfter] the Retry-After header
 * @returns {AuthClientError}
 */
export function classifyResponse(status, body, retryAfter = null) {
  const data = body && typeof body === "object" ? /** @type {Record<string, unknown>} */ (body) : {};
  const serverCode = typeof data.error === "string" ? data.error : null;
  const known = isKnownCode(serverCode) && (status === 401 || ERROR_KINDS[serverCode] === "retry");
  const code = known ? /** @type {keyof typeof ERROR_KINDS} */ (serverCode) : codeForStatus(status);
  let detail = typeof data.detail === "string" ? data.detail : `HTTP ${status}`;
  if (serverCode && !known) detail = `${detail} (${serverCode})`;
  // Only a short lowercase word: it picks a message, nothing more.
  const reason = typeof data.reason === "string" && /^[a-z_]{1,32}$/.test(data.reason) ? data.reason : "";
  return new AuthClientError(code, { detail, status, retryAfterMs: parseRetryAfter(retryAfter), reason });
}

/** The endpoints whose answers speak for the session: they see the refresh cookie. */
const SESSION_ENDPOINTS = Object.freeze([PATHS.validate, PATHS.refresh]);

/**
 * What a failed auth call means for the session. Only /auth/validate and
 * /auth/refresh speak for it: a definitive code there signs out (there,
 * `not_authenticated` means no refresh cookie). A definitive code elsewhere may
 * be a lapsed session cookie beside a live refresh cookie, so it is re-checked,
 * as is a doubtful 401, once. Everything else, and a re-check that was not
 * definitive, is transient: retried with back-off, never a sign-out.
 * @param {AuthClientError} error
 * @param {{source: string, final?: boolean}} context the endpoint, and whether this was the re-check
 * @returns {"sign-out" | "recheck" | "retry"}
 */
export function outcomeOf(error, { source, final = false }) {
  if (error.definitive && SESSION_ENDPOINTS.includes(source)) return "sign-out";
  if (!final && (error.kind === "recheck" || error.definitive)) return "recheck";
  return "retry";
}

/**
 * @param {unknown} cause what `fetch` threw
 * @returns {AuthClientError}
 */
export function networkError(cause) {
  const aborted = cause && typeof cause === "object" && /** @type {any} */ (cause).name === "AbortError";
  return new AuthClientError(aborted ? CLIENT_CODES.timeout : CLIENT_CODES.network, {
    detail: aborted ? "The server did not answer in time." : "The network request failed.",
    cause,
  });
}

/**
 * Plain form for postMessage and logs.
 * @param {unknown} error
 * @returns {WireError}
 */
export function toWireError(error) {
  if (error instanceof AuthClientError) return { code: error.code, detail: error.detail };
  if (error && typeof error === "object" && typeof /** @type {any} */ (error).code === "string") {
    const { code, detail } = /** @type {any} */ (error);
    return { code, detail: typeof detail === "string" ? detail : code };
  }
  return { code: CLIENT_CODES.client, detail: error instanceof Error ? error.message : String(error) };
}

/**
 * Rebuild an error that crossed postMessage; its kind follows from its code (a
 * code not on the list becomes `client_error`).
 * @param {WireError} wire
 */
export function fromWireError(wire) {
  const code = isKnownCode(wire?.code) ? wire.code : CLIENT_CODES.client;
  const detail = typeof wire?.detail === "string" ? wire.detail : code;
  return new AuthClientError(code, { detail });
}
