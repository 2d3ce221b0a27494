/**
 * Page side of the realtime connection. Registers this tab with the
 * SharedWorker that owns the browser's one hub connection (or, without
 * SharedWorker, runs the same relay and connection in this page), drives the
 * worker's clock with `tick` messages, answers its token requests through the
 * token service, and turns hub events into session checks:
 * `sessionRevoked` or a refused connection ("unauthorized") asks the server
 * about the session, and restarts the connection if it is still good.
 *
 * Events: "state" ({state, error}), "server" ({target, args}).
 * @module realtime
 */
import { HUB_EVENTS, WORKER_NAME, WORKER_TICK_MS } from "./constants.js";
import { getClock } from "./clock.js";
import { Emitter, listen } from "./emitter.js";
import { fromWireError, toWireError } from "./errors.js";
import { HubConnection } from "./hub-connection.js";
import { RealtimeRelay } from "./realtime-relay.js";
import { ignoreHandled } from "./token-service.js";
import { randomId } from "./ids.js";

/** @type {Set<RealtimeClient>} */
const instances = new Set();


export class RealtimeClient extends Emitter {
  /**
   * @param {object} options
   * @param {import("./token-service.js").TokenService} options.tokenService
   * @param {import("./clock.js").Clock} [options.clock]
   * @param {URL|string} [options.workerUrl]
   * @param {boolean} [options.shared] use a SharedWorker when the browser has one
   * @param {EventTarget} [options.win]
   * @param {object} [options.connectionOptions] extra HubConnection options for the in-page fallback (tests)
   */
  constructor({ tokenService, clock = getClock(), workerUrl = new URL("./realtime-worker.js", import.meta.url),
    shared = typeof globalThis.SharedWorker === "function", win = globalThis.window, connectionOptions = {} }) {
    super();
    Object.assign(this, { tokenService, clock, workerUrl, win, connectionOptions });
    this.useShared = shared;
    this.tabId = randomId();
    /** @type {import("./hub-connection.js").HubState} */ this.state = "idle";
    /** @type {"shared-worker" | "page" | null} */ this.mode = null;
    this.port = null;
    this.relay = null;
    this.pending = new Map();
    this.nextId = 0;
    this.tickTimer = null;
    this.detach = [];
    instances.add(this);
  }

  /** Register with the worker (or start the in-page relay) and begin ticking. */
  connect() {
    if (this.port) return;
    this.openPort();
    const ts = this.tokenService;
    this.detach.push(
      ts.on("token", (accessToken) => accessToken && this.post({ type: "token", accessToken })),
      ts.on("signedout", () => this.post({ type: "logout" })),
      ts.on("session", () => { if (this.state === "unauthorized") this.post({ type: "start" }); }),
      listen(this.win, "pagehide", () => this.close()),
      listen(this.win, "online", () => this.post({ type: "online" })),
    );
    const tick = () => {
      this.post({ type: "tick", now: this.clock.wallNow() });
      this.tickTimer = this.clock.setTimeout(tick, WORKER_TICK_MS);
    };
    tick();
  }

  openPort() {
    if (this.useShared) {
      try {
        const worker = new SharedWorker(this.workerUrl, { type: "module", name: WORKER_NAME });
        worker.addEventListener("error", () => this.fallBack());
        this.mode = "shared-worker";
        return this.bind(worker.port);
      } catch (error) {
        // Module SharedWorkers unsupported or blocked: run the connection in this page.
        if (!(error instanceof TypeError) && !(error instanceof DOMException)) throw error;
      }
    }
    this.mode = "page";
    const { port1, port2 } = new MessageChannel();
    this.relay = new RealtimeRelay({
      clock: this.clock,
      createConnection: ({ getAccessToken }) => new HubConnection({ ...this.connectionOptions, getAccessToken, clock: this.clock }),
    });
    this.relay.addPort(port2);
    this.bind(port1);
  }

  /** The worker failed to load: continue with a connection of this page's own. */
  fallBack() {
    if (this.mode !== "shared-worker") return;
    this.port?.close();
    this.useShared = false;
    this.openPort();
  }

  /** @param {MessagePort} port */
  bind(port) {
    this.port = port;
    port.onmessage = (event) => this.onMessage(event.data);
    port.start();
    this.post({ type: "hello", tabId: this.tabId });
  }

  /** @param {import("./realtime-relay.js").PageMessage} message */
  post(message) {
    this.port?.postMessage(message);
  }

  /** @param {import("./realtime-relay.js").RelayMessage} message */
  onMessage(message) {
    if (!message || typeof message.type !== "string") return;
    if (message.type === "state") {
      this.state = message.state;
      this.emit("state", { state: message.state, error: message.error });
      if (message.state === "unauthorized") this.tokenService.checkSession({ force: true });
    } else if (message.type === "server") {
      this.emit("server", { target: message.target, args: message.args });
      if (String(message.target).toLowerCase() === HUB_EVENTS.sessionRevoked) this.tokenService.checkSession({ force: true });
    } else if (message.type === "needToken") {
      this.tokenService.getFreshToken({ replace: message.replace }).then(
        (accessToken) => this.post({ type: "tokenReply", requestId: message.requestId, accessToken }),
        (error) => this.post({ type: "tokenReply", requestId: message.requestId, error: toWireError(error) }),
      );
    } else if (message.type === "result") {
      const entry = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) entry?.reject(fromWireError(message.error));
      else entry?.resolve(message.result);
    } else if (message.type === "renewFailed") {
      this.tokenService.checkSession({ force: true }).catch(ignoreHandled);
    }
  }

  /**
   * Call a hub method through the shared connection.
   * @param {string} target
   * @param {...unknown} args
   */
  invoke(target, ...args) {
    const id = String((this.nextId += 1));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ type: "invoke", id, target, args });
    });
  }

  /** Ask for the connection to start again (after a session check). */
  start() {
    this.post({ type: "start" });
  }

  /** Leave: the worker keeps the connection for the other tabs. */
  close() {
    if (!this.port) return;
    this.post({ type: "bye" });
    this.clock.clearTimeout(this.tickTimer);
    for (const off of this.detach.splice(0)) off();
    this.port.close();
    this.port = null;
    this.relay?.dispose();
    this.relay = null;
  }

  dispose() {
    this.close();
    this.clearListeners();
    instances.delete(this);
  }
}

/** Reset hook: close every client. */
export function resetRealtime() {
  for (const client of [...instances]) client.dispose();
}
