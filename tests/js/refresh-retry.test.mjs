// The retry policy end to end: TokenService -> api.js -> a fake fetch. A transient
// failure (network error, timeout, 5xx, 503, 429) never signs the browser out; the
// refresh is retried with back-off under the cross-tab lock until a definitive answer.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { resetTokenServices } from "../../static/js/token-service.js";
import { resetSync } from "../../static/js/sync.js";
import { createApi } from "../../static/js/api.js";
import { createManualClock } from "../../static/js/clock.js";
import { PATHS, REFRESH_LOCK_NAME, REQUEST_TIMEOUT_MS, RETRY_BACKOFF_MS } from "../../static/js/constants.js";
import { sessionAnswer } from "./helpers.mjs";
import { MIN, browser, started } from "./tabs.mjs";
import { signInPath } from "../../static/js/signed-out.js";

afterEach(() => {
  resetTokenServices();
  resetSync();
});

const NETWORK = { fail: "network" };
const HANG = { fail: "hang" };
const LOST = { lost: true };
const reply = (status, body = {}, headers = {}) => ({ status, body, headers });
const unavailable = (retryAfter = "2") => reply(503, { error: "store_unavailable", detail: "down" }, { "Retry-After": retryAfter });

/**
 * A fake `fetch` in front of a small refresh server. `/auth/refresh` plays the
 * queued behaviours first (NETWORK, HANG, a reply, or LOST: rotated but the answer
 * never arrives), then rotates. The refresh cookie lives in a jar only the
 * "server" sets, as an HttpOnly cookie does; each call records the one presented.
 */
function refreshServer(clock) {
  let generation = 1;
  const jar = { refresh: "r1" };
  const queue = [];
  const calls = [];
  const rotate = () => {
    generation += 1;
    return { cookie: `r${generation}`, answer: sessionAnswer({ token: `t${generation}` }) };
  };
  let lastRotation = null;
  const respond = ({ status, body, headers = {} }) => ({
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name) => headers[name] ?? null },
    text: async () => JSON.stringify(body),
  });
  const fetch = async (path, init) => {
    const call = { path, at: clock.now(), cookie: jar.refresh, locked: server.lockHeld(), outcome: null };
    calls.push(call);
    if (path === PATHS.validate) return respond(reply(200, sessionAnswer({ token: null, refreshed: false })));
    if (path !== PATHS.refresh) return respond(reply(404, {}));
    const step = queue.shift();
    call.outcome = step?.fail ?? step?.status ?? (step === LOST ? "lost" : 200);
    if (step === NETWORK) throw new TypeError("Failed to fetch");
    if (step === HANG) {
      return new Promise((resolve, reject) => {
        init.signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
      });
    }
    if (step === LOST) {
      lastRotation = { presented: jar.refresh, ...rotate() };
      throw new TypeError("Failed to fetch"); // the answer and its Set-Cookie never arrive
    }
    if (step) return respond(step);
    // Inside the grace window the predecessor gets the same successor (a replay).
    const result = lastRotation && lastRotation.presented === jar.refresh ? lastRotation : rotate();
    lastRotation = null;
    jar.refresh = result.cookie;
    return respond(reply(200, result.answer));
  };
  const server = {
    fetch, jar, calls, queue,
    lockHeld: () => false,
    get generation() { return generation; },
    refreshes: () => calls.filter((c) => c.path === PATHS.refresh),
    successes: () => calls.filter((c) => c.path === PATHS.refresh && c.outcome === 200),
  };
  return server;
}

/** A browser whose tabs talk to `refreshServer` through the real api.js; refreshes are due. */
async function dueTabs(n, behaviours, { wrapLock } = {}) {
  const clock = createManualClock();
  const server = refreshServer(clock);
  const api = createApi({ fetch: server.fetch, clock, csrfToken: () => "csrf" });
  const b = browser(api, { clock });
  const tabs = Array.from({ length: n }, () => b.tab({ wrapLock }));
  for (const t of tabs) await started(b, t);
  b.clock.jump(59 * MIN); // every credential is due now
  server.calls.length = 0;
  server.queue.push(...behaviours);
  const trouble = [];
  for (const t of tabs) t.service.on("trouble", (e) => trouble.push(e.code));
  return { b, server, tabs, trouble };
}

function assertSignedInTogether(b, tabs, server) {
  const tokens = new Set(tabs.map((t) => t.service.accessToken));
  assert.equal(tokens.size, 1, `tokens: ${[...tokens]}`);
  assert.ok(tabs.every((t) => t.service.status === "signed-in" && t.navigated.length === 0));
  assert.equal(b.bus.sent.filter((m) => m.type === "logout").length, 0, "no logout broadcast");
  assert.notEqual(b.storage.getItem("authsite:auth"), null, "client storage kept");
  assert.equal(server.successes().length, 1, "exactly one successful refresh");
}

for (const [name, failure] of [["network errors", NETWORK], ["503s", unavailable()], ["502s without JSON", reply(502, null)]]) {
  test(`three tabs, the refresh fails with ${name} four times, then succeeds: one refresh, every tab signed in`, async () => {
    const { b, server, tabs, trouble } = await dueTabs(3, [failure, failure, failure, failure]);
    void Promise.all(tabs.map((t) => t.service.checkSession()));
    await b.run(2 * MIN);
    assertSignedInTogether(b, tabs, server);
    assert.equal(server.refreshes().length, 5, server.refreshes().map((c) => c.outcome).join());
    assert.ok(trouble.length >= 4, "the page was told it is retrying");
    assert.ok(tabs.every((t) => !t.service.retry.pending && t.service.retry.attempt === 0), "the success ended every retry");
  });
}

