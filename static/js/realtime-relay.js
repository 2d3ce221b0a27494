/**
 * The relay between tabs and the one hub connection. In the SharedWorker it
 * serves every tab of the browser; without SharedWorker a page runs it for
 * itself over a MessageChannel. It makes no time-based decision on a clock of
 * its own: its clock is fed by the pages' `tick` messages.
 *
 * Tokens always come from the pages: for each connection attempt, and when the
 * server warns `tokenExpiring`, every tab is asked (`needToken`); each answers
 * through its token service, which refreshes at most once across tabs under the
 * cross-tab lock, and the first answer wins. A token a page obtained by itself
 * (`token`) is passed to the server with `RenewToken`.
 *
 * Tabs say `bye` on pagehide; a port that fails to post, or sends nothing for
 * a whole PORT_IDLE_MS sweep period (page-driven time) while others keep the
 * clock moving, is dropped; should it speak again it is taken back. A jump of
 * the pages' clock (sleep, Playwright's fast_forward) is one period, so it
 * drops nobody. With no tab left, the connection stops.
 * @module realtime-relay
 */
import { HUB_EVENTS, PORT_IDLE_MS, TOKEN_REQUEST_TIMEOUT_MS } from "./constants.js";
import { AuthClientError, CLIENT_CODES, fromWireError, toWireError } from "./errors.js";

/**
 * Page to relay.
 * @typedef {{type: "hello", tabId: string}
 *   | {type: "bye"}
 *   | {type: "tick", now: number}
 *   | {type: "online"}
 *   | {type: "start"}
 *   | {type: "logout"}
 *   | {type: "token", accessToken: string}
 *   | {type: "tokenReply", requestId: string, accessToken?: string, error?: import("./errors.js").WireError}
 *   | {type: "invoke", id: string, target: string, args: unknown[]}} PageMessage
 */
/**
 * Relay to page.
 * @typedef {{type: "state", state: import("./hub-connection.js").HubState, error: import("./errors.js").WireError|null}
 *   | {type: "server", target: string, args: unknown[]}
 *   | {type: "needToken", requestId: string, replace: string|null}
 *   | {type: "result", id: string, result?: unknown, error?: import("./errors.js").WireError}
 *   | {type: "renewFailed", error: import("./errors.js").WireError}} RelayMessage
 */
/** @typedef {{postMessage: (m: any) => void, start?: () => void, close?: () => void, onmessage: any}} PortLike */

/** @type {Set<RealtimeRelay>} */
const instances = new Set();

export class RealtimeRelay {
  /**
   * @param {object} options
   * @param {(options: {getAccessToken: (r: {replace: string|null}) => Promise<string>}) => import("./hub-connection.js").HubConnection} options.createConnection
   * @param {import("./clock.js").Clock & {feed?: (now: number) => void}} options.clock
   */
  constructor({ createConnection, clock }) {
    this.clock = clock;
    /** @type {Map<PortLike, {tabId: string|null}>} */
    this.ports = new Map();
    /** Ports heard from since the last sweep. @type {Set<PortLike>} */
    this.heard = new Set();
    this.nextSweep = null;
    this.signedOut = false;
    /** @type {Map<string, {resolve: Function, reject: Function, timer: any, waiting: Set<PortLike>, errors: AuthClientError[]}>} */
    this.requests = new Map();
    this.nextRequest = 0;
    this.connection = createConnection({ getAccessToken: (request) => this.requestToken(request) });
    /** @type {RelayMessage} */
    this.lastState = { type: "state", state: "idle", error: null };
    this.connection.on("state", ({ state, error }) => {
      this.lastState = { type: "state", state, error };
      this.broadcast(this.lastState);
    });
    this.connection.on("server", ({ target, args }) => this.onServer(target, args));
    instances.add(this);
  }

  /** @param {PortLike} port */
  addPort(port) {
    port.onmessage = (event) => this.handle(port, event.data);
    port.start?.();
  }

  /**
   * @param {PortLike} port
   * @param {PageMessage} message
   */
  handle(port, message) {
    if (!message || typeof message.type !== "string") return;
    if (message.type === "bye") return this.remove(port);
    this.heard.add(port);
    if (!this.ports.has(port) && message.type !== "hello") {
      // A tab dropped as silent (frozen, throttled) is back: take it in again.
      this.ports.set(port, { tabId: null });
      this.post(port, this.lastState);
      if (!this.signedOut) this.connection.start();
    }
    switch (message.type) {
      case "hello":
        this.ports.set(port, { tabId: String(message.tabId) });
        this.signedOut = false;
        this.post(port, this.lastState);
        this.connection.start();
        break;
      case "start":
        this.signedOut = false;
        this.connection.start();
        break;
      case "tick":
        this.clock.feed?.(message.now);
        this.sweep();
        break;
      case "online":
        this.connection.reconnectNow();
        break;
      case "logout":
        this.signedOut = true;
        this.connection.stop();
        this.failRequests(new AuthClientError(CLIENT_CODES.signedOut));
        break;
      case "token":
        this.renew(Promise.resolve(message.accessToken));
        break;
      case "tokenReply":
        this.settle(port, message);
        break;
      case "invoke":
        this.connection.invoke(message.target, ...(Array.isArray(message.args) ? message.args : [])).then(
          (result) => this.post(port, { type: "result", id: message.id, result }),
          (error) => this.post(port, { type: "result", id: message.id, error: toWireError(error) }),
        );
        break;
      default:
        break;
    }
  }

