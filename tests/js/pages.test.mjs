// The page entry modules (landing, signin-landing, restore-page, app, session-list)
// against a small fake DOM, and the templates' promise: no inline executable script.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { completeSignin, sameSitePath } from "../../static/js/signin-landing.js";
import { RELOAD_MARK_KEY, startRestorePage } from "../../static/js/restore-page.js";
import { startLanding } from "../../static/js/landing.js";
import { startApp } from "../../static/js/app.js";
import { bindEndSessionButtons } from "../../static/js/session-list.js";
import { resetTokenServices } from "../../static/js/token-service.js";
import { createSync, resetSync } from "../../static/js/sync.js";
import { resetPageWatches } from "../../static/js/page-watch.js";
import { resetHeartbeats } from "../../static/js/heartbeat.js";
import { resetRealtime } from "../../static/js/realtime.js";
import { createFallbackLock } from "../../static/js/lock.js";
import { createManualClock } from "../../static/js/clock.js";
import { Emitter } from "../../static/js/emitter.js";
import { classifyResponse, networkError } from "../../static/js/errors.js";
import { PATHS, RESTORE_RELOAD_GUARD_MS } from "../../static/js/constants.js";
import { FakeWebSocket, createFakeApi, createFakeBus, createFakeStorage, fakeFetch, flushAll, sessionAnswer } from "./helpers.mjs";

afterEach(() => {
  resetRealtime();
  resetTokenServices();
  resetHeartbeats();
  resetPageWatches();
  resetSync();
});

const TEMPLATES = new URL("../../templates/", import.meta.url).pathname;

/** An element: an EventTarget with the few properties the page modules use. */
function element(props = {}) {
  const el = Object.assign(new EventTarget(), { textContent: "", dataset: {}, disabled: false, children: [], removed: false }, props);
  el.replaceChildren = (...children) => { el.children = children; };
  el.remove = () => { el.removed = true; };
  return el;
}

/** A document with elements by id and by selector. */
function fakeDocument({ page = "", body = {}, ids = {}, selectors = {} } = {}) {
  return Object.assign(new EventTarget(), {
    visibilityState: "visible",
    body: { dataset: { page, ...body } },
    getElementById: (id) => ids[id] ?? null,
    querySelectorAll: (selector) => selectors[selector] ?? [],
    createElement: () => element(),
  });
}

/** Every template file under templates/ (recursively). */
function templates(dir = TEMPLATES) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return templates(path);
    return entry.name.endsWith(".html") ? [{ path, text: readFileSync(path, "utf8") }] : [];
  });
}

