import test from "node:test";
import assert from "node:assert/strict";

import { classifyResponse } from "../../static/js/errors.js";
import { reasonOf, signInPath, signedOutFlag } from "../../static/js/signed-out.js";

test("the server's revoke reason picks the sign-in page's message", () => {
  const cases = {
    admin: "/?signed_out=admin", evicted: "/?signed_out=evicted", ended_by_user: "/?signed_out=elsewhere",
    logout_all: "/?signed_out=elsewhere", refresh_reuse: "/?signed_out=security",
  };
  for (const [reason, path] of Object.entries(cases)) {
    const error = classifyResponse(401, { error: "session_revoked", detail: "x", reason });
    assert.equal(signInPath(reasonOf(error)), path, reason);
  }
  assert.equal(signInPath("logout_all"), "/?signed_out=everywhere", "this device's own 'sign out everywhere'");
  assert.equal(signInPath(reasonOf(classifyResponse(401, { error: "session_expired", detail: "x" }))), "/?signed_out=expired");
});

test("an unknown or hostile reason says nothing and never reaches the URL", () => {
  for (const reason of ["<script>", "admin&x=1", "A".repeat(40), 42, ""]) {
    const error = classifyResponse(401, { error: "session_revoked", detail: "x", reason });
    assert.equal(signInPath(reasonOf(error)), "/", String(reason));
  }
  assert.equal(signedOutFlag("toString"), "");
  assert.equal(signedOutFlag("revoked:__proto__"), "");
});

test("relative times: 'just now' under a minute, then minutes, hours, days", async () => {
  const { relativeTime } = await import("../../static/js/times.js");
  const now = Date.UTC(2026, 0, 10, 12, 0, 0);
  assert.equal(relativeTime(now - 20_000, now, "en"), "just now");
  assert.equal(relativeTime(now - 5 * 60_000, now, "en"), "5 minutes ago");
  assert.equal(relativeTime(now - 3 * 3_600_000, now, "en"), "3 hours ago");
  assert.equal(relativeTime(now - 86_400_000, now, "en"), "yesterday");
});

test("the online list leaves the viewer out and gives everyone an initial avatar", async () => {
  const { renderOnline } = await import("../../static/js/app.js");
  const made = [];
  const el = () => { const e = { dataset: {}, children: [], textContent: "", append(...c) { this.children.push(...c); }, setAttribute() {} }; made.push(e); return e; };
  const doc = { createElement: el };
  const list = { dataset: { loading: "" }, items: [], replaceChildren(...c) { this.items = c; } };
  renderOnline(doc, list, [{ userId: "1", name: "me" }, { userId: "2", name: "bob" }], "1");
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0].dataset.userId, "2");
  assert.equal(list.items[0].children[0].textContent, "B");
  assert.equal(list.dataset.loading, undefined, "loaded: the empty text may show now");
});
