/**
 * A broadcast transport between tabs of one origin: BroadcastChannel where the
 * browser has it, otherwise `storage` events on a localStorage key (every other
 * tab sees each write). Like BroadcastChannel, a tab never hears its own posts.
 * @module channel
 */
import { STORAGE_PREFIX } from "./constants.js";

/**
 * @typedef {object} Channel
 * @property {(message: object) => void} postMessage
 * @property {(listener: (message: any) => void) => () => void} subscribe returns unsubscribe
 * @property {() => void} close
 */

/** @type {Set<Channel>} */
const open = new Set();

/**
 * @param {string} name
 * @param {object} [options]
 * @param {typeof BroadcastChannel | null} [options.BroadcastChannel] null forces the storage-event transport
 * @param {Storage} [options.storage] used only without BroadcastChannel
 * @param {EventTarget} [options.storageEvents] where `storage` events arrive (window)
 * @returns {Channel}
 */
export function openChannel(name, {
  BroadcastChannel: BC = globalThis.BroadcastChannel,
  storage = globalThis.localStorage,
  storageEvents = globalThis.window,
} = {}) {
  const channel = typeof BC === "function" ? broadcastChannel(new BC(name)) : storageChannel(name, storage, storageEvents);
  open.add(channel);
  const close = channel.close;
  channel.close = () => {
    open.delete(channel);
    close();
  };
  return channel;
}

/** @param {BroadcastChannel} bc */
function broadcastChannel(bc) {
  /** @type {Set<(message: any) => void>} */
  const listeners = new Set();
  bc.onmessage = (event) => {
    for (const listener of [...listeners]) listener(event.data);
  };
  // Node keeps its event loop alive for an open channel; browsers have no unref.
  if (typeof /** @type {any} */ (bc).unref === "function") /** @type {any} */ (bc).unref();
  return {
    postMessage: (message) => bc.postMessage(message),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => {
      listeners.clear();
      bc.close();
    },
  };
}

/**
 * @param {string} name
 * @param {Storage} storage
 * @param {EventTarget|undefined} events
 */
function storageChannel(name, storage, events) {
  const key = `${STORAGE_PREFIX}bus:${name}`;
  /** @type {Set<(message: any) => void>} */
  const listeners = new Set();
  const onStorage = (/** @type {StorageEvent} */ event) => {
    if (event.key !== key || !event.newValue) return;
    let envelope;
    try {
      envelope = JSON.parse(event.newValue);
    } catch (error) {
      if (error instanceof SyntaxError) return;
      throw error;
    }
    for (const listener of [...listeners]) listener(envelope.message);
  };
  events?.addEventListener("storage", onStorage);
  let seq = 0;
  return {
    postMessage(message) {
      // A unique value per post, so that posting the same message twice still fires `storage`.
      storage.setItem(key, JSON.stringify({ seq: `${Date.now()}-${(seq += 1)}-${Math.random()}`, message }));
      storage.removeItem(key);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      listeners.clear();
      events?.removeEventListener("storage", onStorage);
    },
  };
}

/** Reset hook: close every channel this module opened. */
export function resetChannels() {
  for (const channel of [...open]) channel.close();
}
