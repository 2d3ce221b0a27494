/**
 * Unique ids for snapshots, lock claims and tabs (not secrets).
 * @module ids
 */

/** @returns {string} a random id; crypto.randomUUID where available (secure contexts) */
export function randomId() {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