test("every attempt is made under the cross-tab lock, one tab at a time", async () => {
  let holders = 0;
  let most = 0;
  const wrapLock = (run) => (name, fn, options) => run(name, async (info) => {
    if (name !== REFRESH_LOCK_NAME) return fn(info);
    most = Math.max(most, (holders += 1));
    try {
      return await fn(info);
    } finally {
      holders -= 1;
    }
  }, options);
  const { b, server, tabs } = await dueTabs(3, [NETWORK, unavailable(), NETWORK, NETWORK], { wrapLock });
  server.lockHeld = () => holders > 0;
  void Promise.all(tabs.map((t) => t.service.checkSession()));
  await b.run(2 * MIN);
  assertSignedInTogether(b, tabs, server);
  assert.ok(server.refreshes().every((c) => c.locked), "no refresh without the lock");
  assert.equal(most, 1, "one holder at a time");
});

test("a definitive answer on the first attempt signs out at once, without a retry", async () => {
  const { b, server, tabs } = await dueTabs(1, [reply(401, { error: "session_revoked", detail: "ended" })]);
  void tabs[0].service.checkSession();
  await b.run(100);
  assert.equal(tabs[0].service.status, "signed-out");
  assert.deepEqual(tabs[0].navigated, [PATHS.signIn]);
  await b.run(5 * MIN);
  assert.equal(server.refreshes().length, 1);
});

test("a timeout is transient too: the hung request is abandoned and retried", async () => {
  const { b, server, tabs } = await dueTabs(1, [HANG, HANG]);
  const [t] = tabs;
  void t.service.checkSession();
  await b.run(REQUEST_TIMEOUT_MS);
  assert.equal(t.service.status, "signed-in");
  assert.deepEqual(server.refreshes().map((c) => c.outcome), ["hang"]);
  await b.run(REQUEST_TIMEOUT_MS + 2 * RETRY_BACKOFF_MS[1]);
  await b.run(10_000);
  assertSignedInTogether(b, tabs, server);
  assert.deepEqual(server.refreshes().map((c) => c.outcome), ["hang", "hang", 200]);
});

test("the back-off grows, is capped, honours Retry-After, and never gives up", async () => {
  const failures = [...Array(7).fill(NETWORK), unavailable("90"), NETWORK];
  const { b, server, tabs } = await dueTabs(1, failures);
  const [t] = tabs;
  void t.service.checkSession();
  await b.run(15 * MIN);
  const at = server.refreshes().map((c) => c.at);
  const gaps = at.slice(1).map((x, i) => x - at[i]);
  // random() is 0.5 in these tabs: no jitter. Each gap also holds the lock's confirmation pause.
  const steps = gaps.map((g) => Math.round(g / 1_000) * 1_000);
  assert.deepEqual(steps.slice(0, 7), [1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 60_000]);
  assert.equal(steps[7], 90_000, "Retry-After: 90 s is longer than the capped step");
  assert.equal(steps[8], 60_000, "then the capped step again");
  assert.equal(steps.length, 9);
  assertSignedInTogether(b, tabs, server);
});

test("a refresh whose answer was lost is replayed with the same refresh cookie and gets the same answer", async () => {
  const { b, server, tabs } = await dueTabs(2, [LOST]);
  const cookie = server.jar.refresh;
  const generation = server.generation;
  void Promise.all(tabs.map((t) => t.service.checkSession()));
  await b.run(30_000);
  const presented = server.refreshes().map((c) => c.cookie);
  assert.deepEqual(presented, [cookie, cookie], "the retry presented the cookie the lost answer would have replaced");
  assert.equal(server.generation, generation + 1, "rotated once: the retry got the replay, not a new rotation");
  assert.equal(server.jar.refresh, `r${generation + 1}`);
  assertSignedInTogether(b, tabs, server);
  assert.equal(tabs[0].service.accessToken, `t${generation + 1}`, "the token of the lost answer");
});

for (const code of ["session_revoked", "session_expired", "refresh_reused", "not_authenticated"]) {
  test(`a definitive ${code} from /auth/refresh signs every tab out at once`, async () => {
    const { b, server, tabs } = await dueTabs(2, [NETWORK, reply(401, { error: code, detail: code })]);
    void Promise.all(tabs.map((t) => t.service.checkSession()));
    await b.run(1_500); // the first retry gets the definitive answer
    assert.deepEqual(server.refreshes().map((c) => c.outcome), ["network", 401]);
    await b.run(5_000);
    assert.ok(tabs.every((t) => t.service.status === "signed-out" && t.navigated[0] === signInPath(code)));
    assert.equal(server.refreshes().length, 2, "no retry after a definitive answer");
    assert.equal(b.bus.sent.filter((m) => m.type === "logout").length, 1);
    assert.deepEqual(b.storage.dump(), {}, "client storage cleared");
  });
}

test("429 with Retry-After waits, then succeeds; rate limits never sign out", async () => {
  const { b, server, tabs } = await dueTabs(1, [reply(429, { error: "rate_limited" }, { "Retry-After": "30" })]);
  void tabs[0].service.checkSession();
  await b.run(29_000);
  assert.equal(server.refreshes().length, 1);
  await b.run(2_000);
  assertSignedInTogether(b, tabs, server);
});
