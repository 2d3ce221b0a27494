/**
 * One SignalR JSON-protocol connection to the hub, with reconnects. Runs in the
 * SharedWorker (one per browser) or, where SharedWorker is missing, in a page.
 *
 * Each attempt asks `getAccessToken` for a token (the accessTokenFactory),
 * negotiates with it as a Bearer token, then opens the WebSocket with it as the
 * `access_token` query parameter. A negotiate 401 asks once for a token other
 * than the rejected one. A close message without `allowReconnect: true` (the
 * session was revoked) stops in state "unauthorized": the pages check the
 * session and call `start` again if it is still good. Any other drop reconnects
 * with back-off, forever.
 *
 * Timers: `clock` for decisions (back-off, handshake and server timeouts), which
 * in the worker is driven by the pages; `keepAliveClock` only for keep-alive
 * pings and presence heartbeats, which must keep flowing while every tab's
 * timers are throttled in the background.
 * @module hub-connection
 */
import {
  HUB_HANDSHAKE_TIMEOUT_MS, HUB_KEEPALIVE_MS, HUB_METHODS, HUB_PRESENCE_INTERVAL_MS, HUB_PROBE_TIMEOUT_MS,
  HUB_RECONNECT_BACKOFF_MS, HUB_SERVER_TIMEOUT_MS, HUB_STABLE_MS, PATHS,
} from "./constants.js";
import { getClock } from "./clock.js";
import { Emitter } from "./emitter.js";
import { AuthClientError, CLIENT_CODES, classifyResponse, toWireError } from "./errors.js";
import { backoffMs } from "./schedule.js";
import { InvocationTracker, MessageType, PING, closeInfo, frame, handshakeRequest, parseHandshake, parseMessages } from "./signalr-protocol.js";

/** @typedef {"idle" | "connecting" | "connected" | "reconnecting" | "unauthorized"} HubState */

const closed = (detail) => new AuthClientError(CLIENT_CODES.connectionClosed, { detail });
/** @type {Set<HubConnection>} */
const instances = new Set();

/**
 * Events: "state" ({state, error}), "server" ({target, args}).
 */
export class HubConnection extends Emitter {
  /**
   * @param {object} options
   * @param {(request: {replace: string|null}) => Promise<string>} options.getAccessToken
   * @param {string} [options.url] hub path or URL
   * @param {string} [options.baseUrl] resolves `url` (the page or worker location)
   * @param {import("./clock.js").Clock} [options.clock]
   * @param {import("./clock.js").Clock} [options.keepAliveClock]
   * @param {typeof fetch} [options.fetch]
   * @param {typeof WebSocket} [options.WebSocket]
   * @param {() => number} [options.random]
   */
  constructor({ getAccessToken, url = PATHS.hub, baseUrl = globalThis.location?.href, clock = getClock(), keepAliveClock = clock,
    fetch: fetchFn = (...a) => globalThis.fetch(...a), WebSocket: WS = globalThis.WebSocket, random = Math.random }) {
    super();
    Object.assign(this, { getAccessToken, clock, keepAliveClock, fetchFn, WS, random });
    this.hubUrl = new URL(url, baseUrl);
    /** @type {HubState} */ this.state = "idle";
    this.generation = 0;
    this.attempt = 0;
    this.tracker = new InvocationTracker();
    /** @type {string|null} the token the live connection authenticated with */ this.token = null;
    this.socket = null;
    this.timers = {};
    this.keepAlive = [];
    /** @type {{token: string, done: Promise<void>}|null} */ this.renewing = null;
    instances.add(this);
  }

  /** @param {HubState} state @param {unknown} [error] */
  setState(state, error) {
    this.state = state;
    this.emit("state", { state, error: error ? toWireError(error) : null });
  }

  /** Connect (no-op while connecting or connected); after "unauthorized", with back-off. */
  start() {
    if (this.state === "connecting" || this.state === "connected" || this.state === "reconnecting") return;
    if (this.state === "unauthorized") this.scheduleReconnect(null);
    else void this.connect();
  }

