import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { resetTokenServices } from "../../static/js/token-service.js";
import { resetSync } from "../../static/js/sync.js";
import { classifyResponse } from "../../static/js/errors.js";
import { PATHS } from "../../static/js/constants.js";
import { createFakeApi, sessionAnswer } from "./helpers.mjs";
import { MIN, browser, offline, reject401, server, started, within } from "./tabs.mjs";

afterEach(() => {
  resetTokenServices();
  resetSync();
});

test("page load without a usable token refreshes first, once", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "fresh" }) }));
  const t = b.tab();
  assert.equal(await started(b, t), "signed-in");
  assert.deepEqual(b.api.calls, [PATHS.refresh]);
  assert.equal(t.service.accessToken, "fresh");
  assert.equal(t.sync.loadSnapshot().accessToken, "fresh");
  assert.ok(b.bus.sent.some((m) => m.type === "login" && m.sessionId === "s1"), "landing tabs are told");
  assert.ok(b.bus.sent.some((m) => m.type === "token"), "siblings get the token");
});

test("page load with a usable shared token only validates", async () => {
  const b = browser(createFakeApi({
    [PATHS.refresh]: () => sessionAnswer({ token: "first" }),
    [PATHS.validate]: () => sessionAnswer({ token: null, refreshed: false }),
  }));
  await started(b, b.tab());
  const second = b.tab();
  assert.equal(await started(b, second), "signed-in");
  assert.deepEqual(b.api.calls, [PATHS.refresh, PATHS.validate]);
  assert.equal(second.service.accessToken, "first", "kept: validate minted no token");
  assert.equal(b.bus.sent.filter((m) => m.type === "login").length, 1, "same session: no second login broadcast");
});

test("five tabs, token expired, all visible at once: one refresh, one token everywhere", async () => {
  let n = 0;
  const b = browser(createFakeApi({
    [PATHS.refresh]: () => sessionAnswer({ token: `t${(n += 1)}` }),
    [PATHS.validate]: () => sessionAnswer({ token: null, refreshed: false }),
  }));
  const tabs = Array.from({ length: 5 }, () => b.tab());
  await started(b, tabs[0]);
  for (const t of tabs.slice(1)) await started(b, t); // these take the shared token and validate it
  b.api.calls.length = 0;

  b.clock.jump(2 * 60 * MIN); // hidden for two hours, timers throttled
  await within(b, Promise.all(tabs.map((t) => t.service.checkSession())), 5_000);

  assert.equal(b.api.count(PATHS.refresh), 1, `calls: ${b.api.calls}`);
  const tokens = new Set(tabs.map((t) => t.service.accessToken));
  assert.deepEqual([...tokens], ["t2"]);
  assert.ok(tabs.every((t) => t.navigated.length === 0));
});

test("a refresh that loses the network is retried, and never signs out", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  b.api.script(PATHS.refresh, offline, offline, () => sessionAnswer({ token: "b" }));
  const trouble = [];
  t.service.on("trouble", (e) => trouble.push(e.code));

  b.clock.jump(59 * MIN);
  await within(b, t.service.checkSession(), 100);
  assert.equal(t.service.status, "signed-in");
  assert.deepEqual(trouble, ["network_error"]);
  await b.run(1_000); // first back-off step
  assert.deepEqual(trouble, ["network_error", "network_error"]);
  t.service.retryNow(); // the `online` event skips the wait
  await b.run(100);
  assert.equal(t.service.accessToken, "b");
  assert.deepEqual(t.navigated, []);
});

test("429 waits at least Retry-After before trying again", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  b.api.script(PATHS.refresh, () => { throw classifyResponse(429, { error: "rate_limited" }, "30"); }, () => sessionAnswer({ token: "b" }));
  b.clock.jump(59 * MIN);
  const check = t.service.checkSession();
  await b.run(29_000);
  assert.equal(b.api.count(PATHS.refresh), 2);
  await b.run(1_500);
  assert.equal(b.api.count(PATHS.refresh), 3);
  await check;
  assert.equal(t.service.accessToken, "b");
});

test("a definitive answer signs out every tab; the broadcast is not echoed", async () => {
  const b = browser(server());
  const [one, two] = [b.tab(), b.tab()];
  await started(b, one);
  await started(b, two);
  const signedOut = [];
  two.service.on("signedout", (e) => signedOut.push(e.reason));
  b.api.script(PATHS.refresh, reject401("session_revoked"));

  b.clock.jump(59 * MIN);
  await within(b, one.service.checkSession(), 100);
  await b.run(2_000); // tab two was waiting for the lock; it lets go once signed out

  assert.deepEqual(one.navigated, [PATHS.signIn]);
  assert.deepEqual(two.navigated, [PATHS.signIn]);
  assert.deepEqual(signedOut, ["session_revoked"]);
  assert.equal(b.bus.sent.filter((m) => m.type === "logout").length, 1, "only the tab that learnt it broadcasts");
  assert.equal(b.api.count(PATHS.refresh), 2, "the waiting tab did not call the server after signing out");
  assert.deepEqual(b.storage.dump(), {}, "client storage cleared");
  assert.equal(one.service.accessToken, null);
});

