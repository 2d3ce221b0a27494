import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createFallbackLock, createWebLock, getLock, resetLocks, runWithLock, setLock } from "../../static/js/lock.js";
import { openChannel, resetChannels } from "../../static/js/channel.js";
import { createManualClock } from "../../static/js/clock.js";
import { LOCK_CONFIRM_MS, LOCK_RESULT_WAIT_MS, LOCK_TTL_MS, LOCK_WAIT_MS, STORAGE_PREFIX } from "../../static/js/constants.js";
import { createFakeBus, createFakeStorage, createLaggyStorageWorld, deferred, flushAll } from "./helpers.mjs";

afterEach(() => {
  resetLocks();
  resetChannels();
});

function tabs(n, { clock = createManualClock(), storage = createFakeStorage(), bus = createFakeBus() } = {}) {
  const list = Array.from({ length: n }, (_, i) => createFallbackLock({ storage, channel: bus.open(), clock, owner: `tab${i}` }));
  return { clock, storage, bus, list };
}

test("fallback: one holder at a time across tabs; the waiter gets in when the holder releases", async () => {
  const { clock, list: [a, b] } = tabs(2);
  const inside = [];
  const gateA = deferred();
  const runA = a.runWithLock("refresh", async () => { inside.push("a+"); await gateA.promise; inside.push("a-"); return "A"; });
  const runB = b.runWithLock("refresh", async () => { inside.push("b+"); inside.push("b-"); return "B"; });

  await clock.advanceAsync(2_000);
  assert.deepEqual(inside, ["a+"], "b waits while a holds the lock");

  const releasedAt = clock.now();
  gateA.resolve();
  assert.equal(await runA, "A");
  await clock.advanceAsync(LOCK_CONFIRM_MS);
  assert.equal(await runB, "B");
  assert.deepEqual(inside, ["a+", "a-", "b+", "b-"]);
  assert.ok(clock.now() - releasedAt <= LOCK_CONFIRM_MS, "woken by the release message, not by polling");
});

test("fallback: five tabs racing for the lock never overlap", async () => {
  const { clock, list } = tabs(5);
  let holders = 0;
  let maxHolders = 0;
  const order = [];
  const runs = list.map((lock, i) => lock.runWithLock("refresh", async () => {
    holders += 1;
    maxHolders = Math.max(maxHolders, holders);
    await new Promise((resolve) => clock.setTimeout(resolve, 100));
    order.push(i);
    holders -= 1;
  }, { waitMs: 60_000 }));
  await clock.advanceAsync(10_000);
  await Promise.all(runs);
  assert.equal(maxHolders, 1);
  assert.equal(order.length, 5);
});

test("fallback: tabs in other processes claiming at the same moment still exclude each other", async () => {
  const clock = createManualClock();
  const world = createLaggyStorageWorld(clock, 10); // a write reaches the other tabs 10 ms later
  const bus = createFakeBus();
  const list = Array.from({ length: 4 }, (_, i) => createFallbackLock({ storage: world.storage(), channel: bus.open(), clock, owner: `p${i}` }));
  let holders = 0;
  let maxHolders = 0;
  let done = 0;
  const runs = list.map((lock) => lock.runWithLock("refresh", async () => {
    holders += 1;
    maxHolders = Math.max(maxHolders, holders);
    await new Promise((resolve) => clock.setTimeout(resolve, 200));
    holders -= 1;
    done += 1;
  }, { waitMs: 60_000 }));
  await clock.advanceAsync(5_000);
  await Promise.all(runs);
  assert.equal(done, 4);
  assert.equal(maxHolders, 1, "every tab saw the lock free and claimed it; only one may keep it");
});

test("fallback: a dead holder blocks for at most the TTL", async () => {
  const { clock, storage, list: [b] } = tabs(1);
  // A tab wrote its claim and was killed before releasing it.
  storage.setItem(`${STORAGE_PREFIX}lock:refresh`, JSON.stringify({ owner: "dead", nonce: "n", expiresAt: clock.wallNow() + LOCK_TTL_MS }));
  let enteredAt = null;
  const run = b.runWithLock("refresh", () => { enteredAt = clock.now(); }, { waitMs: 60_000 });
  await clock.advanceAsync(LOCK_TTL_MS + 1_000);
  await run;
  assert.ok(enteredAt !== null && enteredAt >= LOCK_TTL_MS && enteredAt <= LOCK_TTL_MS + 500, `entered at ${enteredAt}`);
});

