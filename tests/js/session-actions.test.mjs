import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { resetTokenServices } from "../../static/js/token-service.js";
import { logout } from "../../static/js/session-actions.js";
import { resetSync } from "../../static/js/sync.js";
import { AuthClientError } from "../../static/js/errors.js";
import { HEARTBEAT_INTERVAL_MS, PATHS } from "../../static/js/constants.js";
import { createFakeApi, sessionAnswer } from "./helpers.mjs";
import { browser, offline, reject401, server, started, within } from "./tabs.mjs";

afterEach(() => {
  resetTokenServices();
  resetSync();
});

test("a 401 from the activity endpoint is only a reason to ask validate", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }) }));
  const t = b.tab();
  await started(b, t);
  b.api.script(PATHS.activity, reject401("not_authenticated"));
  b.api.script(PATHS.validate, () => sessionAnswer({ token: "a2" }));
  const posting = t.activity();
  await b.run(2_000);
  assert.equal(await posting, false);
  assert.equal(t.service.status, "signed-in");
  assert.equal(t.service.accessToken, "a2");
});

test("one activity POST per interval per browser", async () => {
  const b = browser(server("a", { [PATHS.activity]: { ok: true } }));
  const [one, two] = [b.tab(), b.tab()];
  await started(b, one);
  await started(b, two);
  assert.equal(await within(b, one.activity(), 100), true);
  assert.equal(await within(b, two.activity(), 100), false, "a sibling just posted");
  b.clock.jump(HEARTBEAT_INTERVAL_MS);
  assert.equal(await within(b, two.activity(), 100), true);
  assert.equal(b.api.count(PATHS.activity), 2);
});

test("tabs beating at the same moment post activity once", async () => {
  const b = browser(server("a", { [PATHS.activity]: { ok: true } }));
  const tabs = [b.tab(), b.tab(), b.tab()];
  for (const t of tabs) await started(b, t);
  const results = await within(b, Promise.all(tabs.map((t) => t.activity())), 2_000);
  assert.deepEqual(results.filter(Boolean).length, 1);
  assert.equal(b.api.count(PATHS.activity), 1);
});

test("logout: server first, then every tab; a lapsed session cookie is renewed first", async () => {
  const b = browser(server());
  const [one, two] = [b.tab(), b.tab()];
  await started(b, one);
  await started(b, two);
  b.api.script(PATHS.logout, reject401("not_authenticated"), { ok: true });
  b.api.script(PATHS.validate, () => sessionAnswer({ token: "v" }));
  await within(b, logout(one.service), 0);
  assert.deepEqual(b.api.calls.slice(-3), [PATHS.logout, PATHS.validate, PATHS.logout]);
  assert.deepEqual(one.navigated, [`${PATHS.signIn}?signed_out=you`]);
  assert.deepEqual(two.navigated, [`${PATHS.signIn}?signed_out=you`], "the sibling tab says why too");
});

test("logout offline is refused, not faked", async () => {
  const b = browser(createFakeApi({ [PATHS.refresh]: () => sessionAnswer({ token: "a" }), [PATHS.logoutAll]: offline }));
  const t = b.tab();
  await started(b, t);
  await assert.rejects(within(b, logout(t.service, { everywhere: true }), 0), (e) => e instanceof AuthClientError && e.code === "network_error");
  assert.equal(t.service.status, "signed-in");
  assert.deepEqual(t.navigated, []);
});