test("refresh_invalid is re-checked with validate: a good session stays signed in", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  b.api.script(PATHS.refresh, reject401("refresh_invalid"));
  b.api.script(PATHS.validate, () => sessionAnswer({ token: "v", refreshed: true }));
  b.clock.jump(59 * MIN);
  await within(b, t.service.checkSession(), 2_000);
  assert.deepEqual(b.api.calls.slice(-2), [PATHS.refresh, PATHS.validate]);
  assert.equal(t.service.status, "signed-in");
  assert.equal(t.service.accessToken, "v");
});

test("refresh_invalid confirmed by a definitive answer from validate signs out", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  b.api.script(PATHS.refresh, reject401("refresh_invalid"));
  b.api.script(PATHS.validate, reject401("session_expired"));
  b.clock.jump(59 * MIN);
  await within(b, t.service.checkSession(), 2_000);
  assert.equal(t.service.status, "signed-out");
  assert.deepEqual(t.navigated, [`${PATHS.signIn}?signed_out=expired`]);
});

test("a re-check answered by another doubtful 401 is retried, never a sign-out", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  const proxy401 = () => { throw classifyResponse(401, null); }; // no JSON: a proxy, not the server
  b.api.script(PATHS.refresh, reject401("refresh_invalid"), () => sessionAnswer({ token: "b" }));
  b.api.script(PATHS.validate, proxy401);
  b.clock.jump(59 * MIN);
  await within(b, t.service.checkSession(), 2_000);
  assert.deepEqual(b.api.calls.slice(-2), [PATHS.refresh, PATHS.validate]);
  assert.equal(t.service.status, "signed-in");
  assert.deepEqual(t.service.retry, { attempt: 1, pending: true });
  await b.run(1_000); // the first back-off step: refresh again
  assert.equal(t.service.accessToken, "b");
  assert.deepEqual(t.service.retry, { attempt: 0, pending: false });
  assert.deepEqual(t.navigated, []);
});

test("the refresh is scheduled before expiry from the stated lifetime", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ accessIn: 3600, sessionIn: 3600 }) }));
  const t = b.tab();
  await started(b, t); // at ~1 s
  await b.run(54 * MIN - 2_000);
  assert.equal(b.api.count(PATHS.refresh), 1);
  await b.run(2_000);
  assert.equal(b.api.count(PATHS.refresh), 2, "at 54 minutes: 6 minutes (10%) before expiry");
  await b.run(10 * MIN);
  assert.equal(b.api.count(PATHS.refresh), 2, "no loop");
});

test("a server that keeps answering with spent lifetimes is not asked in a loop", async () => {
  const spent = () => ({ ...sessionAnswer({ sessionIn: 0 }), session: { id: "s1" } }); // no absolute end known
  const b = browser(createFakeApi({ [PATHS.refresh]: spent }));
  const t = b.tab();
  await started(b, t);
  await b.run(60_000);
  assert.ok(b.api.count(PATHS.refresh) <= 7, `refreshed ${b.api.count(PATHS.refresh)} times in a minute`);
  assert.ok(b.api.count(PATHS.refresh) >= 5, "but it keeps trying, every grace window");
});

test("a device clock hours off neither loops refreshes nor lets the token lapse", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer() }));
  b.clock.setWall(Date.UTC(2001, 0, 1)); // the device thinks it is 2001; the server said 3600 s
  const t = b.tab();
  await started(b, t);
  await b.run(30 * MIN);
  assert.equal(b.api.count(PATHS.refresh), 1);
  b.clock.setWall(b.clock.wallNow() + 5 * 60 * MIN); // NTP fixes the clock: five hours forward
  assert.equal(t.service.isDue(), true, "the jump counts as elapsed time: refresh rather than trust");
  await within(b, t.service.checkSession(), 1_000);
  await b.run(60 * MIN);
  assert.equal(b.api.count(PATHS.refresh), 3, "one for the jump, one on schedule");
});

