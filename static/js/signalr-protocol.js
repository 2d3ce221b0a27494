/**
 * The SignalR JSON hub protocol, version 1: pure framing, parsing and invocation
 * bookkeeping, shared by the SharedWorker and the per-tab fallback.
 *
 * Records are JSON texts each terminated by the record separator 0x1E. The
 * client opens with the handshake `{"protocol":"json","version":1}`; the server
 * answers `{}` or `{"error": ...}`, possibly followed by messages in the same
 * frame. Message types: 1 invocation, 2 stream item, 3 completion, 4 stream
 * invocation, 5 cancel invocation, 6 ping, 7 close (with `allowReconnect`).
 * Reference: ASP.NET Core SignalR HubProtocol.md, "JSON Encoding".
 * @module signalr-protocol
 */
import { AuthClientError, CLIENT_CODES } from "./errors.js";

export const RECORD_SEPARATOR = "\u001e";

export const MessageType = Object.freeze({
  Invocation: 1,
  StreamItem: 2,
  Completion: 3,
  StreamInvocation: 4,
  CancelInvocation: 5,
  Ping: 6,
  Close: 7,
});

export const HANDSHAKE_REQUEST = Object.freeze({ protocol: "json", version: 1 });

/**
 * @typedef {{type: 1, target: string, arguments: unknown[], invocationId?: string}} InvocationMessage
 * @typedef {{type: 3, invocationId: string, result?: unknown, error?: string}} CompletionMessage
 * @typedef {{type: 6}} PingMessage
 * @typedef {{type: 7, error?: string, allowReconnect?: boolean}} CloseMessage
 * @typedef {InvocationMessage | CompletionMessage | PingMessage | CloseMessage | {type: number}} HubMessage
 */

export class ProtocolError extends AuthClientError {
  /** @param {string} detail */
  constructor(detail) {
    super(CLIENT_CODES.hubError, { detail });
    this.name = "ProtocolError";
  }
}

/**
 * @param {object} message
 * @returns {string} one record
 */
export function frame(message) {
  return JSON.stringify(message) + RECORD_SEPARATOR;
}

/** @returns {string} the handshake request record */
export function handshakeRequest() {
  return frame(HANDSHAKE_REQUEST);
}

/** The ping record, sent as keep-alive. */
export const PING = frame({ type: MessageType.Ping });

/**
 * Split a frame into its JSON records.
 * @param {string|ArrayBuffer|Uint8Array} data
 * @returns {unknown[]}
 * @throws {ProtocolError} when a record is incomplete or not JSON
 */
export function parseRecords(data) {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  if (!text.endsWith(RECORD_SEPARATOR)) throw new ProtocolError("Message is incomplete (no record separator).");
  const parts = text.split(RECORD_SEPARATOR);
  parts.pop();
  return parts.map((part) => {
    try {
      return JSON.parse(part);
    } catch (error) {
      if (error instanceof SyntaxError) throw new ProtocolError(`Record is not JSON: ${error.message}`);
      throw error;
    }
  });
}

/**
 * Parse and check hub messages.
 * @param {string|ArrayBuffer|Uint8Array} data
 * @returns {HubMessage[]}
 */
export function parseMessages(data) {
  return parseRecords(data).map((record) => {
    if (!record || typeof record !== "object" || !Number.isInteger(/** @type {any} */ (record).type)) {
      throw new ProtocolError("Record has no message type.");
    }
    const message = /** @type {any} */ (record);
    if (message.type === MessageType.Invocation && typeof message.target !== "string") {
      throw new ProtocolError("Invocation without a target.");
    }
    if (message.type === MessageType.Completion && typeof message.invocationId !== "string") {
      throw new ProtocolError("Completion without an invocationId.");
    }
    return message;
  });
}

/**
 * Parse the server's handshake response, which may share its frame with messages.
 * @param {string|ArrayBuffer|Uint8Array} data
 * @returns {{error: string|null, messages: HubMessage[]}}
 */
export function parseHandshake(data) {
  const text = typeof data === "string" ? data : new TextDecoder().decode(data);
  const end = text.indexOf(RECORD_SEPARATOR);
  if (end < 0) throw new ProtocolError("Handshake response is incomplete.");
  const [response] = parseRecords(text.slice(0, end + 1));
  if (!response || typeof response !== "object") throw new ProtocolError("Handshake response is not an object.");
  const error = /** @type {any} */ (response).error;
  const rest = text.slice(end + 1);
  return { error: typeof error === "string" ? error : null, messages: rest ? parseMessages(rest) : [] };
}

/**
 * @param {string} target
 * @param {unknown[]} args
 * @param {string} [invocationId] omitted for fire-and-forget
 * @returns {InvocationMessage}
 */
export function invocation(target, args, invocationId) {
  /** @type {InvocationMessage} */
  const message = { type: MessageType.Invocation, target, arguments: args };
  if (invocationId !== undefined) message.invocationId = invocationId;
  return message;
}

/**
 * What a close message asks for. A close without `allowReconnect: true` does not
 * allow reconnecting, as in @microsoft/signalr.
 * @param {CloseMessage} message
 */
export function closeInfo(message) {
  return { error: typeof message.error === "string" ? message.error : null, allowReconnect: message.allowReconnect === true };
}

/** Pending invocations by id: ids are assigned in order, completions settle them. */
export class InvocationTracker {
  constructor() {
    this.nextId = 0;
    /** @type {Map<string, {resolve: (v: unknown) => void, reject: (e: unknown) => void}>} */
    this.pending = new Map();
  }

  /**
   * @param {string} target
   * @param {unknown[]} args
   * @returns {{message: InvocationMessage, result: Promise<unknown>}}
   */
  create(target, args) {
    const id = String(this.nextId);
    this.nextId += 1;
    const result = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    return { message: invocation(target, args, id), result };
  }

  /**
   * Settle the invocation a completion names.
   * @param {CompletionMessage} message
   * @returns {boolean} false for an unknown id
   */
  complete(message) {
    const entry = this.pending.get(message.invocationId);
    if (!entry) return false;
    this.pending.delete(message.invocationId);
    if (typeof message.error === "string") entry.reject(new AuthClientError(CLIENT_CODES.hubError, { detail: message.error }));
    else entry.resolve(message.result ?? null);
    return true;
  }

  /** @param {string} id @param {unknown} error forget one invocation (send failed) */
  fail(id, error) {
    const entry = this.pending.get(id);
    this.pending.delete(id);
    entry?.reject(error);
  }

  /** @param {unknown} error reject everything pending (connection closed) */
  rejectAll(error) {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) entry.reject(error);
  }

  get size() {
    return this.pending.size;
  }
}