  /** Close for good (logout, last tab gone). */
  stop() {
    this.generation += 1;
    this.teardown(closed("Connection stopped."));
    this.setState("idle");
  }

  /** Skip the current back-off wait (the network came back). */
  reconnectNow() {
    if (this.state === "reconnecting" && this.timers.reconnect) {
      this.clock.clearTimeout(this.timers.reconnect);
      this.timers.reconnect = null;
      void this.connect();
    }
  }

  /** @param {string} target @param {...unknown} args @returns {Promise<unknown>} */
  invoke(target, ...args) {
    if (this.state !== "connected" || !this.socket) return Promise.reject(closed("Not connected."));
    const { message, result } = this.tracker.create(target, args);
    try {
      this.socket.send(frame(message));
    } catch (error) {
      this.tracker.fail(message.invocationId, closed(String(error)));
    }
    return result;
  }

  /**
   * Renew the live connection's token in-band; resolves once the server took it.
   * Every tab reports the same new token: one RenewToken is sent for it.
   */
  renewToken(token) {
    if (token === this.token || this.state !== "connected") return Promise.resolve();
    if (this.renewing?.token !== token) {
      const renewing = { token, done: this.invoke(HUB_METHODS.renewToken, token).then(() => { this.token = token; }) };
      renewing.done.finally(() => { if (this.renewing === renewing) this.renewing = null; }).catch(() => {});
      this.renewing = renewing;
    }
    return this.renewing.done;
  }

  async connect(replace = null) {
    const gen = ++this.generation;
    this.teardown(null);
    this.setState(this.attempt > 0 || this.token ? "reconnecting" : "connecting");
    let token;
    let connectionToken;
    try {
      token = await this.getAccessToken({ replace });
      if (gen !== this.generation) return;
      connectionToken = await this.negotiate(token);
    } catch (error) {
      if (gen !== this.generation) return;
      if (error instanceof AuthClientError && error.status === 401) {
        // The token was refused: once ask for another; twice means the session needs a check.
        if (replace === null && token) return void this.connect(token);
        return this.setState("unauthorized", error);
      }
      if (error instanceof AuthClientError && error.definitive) return this.setState("unauthorized", error);
      return this.scheduleReconnect(error);
    }
    if (gen !== this.generation) return;
    this.open(gen, token, connectionToken);
  }