test("the accessTokenFactory refreshes when asked to replace the current token", async () => {
  const b = browser(server("old", { [PATHS.token]: { access_token: "new", access_expires_in: 3600, server_time: 1 } }));
  const t = b.tab();
  await started(b, t);
  assert.equal(await t.service.getFreshToken(), "old", "fresh: no call");
  assert.equal(await within(b, t.service.getFreshToken({ replace: "old" })), "new", "session cookie fine: mint");
  assert.deepEqual(b.api.calls, [PATHS.refresh, PATHS.token]);
  b.clock.jump(58 * MIN); // now the session cookie is due as well: rotate
  b.api.script(PATHS.refresh, () => sessionAnswer({ token: "newer" }));
  assert.equal(await within(b, t.service.getFreshToken({ replace: "new" })), "newer");
  assert.equal(b.api.count(PATHS.refresh), 2);
});

test("a tab that died holding the lock does not block the refresh for long", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  b.api.script(PATHS.refresh, () => sessionAnswer({ token: "b" }));
  b.clock.jump(59 * MIN);
  b.storage.setItem("authsite:lock:authsite:refresh", JSON.stringify({ owner: "dead", nonce: "n", expiresAt: b.clock.wallNow() + 10_000 }));
  const check = t.service.checkSession();
  await b.run(9_000);
  assert.equal(t.service.accessToken, "a");
  await b.run(2_000);
  await check;
  assert.equal(t.service.accessToken, "b", "refreshed once the dead claim passed its TTL");
});

test("offline at page load: still starting, then signed in once the network is back", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: [offline, () => sessionAnswer({ token: "late" })] }));
  const t = b.tab();
  assert.equal(await started(b, t), "starting");
  assert.deepEqual(t.navigated, []);
  await b.run(2_000);
  assert.equal(t.service.status, "signed-in");
  assert.equal(t.service.accessToken, "late");
  assert.ok(b.bus.sent.some((m) => m.type === "login"), "announced once signed in");
});

test("granted the lock before the holder's answer arrived, a tab waits for it instead of refreshing", async () => {
  const b = browser(server("a"));
  // Tab two's lock is granted at once, as Web Locks may do before tab one's broadcast lands.
  const [one, two] = [b.tab(), b.tab({ runWithLock: async (name, fn) => fn({ waited: true }) })];
  await started(b, one);
  await started(b, two);
  b.api.calls.length = 0;
  one.service.stopTimers(); // refreshes below are started by hand
  two.service.stopTimers();
  b.clock.jump(59 * MIN);
  b.api.script(PATHS.refresh, () => sessionAnswer({ token: "from-one" }));
  const waiting = two.service.refresh();
  await b.run(300);
  assert.equal(b.api.count(PATHS.refresh), 0, "two waits for the broadcast");
  await within(b, one.service.refresh(), 100);
  assert.equal(await waiting, "from-one");
  assert.equal(b.api.count(PATHS.refresh), 1);
});

test("no answer from the previous holder (it died): the waiting tab refreshes itself", async () => {
  const b = browser(server("a"));
  const t = b.tab({ runWithLock: async (name, fn) => fn({ waited: true }) });
  await started(b, t);
  b.clock.jump(59 * MIN);
  b.api.script(PATHS.refresh, () => sessionAnswer({ token: "mine" }));
  const refreshing = t.service.refresh();
  await b.run(999);
  assert.equal(b.api.count(PATHS.refresh), 1, "only the start-up refresh so far");
  assert.equal(await within(b, refreshing, 1), "mine");
  assert.equal(b.api.count(PATHS.refresh), 2);
});

test("an answer arriving after a sibling signed this tab out does not revive it", async () => {
  const b = browser(server("a"));
  const [one, two] = [b.tab(), b.tab()];
  await started(b, one);
  await started(b, two);
  let release;
  b.api.script(PATHS.validate, () => new Promise((resolve) => { release = () => resolve(sessionAnswer({ token: "late" })); }));
  const checking = two.service.checkSession({ force: true });
  await b.run(0);
  one.service.signOut("logout");
  await b.run(0);
  release();
  assert.equal(await within(b, checking, 10), false);
  assert.equal(two.service.status, "signed-out");
  assert.equal(two.sync.loadSnapshot(), null, "nothing written back to storage");
});

test("a refresh asked for while a token is being minted follows it instead of joining it", async () => {
  let release;
  const b = browser(server("a", {
    [PATHS.token]: () => new Promise((resolve) => { release = () => resolve({ access_token: "minted", access_expires_in: 3600, server_time: 1 }); }),
  }));
  const t = b.tab();
  await started(b, t);
  const minting = t.service.getFreshToken({ replace: "a" });
  await b.run(100);
  b.clock.jump(55 * MIN);
  b.api.script(PATHS.refresh, () => sessionAnswer({ token: "rotated" }));
  const refreshing = t.service.refresh();
  release();
  assert.equal(await within(b, minting), "minted");
  assert.equal(await within(b, refreshing, 2_000), "rotated");
  assert.deepEqual(b.api.calls, [PATHS.refresh, PATHS.token, PATHS.refresh]);
});
