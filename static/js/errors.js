/**
 * The client's one error type and the rule that decides what an auth answer means.
 *
 * Only a definitive server answer signs the user out. Everything else is either
 * re-checked with /auth/validate first (a 401 that a racing tab can explain) or
 * retried (network failure, timeout, 429, 5xx, CSRF refusal, unexpected answers).
 * Errors cross `postMessage` as plain `{code, detail}` objects ({@link toWireError}).
 * @module errors
 */

/** @typedef {"definitive" | "recheck" | "retry"} ErrorKind */
/** @typedef {{code: string, detail: string}} WireError */

/** 401 codes that mean "signed out for good": the session cannot come back. */
export const DEFINITIVE_CODES = Object.freeze([
  "not_authenticated",
  "session_expired",
  "session_revoked",
  "refresh_reused",
]);

/** 401 codes a stale or racing request can produce: ask /auth/validate before deciding. */
export const RECHECK_CODES = Object.freeze(["refresh_invalid", "token_invalid", "token_expired"]);

/** Codes the client itself produces. */
export const CLIENT_CODES = Object.freeze({
  network: "network_error",
  timeout: "timeout",
  badResponse: "bad_response",
  lockTimeout: "lock_timeout",
  signedOut: "signed_out",
  connectionClosed: "connection_closed",
  noTab: "no_tab",
  unauthorized: "unauthorized",
  handshake: "handshake_failed",
  hubError: "hub_error",
  csrf: "csrf_failed",
});

export class AuthClientError extends Error {
  /**
   * @param {string} code stable error code (the server's `error` field or a client code)
   * @param {object} [options]
   * @param {string} [options.detail]
   * @param {ErrorKind} [options.kind]
   * @param {number} [options.status] HTTP status, 0 when no answer arrived
   * @param {number|null} [options.retryAfterMs] server's Retry-After, if any
   * @param {unknown} [options.cause]
   */
  constructor(code, { detail = "", kind = "retry", status = 0, retryAfterMs = null, cause } = {}) {
    super(detail || code, cause === undefined ? undefined : { cause });
    this.name = "AuthClientError";
    this.code = code;
    this.detail = detail || code;
    this.kind = kind;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /** True when this answer means the session is over. */
  get definitive() {
    return this.kind === "definitive";
  }
}

/** The service was signed out while a caller waited. */
export function signedOutError() {
  return new AuthClientError(CLIENT_CODES.signedOut, { detail: "Signed out.", kind: "definitive" });
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
 * Classify a non-2xx HTTP answer.
 * @param {number} status
 * @param {unknown} body parsed JSON body, or null when it was not JSON
 * @param {string|null} [retryAfter] the Retry-After header
 * @returns {AuthClientError}
 */
export function classifyResponse(status, body, retryAfter = null) {
  const data = body && typeof body === "object" ? /** @type {Record<string, unknown>} */ (body) : {};
  const serverCode = typeof data.error === "string" ? data.error : null;
  const detail = typeof data.detail === "string" ? data.detail : `HTTP ${status}`;
  const retryAfterMs = parseRetryAfter(retryAfter);
  const make = (code, kind) => new AuthClientError(code, { detail, kind, status, retryAfterMs });

  if (status === 401) {
    if (serverCode && DEFINITIVE_CODES.includes(serverCode)) return make(serverCode, "definitive");
    // A 401 without a recognised code (a proxy, an unknown code) is not proof of sign-out.
    return make(serverCode ?? CLIENT_CODES.unauthorized, "recheck");
  }
  if (status === 403) return make(serverCode ?? CLIENT_CODES.csrf, "retry");
  if (status === 429) return make(serverCode ?? "rate_limited", "retry");
  if (status >= 500) return make(serverCode ?? "server_error", "retry");
  return make(serverCode ?? `http_${status}`, "retry");
}

/**
 * @param {unknown} cause what `fetch` threw
 * @returns {AuthClientError}
 */
export function networkError(cause) {
  const aborted = cause && typeof cause === "object" && /** @type {any} */ (cause).name === "AbortError";
  return new AuthClientError(aborted ? CLIENT_CODES.timeout : CLIENT_CODES.network, {
    detail: aborted ? "The server did not answer in time." : "The network request failed.",
    kind: "retry",
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
  return { code: "client_error", detail: error instanceof Error ? error.message : String(error) };
}

/**
 * Rebuild an error that crossed postMessage; its kind follows from its code.
 * @param {WireError} wire
 */
export function fromWireError(wire) {
  const code = wire && typeof wire.code === "string" ? wire.code : "client_error";
  const detail = wire && typeof wire.detail === "string" ? wire.detail : code;
  const kind = DEFINITIVE_CODES.includes(code) ? "definitive" : RECHECK_CODES.includes(code) ? "recheck" : "retry";
  return new AuthClientError(code, { detail, kind });
}

/** Reset hook (this module keeps no state). */
export function resetErrors() {}
