/**
 * Same-origin JSON calls to the auth endpoints: CSRF header from the readable
 * `csrftoken` cookie, session and refresh cookies sent by the browser (they are
 * HttpOnly and never visible here), a timeout on the injectable clock, and every
 * failure turned into a classified {@link AuthClientError}.
 * @module api
 */
import { CSRF_COOKIE_NAME, CSRF_HEADER_NAME, REQUEST_TIMEOUT_MS } from "./constants.js";
import { getClock } from "./clock.js";
import { AuthClientError, CLIENT_CODES, classifyResponse, networkError } from "./errors.js";

/**
 * @param {string} name
 * @param {string} [cookieString] defaults to `document.cookie`
 * @returns {string|null}
 */
export function readCookie(name, cookieString = globalThis.document?.cookie ?? "") {
  for (const part of cookieString.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch (error) {
        if (error instanceof URIError) return part.slice(eq + 1).trim();
        throw error;
      }
    }
  }
  return null;
}

/**
 * @typedef {object} Api
 * @property {(path: string, body?: object) => Promise<any>} post
 *   resolves with the parsed JSON of a 2xx answer; rejects with AuthClientError
 * @property {(method: string, path: string, body?: object) => Promise<any>} request
 *   the same for any method (a body is sent only when given)
 */

/**
 * @param {object} [options]
 * @param {typeof fetch} [options.fetch]
 * @param {import("./clock.js").Clock} [options.clock]
 * @param {() => string|null} [options.csrfToken]
 * @param {number} [options.timeoutMs]
 * @returns {Api}
 */
export function createApi({
  fetch: fetchFn = (...args) => globalThis.fetch(...args),
  clock = getClock(),
  csrfToken = () => readCookie(CSRF_COOKIE_NAME),
  timeoutMs = REQUEST_TIMEOUT_MS,
} = {}) {
  const api = {
    post: (path, body = {}) => api.request("POST", path, body),
    async request(method, path, body = undefined) {
      const controller = new AbortController();
      const timer = clock.setTimeout(() => controller.abort(), timeoutMs);
      try {
        /** @type {Record<string, string>} */
        const headers = { Accept: "application/json" };
        if (body !== undefined) headers["Content-Type"] = "application/json";
        const csrf = csrfToken();
        if (csrf) headers[CSRF_HEADER_NAME] = csrf;
        let response;
        let text;
        try {
          response = await fetchFn(path, {
            method,
            credentials: "same-origin",
            cache: "no-store",
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: controller.signal,
          });
          text = await response.text();
        } catch (error) {
          throw networkError(error);
        }
        const data = parseJson(text);
        if (!response.ok) {
          throw classifyResponse(response.status, data, response.headers.get("Retry-After"));
        }
        if (data === null || typeof data !== "object") {
          throw new AuthClientError(CLIENT_CODES.badResponse, {
            detail: `Expected JSON from ${path}.`,
            status: response.status,
          });
        }
        return data;
      } finally {
        clock.clearTimeout(timer);
      }
    },
  };
  return api;
}

/** @param {string} text */
function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
}
