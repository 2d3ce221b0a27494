/**
 * Session sync between tabs: what one tab learns (a refreshed token, a logout,
 * a login) reaches the others over a broadcast channel, and the non-sensitive
 * session data (the snapshot, the last activity time) lives in localStorage
 * under one prefix.
 *
 * The session and refresh tokens are HttpOnly cookies and never pass through
 * here. The access token (good only for the realtime hub) is stored with the
 * lifetime the server stated and the wall time it was stored, so another tab
 * can tell how much of it is left ({@link import("./schedule.js").remainingFromShared}).
 *
 * A received message is never re-broadcast: `post` refuses any message object
 * that came from `subscribe`.
 * @module sync
 */
import { CHANNEL_NAME, STORAGE_PREFIX } from "./constants.js";
import { openChannel } from "./channel.js";

/**
 * @typedef {object} SessionUser
 * @property {string|number} id
 * @property {string} username
 * @property {string} [display_name]
 * @property {string|null} [avatar_url]
 * @property {string|null} [playfab_id]
 */
/**
 * What one tab shares about the session. Lifetimes are as the server stated
 * them, shortened by the time between the answer and `savedAt`.
 * @typedef {object} AuthSnapshot
 * @property {1} v
 * @property {string} id unique per server answer; lets a tab see that another refreshed
 * @property {number} savedAt wall clock (ms) when the remaining values below were true
 * @property {string|null} accessToken
 * @property {number|null} accessExpiresInMs
 * @property {number|null} accessLifetimeMs
 * @property {number|null} sessionExpiresInMs the session cookie's remaining lifetime
 * @property {number|null} sessionLifetimeMs
 * @property {number|null} absoluteRemainingMs time left before the session's absolute end
 * @property {string|null} sessionId
 * @property {SessionUser|null} user
 */
/**
 * Messages between tabs.
 * @typedef {{type: "token", snapshot: AuthSnapshot}
 *   | {type: "logout", reason: string}
 *   | {type: "login", sessionId: string|null}} SyncMessage
 */

const SNAPSHOT_KEY = `${STORAGE_PREFIX}auth`;
const LAST_ACTIVE_KEY = `${STORAGE_PREFIX}lastActive`;
const MESSAGE_TYPES = new Set(["token", "logout", "login"]);

/** @type {Set<ReturnType<typeof createSync>>} */
const instances = new Set();

/**
 * @param {unknown} value
 * @returns {value is AuthSnapshot}
 */
export function isSnapshot(value) {
  if (!value || typeof value !== "object") return false;
  const s = /** @type {Record<string, unknown>} */ (value);
  const numOrNull = (k) => s[k] === null || (typeof s[k] === "number" && Number.isFinite(s[k]));
  return s.v === 1 && typeof s.id === "string" && typeof s.savedAt === "number"
    && (s.accessToken === null || typeof s.accessToken === "string")
    && ["accessExpiresInMs", "accessLifetimeMs", "sessionExpiresInMs", "sessionLifetimeMs", "absoluteRemainingMs"].every(numOrNull);
}

/**
 * @param {object} [options]
 * @param {Storage} [options.storage]
 * @param {import("./channel.js").Channel} [options.channel]
 */
export function createSync({ storage = globalThis.localStorage, channel } = {}) {
  const bus = channel ?? openChannel(CHANNEL_NAME);
  /** @type {WeakSet<object>} */
  const received = new WeakSet();

  const get = (key) => {
    try {
      const raw = storage.getItem(key);
      return raw === null ? null : JSON.parse(raw);
    } catch (error) {
      // Storage disabled (SecurityError) or a value another version wrote.
      if (error instanceof SyntaxError || isDomException(error)) return null;
      throw error;
    }
  };
  const set = (key, value) => {
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (error) {
      // Quota or disabled storage: sync still works over the channel.
      if (!isDomException(error)) throw error;
    }
  };

  const sync = {
    /** @param {SyncMessage} message */
    post(message) {
      if (received.has(message)) throw new Error("A received broadcast is never re-broadcast.");
      if (!MESSAGE_TYPES.has(message.type)) throw new TypeError(`Unknown sync message ${message.type}`);
      bus.postMessage(message);
    },
    /**
     * @param {(message: SyncMessage) => void} listener
     * @returns {() => void} unsubscribe
     */
    subscribe(listener) {
      return bus.subscribe((message) => {
        if (!message || typeof message !== "object" || !MESSAGE_TYPES.has(message.type)) return;
        if (message.type === "token" && !isSnapshot(message.snapshot)) return;
        received.add(message);
        listener(message);
      });
    },
    /** @returns {AuthSnapshot|null} */
    loadSnapshot() {
      const value = get(SNAPSHOT_KEY);
      return isSnapshot(value) ? value : null;
    },
    /** @param {AuthSnapshot} snapshot */
    saveSnapshot(snapshot) {
      set(SNAPSHOT_KEY, snapshot);
    },
    /** @returns {number|null} wall time of the last activity any tab recorded */
    lastActive() {
      const value = get(LAST_ACTIVE_KEY);
      return typeof value === "number" ? value : null;
    },
    /** @param {number} wall */
    setLastActive(wall) {
      set(LAST_ACTIVE_KEY, wall);
    },
    /** Remove everything this client stored (sign-out). */
    clear() {
      try {
        const keys = [];
        for (let i = 0; i < storage.length; i += 1) {
          const key = storage.key(i);
          if (key && key.startsWith(STORAGE_PREFIX)) keys.push(key);
        }
        for (const key of keys) storage.removeItem(key);
      } catch (error) {
        if (!isDomException(error)) throw error;
      }
    },
    close() {
      instances.delete(sync);
      if (!channel) bus.close();
    },
  };
  instances.add(sync);
  return sync;
}

/** @param {unknown} error */
function isDomException(error) {
  return typeof DOMException === "function" && error instanceof DOMException;
}

/** Reset hook: close every sync instance. */
export function resetSync() {
  for (const sync of [...instances]) sync.close();
}