  async negotiate(token) {
    const url = new URL(`${this.hubUrl.pathname.replace(/\/$/, "")}/negotiate`, this.hubUrl);
    url.searchParams.set("negotiateVersion", "1");
    let response;
    let body;
    try {
      response = await this.fetchFn(url.href, { method: "POST", headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
      body = await response.json().catch(() => null);
    } catch (error) {
      throw new AuthClientError(CLIENT_CODES.network, { detail: "Negotiate failed.", cause: error });
    }
    if (!response.ok) {
      throw classifyResponse(response.status, body, response.headers?.get?.("Retry-After") ?? null);
    }
    const id = body?.connectionToken ?? body?.connectionId;
    if (typeof id !== "string") throw new AuthClientError(CLIENT_CODES.badResponse, { detail: body?.error ?? "Negotiate gave no connection id." });
    return id;
  }

  open(gen, token, connectionToken) {
    const url = new URL(this.hubUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("id", connectionToken);
    url.searchParams.set("access_token", token);
    const socket = new this.WS(url.href);
    this.socket = socket;
    let handshaken = false;
    /** @type {{error: string|null, allowReconnect: boolean}|null} */
    let closeMessage = null;
    socket.onopen = () => {
      if (gen !== this.generation) return;
      socket.send(handshakeRequest());
      this.timers.handshake = this.clock.setTimeout(() => socket.close(4000, "handshake timeout"), HUB_HANDSHAKE_TIMEOUT_MS);
    };
    socket.onmessage = (event) => {
      if (gen !== this.generation) return;
      let messages;
      try {
        if (handshaken) messages = parseMessages(event.data);
        else {
          const handshake = parseHandshake(event.data);
          if (handshake.error) throw new AuthClientError(CLIENT_CODES.handshake, { detail: handshake.error });
          handshaken = true;
          this.connected(token);
          messages = handshake.messages;
        }
      } catch (error) {
        if (!(error instanceof AuthClientError)) throw error;
        closeMessage = { error: error.detail, allowReconnect: true };
        socket.close(4000, "protocol error");
        return;
      }
      this.received += 1;
      for (const message of messages) {
        if (message.type === MessageType.Close) {
          closeMessage = closeInfo(/** @type {any} */ (message));
          socket.close(1000);
          return;
        }
        this.dispatch(/** @type {any} */ (message));
      }
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (gen !== this.generation) return;
      this.generation += 1;
      const error = closed(closeMessage?.error ?? `Socket closed (${event.code}).`);
      this.teardown(error);
      if (closeMessage && !closeMessage.allowReconnect) this.setState("unauthorized", error);
      else this.scheduleReconnect(error);
    };
  }

  connected(token) {
    this.clock.clearTimeout(this.timers.handshake);
    this.token = token;
    this.received = 0;
    this.setState("connected");
    this.timers.stable = this.clock.setTimeout(() => { this.attempt = 0; }, HUB_STABLE_MS);
    this.armServerTimeout();
    const every = (ms, fn) => {
      const tick = () => { fn(); handle.id = this.keepAliveClock.setTimeout(tick, ms); };
      const handle = { id: this.keepAliveClock.setTimeout(tick, ms) };
      this.keepAlive.push(handle);
    };
    every(HUB_KEEPALIVE_MS, () => this.socket?.send(PING));
    every(HUB_PRESENCE_INTERVAL_MS, () => this.invoke(HUB_METHODS.heartbeat).catch(() => {}));
  }

  /** No message for a whole timeout: probe with an invocation before giving up on the socket. */
  armServerTimeout() {
    this.timers.server = this.clock.setTimeout(() => {
      if (this.received > 0) {
        this.received = 0;
        return this.armServerTimeout();
      }
      const socket = this.socket;
      this.timers.probe = this.clock.setTimeout(() => socket?.close(4000, "server timeout"), HUB_PROBE_TIMEOUT_MS);
      this.invoke(HUB_METHODS.heartbeat).catch(() => {}).finally(() => {
        if (socket !== this.socket) return;
        this.clock.clearTimeout(this.timers.probe);
        this.received = 0;
        this.armServerTimeout();
      });
    }, HUB_SERVER_TIMEOUT_MS);
  }

  /** @param {import("./signalr-protocol.js").HubMessage & Record<string, any>} message */
  dispatch(message) {
    if (message.type === MessageType.Completion) this.tracker.complete(message);
    else if (message.type === MessageType.Invocation) {
      this.emit("server", { target: message.target, args: Array.isArray(message.arguments) ? message.arguments : [] });
      if (message.invocationId !== undefined) {
        this.socket?.send(frame({ type: MessageType.Completion, invocationId: message.invocationId, error: "Client does not return results." }));
      }
    }
  }

  /** @param {unknown} error */
  scheduleReconnect(error) {
    const delay = backoffMs(this.attempt, { steps: HUB_RECONNECT_BACKOFF_MS, random: this.random });
    this.attempt += 1;
    this.setState("reconnecting", error);
    this.clock.clearTimeout(this.timers.reconnect);
    this.timers.reconnect = this.clock.setTimeout(() => {
      this.timers.reconnect = null;
      void this.connect();
    }, delay);
  }

  /** Close the socket (if any) and clear every timer; `error` rejects pending invocations. */
  teardown(error) {
    for (const id of Object.values(this.timers)) this.clock.clearTimeout(id);
    this.timers = {};
    for (const handle of this.keepAlive.splice(0)) this.keepAliveClock.clearTimeout(handle.id);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000);
    if (error) this.tracker.rejectAll(error);
  }

  dispose() {
    this.stop();
    this.clearListeners();
    instances.delete(this);
  }
}

/** Reset hook: stop every connection. */
export function resetHubConnections() {
  for (const connection of [...instances]) connection.dispose();
}