  /** @param {PortLike} port */
  remove(port) {
    this.heard.delete(port);
    if (!this.ports.delete(port)) return;
    for (const request of this.requests.values()) {
      request.waiting.delete(port);
      this.maybeFail(request);
    }
    if (this.ports.size === 0) this.connection.stop();
  }

  /** @param {PortLike} port @param {RelayMessage} message */
  post(port, message) {
    try {
      port.postMessage(message);
    } catch (error) {
      // A port whose page is gone can throw; drop it rather than break the others.
      this.remove(port);
    }
  }

  /** @param {RelayMessage} message */
  broadcast(message) {
    for (const port of [...this.ports.keys()]) this.post(port, message);
  }

  /** Once per PORT_IDLE_MS of page-driven time, drop the ports not heard from since the last sweep. */
  sweep() {
    const now = this.clock.now();
    if (this.nextSweep === null) this.nextSweep = now + PORT_IDLE_MS;
    if (now < this.nextSweep) return;
    for (const port of [...this.ports.keys()]) if (!this.heard.has(port)) this.remove(port);
    this.heard.clear();
    this.nextSweep = now + PORT_IDLE_MS;
  }

  /**
   * Ask every tab for a token; the first answer wins.
   * @param {{replace: string|null}} request
   * @returns {Promise<string>}
   */
  requestToken({ replace = null } = { replace: null }) {
    if (this.ports.size === 0) return Promise.reject(new AuthClientError(CLIENT_CODES.noTab, { detail: "No tab to ask for a token." }));
    const requestId = String((this.nextRequest += 1));
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.requests.delete(requestId);
        reject(new AuthClientError(CLIENT_CODES.noTab, { detail: "No tab answered the token request." }));
      }, TOKEN_REQUEST_TIMEOUT_MS);
      this.requests.set(requestId, { resolve, reject, timer, waiting: new Set(this.ports.keys()), errors: [] });
      this.broadcast({ type: "needToken", requestId, replace });
    });
  }

  settle(port, { requestId, accessToken, error }) {
    const request = this.requests.get(requestId);
    if (!request) return;
    if (typeof accessToken === "string" && accessToken) {
      this.requests.delete(requestId);
      this.clock.clearTimeout(request.timer);
      request.resolve(accessToken);
      return;
    }
    request.errors.push(fromWireError(error ?? { code: CLIENT_CODES.badResponse, detail: "Empty token reply." }));
    request.waiting.delete(port);
    this.maybeFail(request);
  }

  /** Every asked tab has failed (or left): reject, preferring a definitive reason. */
  maybeFail(request) {
    if (request.waiting.size > 0) return;
    for (const [id, entry] of this.requests) if (entry === request) this.requests.delete(id);
    this.clock.clearTimeout(request.timer);
    const definitive = request.errors.find((e) => e.definitive);
    request.reject(definitive ?? request.errors[0] ?? new AuthClientError(CLIENT_CODES.noTab, { detail: "Every tab left." }));
  }

  failRequests(error) {
    for (const request of this.requests.values()) this.clock.clearTimeout(request.timer);
    const pending = [...this.requests.values()];
    this.requests.clear();
    for (const request of pending) request.reject(error);
  }

  onServer(target, args) {
    this.broadcast({ type: "server", target, args });
    if (String(target).toLowerCase() === HUB_EVENTS.tokenExpiring) {
      this.renew(this.requestToken({ replace: this.connection.token }));
    }
  }

  /** @param {Promise<string>} tokenPromise */
  renew(tokenPromise) {
    tokenPromise
      .then((token) => this.connection.renewToken(token))
      .catch((error) => {
        // A dropped connection is not a session problem: the reconnect asks for a token anyway.
        const wire = toWireError(error);
        if (wire.code !== CLIENT_CODES.connectionClosed) this.broadcast({ type: "renewFailed", error: wire });
      });
  }

  dispose() {
    this.failRequests(new AuthClientError(CLIENT_CODES.connectionClosed, { detail: "Relay disposed." }));
    this.connection.dispose();
    for (const port of this.ports.keys()) port.close?.();
    this.ports.clear();
    instances.delete(this);
  }
}

/** Reset hook: dispose every relay. */
export function resetRelays() {
  for (const relay of [...instances]) relay.dispose();
}
