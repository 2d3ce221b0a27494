// Shared helpers for the Node tests of the hub. They run against a live daphne
// that tests/realtime/test_node_client.py starts; it passes the URL and the
// signed-in sessions' cookies in the environment.
import * as signalR from "@microsoft/signalr";

/** @param {string} name */
export function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these through pytest tests/realtime/test_node_client.py (it starts daphne)`);
  }
  return value;
}

/** A signed-in browser without the browser: session cookie + CSRF token from the landing page. */
export class Site {
  /** @param {string} base @param {string} sessionToken */
  constructor(base, sessionToken) {
    this.base = base;
    this.sessionToken = sessionToken;
    this.csrf = "";
    this.minted = 0;
  }

  async post(path) {
    if (!this.csrf) {
      const landing = await fetch(`${this.base}/`);
      const cookie = landing.headers.getSetCookie().find((c) => c.startsWith("csrftoken="));
      if (!cookie) throw new Error("the landing page set no csrftoken");
      this.csrf = cookie.split(";")[0].slice("csrftoken=".length);
    }
    return fetch(`${this.base}${path}`, {
      method: "POST",
      headers: { "X-CSRFToken": this.csrf, Cookie: `csrftoken=${this.csrf}; as_session=${this.sessionToken}` },
    });
  }

  /** The accessTokenFactory target: POST /auth/token. */
  async accessToken() {
    const res = await this.post("/auth/token");
    if (res.status !== 200) throw new Error(`/auth/token answered ${res.status}: ${await res.text()}`);
    this.minted += 1;
    return (await res.json()).access_token;
  }

  async logout() {
    const res = await this.post("/auth/logout");
    if (res.status !== 200) throw new Error(`/auth/logout answered ${res.status}`);
  }
}

/**
 * A HubConnection exactly as a page would build it.
 * @param {Site} site
 * @param {{skipNegotiation?: boolean, reconnect?: number[] | false, token?: () => Promise<string> | string}} [options]
 */
export function buildHub(site, options = {}) {
  const { skipNegotiation = false, reconnect = [0, 250, 500, 1000, 1000, 1000], token } = options;
  const http = { accessTokenFactory: token ?? (() => site.accessToken()) };
  if (skipNegotiation) Object.assign(http, { skipNegotiation: true, transport: signalR.HttpTransportType.WebSockets });
  let builder = new signalR.HubConnectionBuilder().withUrl(`${site.base}/hub`, http).configureLogging(signalR.LogLevel.None);
  if (reconnect) builder = builder.withAutomaticReconnect(reconnect);
  return builder.build();
}

/** Resolve with the arguments of the next call of `method` on `conn`. */
export function nextCall(conn, method, ms = 5000, accept = () => true) {
  return within(new Promise((resolve) => {
    const handler = (...args) => {
      if (!accept(...args)) return;
      conn.off(method, handler);
      resolve(args);
    };
    conn.on(method, handler);
  }), ms, `server call ${method}`);
}

/** Resolve with the argument of the next `event` (onclose/onreconnecting/onreconnected). */
export function nextEvent(conn, event, ms = 5000) {
  return within(new Promise((resolve) => conn[event]((arg) => resolve(arg))), ms, event);
}

export function within(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export { signalR };
