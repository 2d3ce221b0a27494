/**
 * A minimal event emitter and a DOM listener helper that returns its undo.
 * @module emitter
 */

/** @typedef {(detail: any) => void} Listener */

export class Emitter {
  constructor() {
    /** @type {Map<string, Set<Listener>>} */
    this.listeners = new Map();
  }

  /**
   * @param {string} type
   * @param {Listener} fn
   * @returns {() => void} unsubscribe
   */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)?.add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  /** @param {string} type @param {any} [detail] */
  emit(type, detail) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) fn(detail);
  }

  /** Reset hook: drop every listener. */
  clearListeners() {
    this.listeners.clear();
  }
}

/**
 * @param {EventTarget|undefined|null} target
 * @param {string} type
 * @param {EventListener} fn
 * @returns {() => void} removes the listener
 */
export function listen(target, type, fn) {
  if (!target) return () => {};
  target.addEventListener(type, fn);
  return () => target.removeEventListener(type, fn);
}