test("no template has inline executable JavaScript (CSP script-src 'self')", () => {
  const found = templates();
  assert.ok(found.length >= 5);
  for (const { path, text } of found) {
    for (const [tag] of text.matchAll(/<script\b[^>]*>/gi)) {
      const external = /\bsrc=/i.test(tag);
      const data = /\btype=["']application\/json["']/i.test(tag);
      assert.ok(external || data, `${path}: inline script ${tag}`);
    }
    assert.doesNotMatch(text, /\son[a-z]+\s*=\s*["']/i, `${path}: inline event handler`);
    assert.doesNotMatch(text, /javascript:/i, `${path}: javascript: URL`);
  }
});

test("importing a page module starts nothing outside its page", () => {
  assert.equal(globalThis.window, undefined);
  assert.equal(globalThis.authsite, undefined);
});

test("signin landing: keeps the answer, tells other tabs, goes to next", async () => {
  const storage = createFakeStorage();
  const bus = createFakeBus();
  const other = createSync({ storage, channel: bus.open() });
  const heard = [];
  other.subscribe((m) => heard.push(m));
  const doc = fakeDocument({
    page: "signin-landing",
    ids: {
      "authsite-signin": element({ textContent: JSON.stringify(sessionAnswer({ token: "first", sessionId: "s9" })) }),
      "authsite-next": element({ textContent: JSON.stringify("/app?tab=1") }),
    },
  });
  const went = [];
  assert.equal(completeSignin({ doc, sync: createSync({ storage, channel: bus.open() }), navigate: (p) => went.push(p) }), "/app?tab=1");
  await flushAll();
  assert.deepEqual(went, ["/app?tab=1"]);
  assert.equal(other.loadSnapshot().accessToken, "first");
  assert.deepEqual(heard, [{ type: "login", sessionId: "s9" }]);
});

test("signin landing: an unreadable answer still goes on; next is never another origin", () => {
  const went = [];
  const doc = fakeDocument({ ids: { "authsite-signin": element({ textContent: "{broken" }), "authsite-next": element({ textContent: '"//evil.test/"' }) } });
  completeSignin({ doc, sync: createSync({ storage: createFakeStorage(), channel: createFakeBus().open() }), navigate: (p) => went.push(p) });
  assert.deepEqual(went, [PATHS.app]);
  for (const bad of ["https://evil.test", "/\\evil.test", "/a\tb", "", null, 7]) assert.equal(sameSitePath(bad), PATHS.app, String(bad));
  assert.equal(sameSitePath("/app/x?y=1#z"), "/app/x?y=1#z");
});

class FakeService extends Emitter {
  constructor() { super(); this.started = 0; }
  start() { this.started += 1; return Promise.resolve("starting"); }
  checkSession() { return Promise.resolve(true); }
  retryNow() {}
}

test("restore page: reloads once the session is renewed, but never in a loop", () => {
  const clock = createManualClock();
  const status = element();
  const doc = fakeDocument({ page: "restore", ids: { "restore-status": status } });
  let reloads = 0;
  const win = Object.assign(new EventTarget(), { location: { reload: () => { reloads += 1; } } });
  const storage = createFakeStorage();
  const service = new FakeService();
  startRestorePage({ service, doc, win, storage, clock });
  assert.equal(service.started, 1);
  service.emit("trouble", { code: "network_error" });
  assert.match(status.textContent, /retrying/);
  service.emit("session", {});
  assert.equal(reloads, 1);
  assert.equal(storage.getItem(RELOAD_MARK_KEY), String(clock.wallNow()));
  // The reloaded /app served this page again at once: the cookie was not kept.
  clock.advance(RESTORE_RELOAD_GUARD_MS - 1);
  service.emit("session", {});
  assert.equal(reloads, 1);
  assert.match(status.textContent, /did not keep/);
  clock.advance(1);
  service.emit("session", {});
  assert.equal(reloads, 2, "a later restore reloads again");
});

test("landing: a signed-in browser goes to the app; an offline one waits for `online`", async () => {
  const storage = createFakeStorage();
  const win = new EventTarget();
  const went = [];
  const api = createFakeApi({ [PATHS.validate]: [() => { throw networkError(new TypeError("offline")); }, () => sessionAnswer({ token: "v" })] });
  const { ready } = startLanding({ api, sync: createSync({ storage, channel: createFakeBus().open() }), win, navigate: (p) => went.push(p) });
  assert.equal(await ready, false);
  assert.deepEqual(went, []);
  win.dispatchEvent(new Event("online"));
  await flushAll();
  assert.deepEqual(went, [PATHS.app]);
});

test("landing: a definitive answer clears what an old session left", async () => {
  const storage = createFakeStorage();
  storage.setItem("authsite:auth", "{}");
  const api = createFakeApi({ [PATHS.validate]: () => { throw classifyResponse(401, { error: "not_authenticated" }); } });
  const { ready } = startLanding({ api, sync: createSync({ storage, channel: createFakeBus().open() }), win: new EventTarget(), navigate: () => {} });
  assert.equal(await ready, false);
  assert.deepEqual(storage.dump(), {});
});

function sessionRow(id) {
  const li = element();
  const button = element({ dataset: { endSession: id } });
  button.closest = (selector) => (selector === "li" ? li : null);
  return { li, button };
}

test("end session: another device's row goes; this device's own signs out", async () => {
  const other = sessionRow("other id");
  const mine = sessionRow("mine");
  const api = {
    calls: [],
    async request(method, path) {
      this.calls.push(`${method} ${path}`);
      return { ok: true, current: path.endsWith("/mine") };
    },
  };
  const said = [];
  const signedOut = [];
  const tokenService = { checkSession: async () => true, signOut: (reason) => signedOut.push(reason) };
  const root = { querySelectorAll: () => [other.button, mine.button] };
  assert.equal(bindEndSessionButtons({ root, api, tokenService, say: (t) => said.push(t) }), 2);
  other.button.dispatchEvent(new Event("click"));
  await flushAll();
  assert.deepEqual(api.calls, ["DELETE /auth/sessions/other%20id"]);
  assert.equal(other.li.removed, true);
  assert.deepEqual(said, ["Session ended."]);
  mine.button.dispatchEvent(new Event("click"));
  await flushAll();
  assert.deepEqual(signedOut, ["logout"]);
});

test("end session: a 401 renews the session and asks once more; a failure is said, not thrown", async () => {
  const row = sessionRow("x");
  const answers = [() => { throw classifyResponse(401, { error: "not_authenticated" }); }, () => ({ ok: true, current: false })];
  let checks = 0;
  const api = { request: async () => answers.shift()() };
  const said = [];
  bindEndSessionButtons({ root: { querySelectorAll: () => [row.button] }, api, tokenService: { checkSession: async () => { checks += 1; return true; }, signOut() {} }, say: (t) => said.push(t) });
  row.button.dispatchEvent(new Event("click"));
  await flushAll();
  assert.equal(checks, 1);
  assert.equal(row.li.removed, true);
  const failing = sessionRow("y");
  const codes = [];
  bindEndSessionButtons({ root: { querySelectorAll: () => [failing.button] }, api: { request: async () => { throw networkError(new TypeError("x")); } }, tokenService: {}, say: (t, code) => { said.push(t); codes.push(code); } });
  failing.button.dispatchEvent(new Event("click"));
  await flushAll();
  assert.equal(said.at(-1), "Couldn't end that session. We couldn't reach Guildhall. Check your connection; we'll keep trying.");
  assert.equal(codes.at(-1), "network_error", "the code goes in small print, not in the words");
  assert.equal(failing.button.disabled, false, "the user can try again");
});

test("app page: signs in, renders the user, connects, and logs out through the server", async () => {
  FakeWebSocket.instances = [];
  const clock = createManualClock();
  const storage = createFakeStorage();
  const bus = createFakeBus();
  const ids = {
    "conn-status": element(), "online-users": element(), "auth-status": element(), logout: element(), "logout-all": element(),
  };
  const nameField = element({ dataset: { userField: "display_name" } });
  const doc = fakeDocument({ page: "app", body: { heartbeatIntervalMs: "60000" }, ids, selectors: { "[data-user-field]": [nameField] } });
  const win = new EventTarget();
  const went = [];
  const api = createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "app-token" }), [PATHS.logout]: { ok: true } });
  const lock = createFallbackLock({ storage, channel: bus.open(), clock });
  const app = startApp({
    doc, win, clock, api, sync: createSync({ storage, channel: bus.open() }), runWithLock: lock.runWithLock, navigate: (p) => went.push(p),
    realtimeOptions: {
      shared: false,
      connectionOptions: { fetch: fakeFetch(() => ({ body: { connectionToken: "c" } })), WebSocket: FakeWebSocket, baseUrl: "https://site.test/app", random: () => 0.5 },
    },
  });
  await clock.advanceAsync(1_000, flushAll);
  assert.equal(await app.ready, "signed-in");
  assert.equal(app.tokenService.accessToken, "app-token");
  assert.equal(nameField.textContent, "Ada");
  assert.equal(FakeWebSocket.instances.length, 1, "the realtime connection opened");
  assert.match(FakeWebSocket.instances[0].url, /access_token=app-token/);
  assert.equal(ids["conn-status"].dataset.state, "connecting");
  ids.logout.dispatchEvent(new Event("click"));
  await flushAll();
  assert.deepEqual(api.calls.slice(-1), [PATHS.logout]);
  assert.deepEqual(went, [`${PATHS.signIn}?signed_out=you`], "the sign-in page says why");
  assert.equal(app.heartbeat.running(), false);
});
