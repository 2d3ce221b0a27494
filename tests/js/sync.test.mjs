import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createSync, isSnapshot, resetSync } from "../../static/js/sync.js";
import { openChannel, resetChannels } from "../../static/js/channel.js";
import { STORAGE_PREFIX } from "../../static/js/constants.js";
import { createFakeStorage, flushAll } from "./helpers.mjs";

afterEach(() => {
  resetSync();
  resetChannels();
});

const snapshot = (over = {}) => ({
  v: 1, id: "a", savedAt: 1, accessToken: "t", accessExpiresInMs: 1000, accessLifetimeMs: 1000,
  sessionExpiresInMs: 1000, sessionLifetimeMs: 1000, absoluteRemainingMs: null, sessionId: "s", user: null, ...over,
});

function twoTabs() {
  const storage = createFakeStorage();
  const name = `sync-${Math.random()}`;
  const a = createSync({ storage, channel: openChannel(name) });
  const b = createSync({ storage, channel: openChannel(name) });
  return { storage, a, b };
}

test("a message posted in one tab reaches the others, not itself", async () => {
  const { a, b } = twoTabs();
  const gotA = [];
  const gotB = [];
  a.subscribe((m) => gotA.push(m));
  b.subscribe((m) => gotB.push(m));
  a.post({ type: "logout", reason: "logout" });
  await flushAll();
  assert.deepEqual(gotB, [{ type: "logout", reason: "logout" }]);
  assert.deepEqual(gotA, []);
});

test("a received broadcast can never be re-broadcast", async () => {
  const { a, b } = twoTabs();
  let received = null;
  b.subscribe((m) => { received = m; });
  a.post({ type: "token", snapshot: snapshot() });
  await flushAll();
  assert.ok(received);
  assert.throws(() => b.post(received), /never re-broadcast/);
  b.post({ ...received }); // a new message with the same content is the caller's decision
});

test("unknown or malformed messages are ignored", async () => {
  const { a, b } = twoTabs();
  const got = [];
  b.subscribe((m) => got.push(m));
  assert.throws(() => a.post({ type: "steal" }), TypeError);
  a.post({ type: "token", snapshot: { broken: true } });
  await flushAll();
  assert.deepEqual(got, []);
});

test("snapshots round-trip through storage and are validated", () => {
  const { storage, a, b } = twoTabs();
  assert.equal(a.loadSnapshot(), null);
  a.saveSnapshot(snapshot({ id: "x" }));
  assert.equal(b.loadSnapshot().id, "x");
  storage.setItem(`${STORAGE_PREFIX}auth`, "{not json");
  assert.equal(b.loadSnapshot(), null);
  storage.setItem(`${STORAGE_PREFIX}auth`, JSON.stringify({ v: 2 }));
  assert.equal(b.loadSnapshot(), null);
  assert.equal(isSnapshot(snapshot({ accessExpiresInMs: "soon" })), false);
  assert.equal(isSnapshot(snapshot()), true);
});

test("last activity is shared; sign-out clears only our keys", () => {
  const { storage, a, b } = twoTabs();
  storage.setItem("other-app", "keep");
  a.setLastActive(123);
  a.saveSnapshot(snapshot());
  assert.equal(b.lastActive(), 123);
  assert.throws(() => a.post({ type: "activity", at: 1 }), TypeError, "no activity broadcast: the time is in storage");
  a.clear();
  assert.deepEqual(storage.dump(), { "other-app": "keep" });
});

test("storage that throws (disabled, full) does not break sync", () => {
  const throwing = {
    length: 0, key: () => null,
    getItem() { throw new DOMException("denied", "SecurityError"); },
    setItem() { throw new DOMException("full", "QuotaExceededError"); },
    removeItem() {},
  };
  const s = createSync({ storage: throwing, channel: openChannel(`x-${Math.random()}`) });
  s.saveSnapshot(snapshot());
  assert.equal(s.loadSnapshot(), null);
  s.clear();
});

test("without BroadcastChannel, storage events carry the messages to the other tabs", () => {
  // The browser: one storage area; a write fires `storage` in every other tab.
  const shared = createFakeStorage();
  const windows = [new EventTarget(), new EventTarget()];
  const storageOf = (self) => ({
    ...shared,
    getItem: shared.getItem,
    removeItem(k) { shared.removeItem(k); },
    setItem(k, v) {
      shared.setItem(k, v);
      for (const win of windows) {
        if (win === windows[self]) continue;
        const event = new Event("storage");
        Object.defineProperties(event, { key: { value: k }, newValue: { value: v } });
        win.dispatchEvent(event);
      }
    },
  });
  const tab0 = openChannel("fallback", { BroadcastChannel: null, storage: storageOf(0), storageEvents: windows[0] });
  const tab1 = openChannel("fallback", { BroadcastChannel: null, storage: storageOf(1), storageEvents: windows[1] });
  const got0 = [];
  const got1 = [];
  tab0.subscribe((m) => got0.push(m));
  tab1.subscribe((m) => got1.push(m));
  tab0.postMessage({ type: "login", sessionId: "s" });
  tab0.postMessage({ type: "login", sessionId: "s" });
  assert.deepEqual(got1, [{ type: "login", sessionId: "s" }, { type: "login", sessionId: "s" }], "same message twice arrives twice");
  assert.deepEqual(got0, [], "never to itself");
  assert.equal(shared.getItem(`${STORAGE_PREFIX}bus:fallback`), null, "nothing left behind");
  tab1.close();
  tab0.postMessage({ type: "logout", reason: "x" });
  assert.equal(got1.length, 2, "closed channels hear nothing");
});