test("fallback: a holder whose tab is closed (pagehide) lets the next tab in at once", async () => {
  const clock = createManualClock();
  const storage = createFakeStorage();
  const bus = createFakeBus();
  const pageA = new EventTarget();
  const a = createFallbackLock({ storage, channel: bus.open(), clock, owner: "a", events: pageA });
  const b = createFallbackLock({ storage, channel: bus.open(), clock, owner: "b", events: new EventTarget() });
  let aIn = false;
  let bIn = null;
  a.runWithLock("refresh", () => { aIn = true; return new Promise(() => {}); }); // dies mid-refresh
  await clock.advanceAsync(LOCK_CONFIRM_MS);
  assert.equal(aIn, true);
  const runB = b.runWithLock("refresh", () => { bIn = clock.now(); return "B"; });
  await clock.advanceAsync(2_000);
  assert.equal(bIn, null, "b waits while a holds the lock");
  const closedAt = clock.now();
  pageA.dispatchEvent(new Event("pagehide"));
  await clock.advanceAsync(LOCK_CONFIRM_MS);
  assert.equal(await runB, "B");
  assert.ok(bIn - closedAt <= LOCK_CONFIRM_MS, `b entered ${bIn - closedAt} ms after a's tab closed`);
  a.dispose();
  b.dispose();
});

test("fallback: waiting longer than LOCK_WAIT_MS fails with lock_timeout", async () => {
  const { clock, storage, list: [b] } = tabs(1);
  storage.setItem(`${STORAGE_PREFIX}lock:refresh`, JSON.stringify({ owner: "dead", nonce: "n", expiresAt: clock.wallNow() + LOCK_TTL_MS }));
  let ran = false;
  const run = b.runWithLock("refresh", () => { ran = true; });
  const outcome = assert.rejects(run, (e) => e.code === "lock_timeout");
  await clock.advanceAsync(LOCK_WAIT_MS + 500);
  await outcome;
  assert.equal(ran, false);
});

test("fallback: a claim from a clock that was set back is not honoured", async () => {
  const { clock, storage, list: [b] } = tabs(1);
  storage.setItem(`${STORAGE_PREFIX}lock:refresh`, JSON.stringify({ owner: "x", nonce: "n", expiresAt: clock.wallNow() + 10 * LOCK_TTL_MS }));
  const run = b.runWithLock("refresh", () => "in");
  await clock.advanceAsync(LOCK_CONFIRM_MS);
  assert.equal(await run, "in");
});

test("fallback: a live claim from a tab whose clock runs a little ahead is honoured", async () => {
  const { clock, storage, list: [b] } = tabs(1);
  // Written a moment ago by a tab whose Date.now() is 30 ms ahead of this one's.
  storage.setItem(`${STORAGE_PREFIX}lock:refresh`, JSON.stringify({ owner: "x", nonce: "n", expiresAt: clock.wallNow() + 30 + LOCK_TTL_MS }));
  let enteredAt = null;
  const run = b.runWithLock("refresh", () => { enteredAt = clock.now(); }, { waitMs: 60_000 });
  await clock.advanceAsync(LOCK_TTL_MS - 1_000);
  assert.equal(enteredAt, null);
  await clock.advanceAsync(2_000);
  await run;
  assert.ok(enteredAt !== null && enteredAt >= LOCK_TTL_MS, `entered at ${enteredAt}`);
});

test("fallback: the claim is removed on release, also when fn throws", async () => {
  const { clock, storage, list: [a] } = tabs(1);
  const run = a.runWithLock("refresh", () => { throw new Error("boom"); });
  const outcome = assert.rejects(run, /boom/);
  await clock.advanceAsync(LOCK_CONFIRM_MS);
  await outcome;
  assert.equal(storage.getItem(`${STORAGE_PREFIX}lock:refresh`), null);
});

test("fallback over a real BroadcastChannel (Node) wakes the waiter", async () => {
  const clock = createManualClock();
  const storage = createFakeStorage();
  const name = `test-lock-${Math.random()}`;
  const a = createFallbackLock({ storage, channel: openChannel(name), clock, owner: "a" });
  const b = createFallbackLock({ storage, channel: openChannel(name), clock, owner: "b" });
  const gate = deferred();
  const flush = () => flushAll();
  const runA = a.runWithLock("r", () => gate.promise);
  await clock.advanceAsync(LOCK_CONFIRM_MS, flush);
  let bIn = false;
  const runB = b.runWithLock("r", () => { bIn = true; });
  await clock.advanceAsync(100, flush);
  assert.equal(bIn, false);
  gate.resolve();
  await runA;
  await flushAll();
  await clock.advanceAsync(LOCK_CONFIRM_MS, flush);
  await runB;
  assert.equal(bIn, true);
});

