// Test doubles shared by the node --test suites of the browser modules.

/** A Storage backed by a Map; several "tabs" can share one. */
export function createFakeStorage() {
  const map = new Map();
  return {
    get length() { return map.size; },
    key: (i) => [...map.keys()][i] ?? null,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => { map.set(k, String(v)); },
    removeItem: (k) => { map.delete(k); },
    clear: () => map.clear(),
    dump: () => Object.fromEntries(map),
  };
}

/**
 * An in-memory broadcast bus with BroadcastChannel semantics (asynchronous
 * delivery, never to the sender, structured-cloned payloads) but deterministic:
 * delivery happens on a microtask.
 */
export function createFakeBus() {
  const members = new Set();
  const sent = [];
  return {
    sent,
    /** A channel endpoint for one tab (implements the channel.js Channel interface). */
    open() {
      const listeners = new Set();
      const member = {
        deliver: (m) => { for (const l of [...listeners]) l(structuredClone(m)); },
      };
      members.add(member);
      return {
        postMessage(message) {
          sent.push(structuredClone(message));
          for (const other of members) if (other !== member) queueMicrotask(() => other.deliver(message));
        },
        subscribe(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
        close() {
          listeners.clear();
          members.delete(member);
        },
      };
    },
  };
}

/** Let macrotasks (Node's BroadcastChannel delivery) and microtasks run, without sleeping. */
export async function flushAll(rounds = 5) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/**
 * A scripted auth API: `answers[path]` is a list of handlers (or one handler)
 * consumed in order; each returns an answer object or throws. Every call is recorded.
 */
export function createFakeApi(answers = {}) {
  const calls = [];
  const queues = new Map(Object.entries(answers).map(([k, v]) => [k, Array.isArray(v) ? [...v] : [v]]));
  return {
    calls,
    count: (path) => calls.filter((c) => c === path).length,
    script(path, ...handlers) { queues.set(path, handlers); },
    async post(path) {
      calls.push(path);
      const queue = queues.get(path);
      if (!queue || queue.length === 0) throw new Error(`unexpected call ${path}`);
      const handler = queue.length > 1 ? queue.shift() : queue[0];
      return typeof handler === "function" ? handler() : structuredClone(handler);
    },
  };
}

let tokenSeq = 0;
/** A validate/refresh answer as the server sends it. */
export function sessionAnswer({ token = `tok-${(tokenSeq += 1)}`, accessIn = 3600, sessionIn = 3600, refreshed = true, sessionId = "s1", absoluteIn = 30 * 86400 } = {}) {
  const now = 1_800_000_000;
  return {
    valid: true,
    refreshed,
    user: { id: 7, username: "ada", display_name: "Ada", avatar_url: null, playfab_id: "PF1" },
    session: { id: sessionId, expires_at: now + 3 * 86400, absolute_expires_at: now + absoluteIn },
    session_token_expires_in: sessionIn,
    access_token: token,
    access_expires_in: accessIn,
    server_time: now,
  };
}

/** A minimal fake WebSocket recording what the client sends. */
export class FakeWebSocket {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    this.closedWith = null;
    FakeWebSocket.instances.push(this);
  }
  send(data) {
    if (this.readyState !== 1) throw new Error("InvalidStateError");
    this.sent.push(data);
  }
  close(code = 1000, reason = "") {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.closedWith = { code, reason };
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
  // Test-side controls.
  serverOpen() { this.readyState = 1; this.onopen?.({}); }
  serverSend(text) { this.onmessage?.({ data: text }); }
  serverDrop(code = 1006) { this.readyState = 3; this.onclose?.({ code, reason: "" }); }
  sentMessages() {
    return this.sent.flatMap((f) => f.split("\u001e").filter(Boolean).map((r) => JSON.parse(r)));
  }
}

/** A fake fetch for negotiate: `handler(url, init)` returns {status, body}. */
export function fakeFetch(handler) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    const { status = 200, body = {} } = await handler(url, init);
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
  fn.calls = calls;
  return fn;
}

/**
 * localStorage as tabs in different processes see it: each tab reads its own
 * copy at once, other tabs see a write `lagMs` later (on `clock`). The last
 * write wins everywhere, as in the browser.
 */
export function createLaggyStorageWorld(clock, lagMs) {
  const truth = new Map();
  const views = [];
  const propagate = (origin, key) => {
    clock.setTimeout(() => {
      for (const view of views) {
        if (view === origin) continue;
        if (truth.has(key)) view.set(key, truth.get(key));
        else view.delete(key);
      }
    }, lagMs);
  };
  return {
    storage() {
      const view = new Map(truth);
      views.push(view);
      return {
        get length() { return view.size; },
        key: (i) => [...view.keys()][i] ?? null,
        getItem: (k) => (view.has(k) ? view.get(k) : null),
        setItem(k, v) { view.set(k, String(v)); truth.set(k, String(v)); propagate(view, k); },
        removeItem(k) { view.delete(k); truth.delete(k); propagate(view, k); },
      };
    },
  };
}