/** A LockManager double: per name exclusive and FIFO, abortable while waiting, with query(). */
function fakeLockManager() {
  const names = new Map();
  const slot = (name) => {
    if (!names.has(name)) names.set(name, { held: false, queue: [] });
    return names.get(name);
  };
  const next = (name) => {
    const s = slot(name);
    if (s.held || s.queue.length === 0) return;
    const { fn, resolve, reject } = s.queue.shift();
    s.held = true;
    Promise.resolve().then(() => fn({ name })).then(resolve, reject).finally(() => { s.held = false; next(name); });
  };
  return {
    async query() {
      return { held: [...names].filter(([, s]) => s.held).map(([name]) => ({ name, mode: "exclusive" })) };
    },
    request(name, options, fn) {
      const s = slot(name);
      if (options.ifAvailable && (s.held || s.queue.length)) return Promise.resolve().then(() => fn(null));
      return new Promise((resolve, reject) => {
        const entry = { fn, resolve, reject };
        options.signal?.addEventListener("abort", () => {
          const i = s.queue.indexOf(entry);
          if (i >= 0) { s.queue.splice(i, 1); reject(Object.assign(new Error("aborted"), { name: "AbortError" })); }
        });
        s.queue.push(entry);
        next(name);
      });
    },
  };
}

test("web locks: a free lock right after another tab's success still counts as waited", async () => {
  const clock = createManualClock();
  const locks = fakeLockManager();
  const tabA = createWebLock({ locks, clock });
  const tabB = createWebLock({ locks, clock });
  const seen = [];
  await tabA.runWithLock("r", (info) => { seen.push(["A", info.waited]); });
  await tabB.runWithLock("r", (info) => { seen.push(["B", info.waited]); }); // free, but A just finished
  await tabA.runWithLock("r", (info) => { seen.push(["A again", info.waited]); }); // B's mark, not its own
  await clock.advanceAsync(LOCK_RESULT_WAIT_MS);
  await tabB.runWithLock("r", (info) => { seen.push(["B later", info.waited]); });
  await assert.rejects(tabA.runWithLock("r", () => { throw new Error("failed"); }));
  await tabB.runWithLock("r", (info) => { seen.push(["B after a failure", info.waited]); });
  assert.deepEqual(seen, [["A", false], ["B", true], ["A again", true], ["B later", false], ["B after a failure", false]]);
});

test("web locks: result, errors and wait timeout", async () => {
  const clock = createManualClock();
  const lock = createWebLock({ locks: fakeLockManager(), clock });
  assert.equal(await lock.runWithLock("r", () => 42), 42);
  await assert.rejects(lock.runWithLock("r", () => { throw new Error("inner"); }), /inner/);

  const gate = deferred();
  const first = lock.runWithLock("r", () => gate.promise, { ttlMs: 60_000 });
  await clock.advanceAsync(0);
  const second = lock.runWithLock("r", () => "late");
  const outcome = assert.rejects(second, (e) => e.code === "lock_timeout");
  await clock.advanceAsync(LOCK_WAIT_MS);
  await outcome;
  gate.resolve("done");
  assert.equal(await first, "done");
});

test("fn learns whether it had to wait for another holder", async () => {
  const clock = createManualClock();
  for (const lock of [createWebLock({ locks: fakeLockManager(), clock }), tabs(1, { clock }).list[0]]) {
    const seen = [];
    const gate = deferred();
    const first = lock.runWithLock("r", async (info) => { seen.push(info.waited); await gate.promise; });
    await clock.advanceAsync(LOCK_CONFIRM_MS);
    const second = lock.runWithLock("r", (info) => { seen.push(info.waited); });
    await clock.advanceAsync(100);
    gate.resolve();
    await first;
    await clock.advanceAsync(1_000);
    await second;
    assert.deepEqual(seen, [false, true], lock.kind);
  }
});

test("web locks: a hung holder releases the lock after the TTL", async () => {
  const clock = createManualClock();
  const lock = createWebLock({ locks: fakeLockManager(), clock });
  const hung = lock.runWithLock("r", () => new Promise(() => {}));
  await clock.advanceAsync(0);
  let enteredAt = null;
  const next = lock.runWithLock("r", () => { enteredAt = clock.now(); }, { waitMs: 60_000 });
  await clock.advanceAsync(LOCK_TTL_MS);
  await next;
  assert.equal(enteredAt, LOCK_TTL_MS);
  void hung;
});

test("feature detection picks Web Locks when present, the fallback otherwise; reset forgets", () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  const savedStorage = globalThis.localStorage;
  try {
    Object.defineProperty(globalThis, "navigator", { value: { locks: fakeLockManager() }, configurable: true });
    assert.equal(getLock().kind, "web-locks");
    resetLocks();
    Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true });
    globalThis.localStorage = createFakeStorage();
    assert.equal(getLock().kind, "fallback");
    const custom = { kind: "web-locks", runWithLock: async (n, fn) => fn(), dispose() {} };
    setLock(custom);
    assert.equal(getLock(), custom);
    return runWithLock("x", () => "via default").then((v) => assert.equal(v, "via default"));
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
    globalThis.localStorage = savedStorage;
  }
});
