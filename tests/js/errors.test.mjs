import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuthClientError, CLIENT_CODES, ERROR_KINDS, classifyResponse, fromWireError, networkError, outcomeOf, parseRetryAfter, toWireError,
} from "../../static/js/errors.js";
import { PATHS } from "../../static/js/constants.js";

test("only revoked/expired/reused/absent sessions and disabled accounts are definitive", () => {
  for (const [status, code] of [[401, "not_authenticated"], [401, "session_expired"], [401, "session_revoked"],
    [401, "refresh_reused"], [401, "account_disabled"]]) {
    const e = classifyResponse(status, { error: code, detail: "x" });
    assert.equal(e.kind, "definitive", code);
    assert.equal(e.definitive, true);
    assert.equal(e.code, code);
  }
  const definitive = Object.keys(ERROR_KINDS).filter((code) => ERROR_KINDS[code] === "definitive");
  assert.deepEqual(definitive.sort(), [
    "account_disabled", "not_authenticated", "refresh_reused", "session_expired", "session_revoked", "signed_out",
  ]);
});

test("doubtful 401s are re-checked, never taken as a logout", () => {
  for (const code of ["refresh_invalid", "token_invalid", "token_expired"]) {
    const e = classifyResponse(401, { error: code, detail: "x" });
    assert.equal(e.kind, "recheck", code);
    assert.equal(e.definitive, false);
  }
  // A 401 without our JSON (a proxy) or with an unknown code is not proof either.
  assert.deepEqual([classifyResponse(401, null).code, classifyResponse(401, null).kind], ["unauthorized", "recheck"]);
  const unknown = classifyResponse(401, { error: "something_new", detail: "new" });
  assert.deepEqual([unknown.code, unknown.kind, unknown.detail], ["unauthorized", "recheck", "new (something_new)"]);
});

test("a definitive code only counts on a 401", () => {
  const odd = classifyResponse(500, { error: "session_revoked" });
  assert.deepEqual([odd.code, odd.kind], ["server_error", "retry"]);
});

test("rate limits, outages, CSRF refusals and odd answers are retried", () => {
  const limited = classifyResponse(429, { error: "rate_limited", detail: "slow down" }, "7");
  assert.equal(limited.kind, "retry");
  assert.equal(limited.retryAfterMs, 7000);
  const down = classifyResponse(503, { error: "store_unavailable" }, "2");
  assert.deepEqual([down.kind, down.code, down.retryAfterMs], ["retry", "store_unavailable", 2000]);
  assert.equal(classifyResponse(502, null).code, "server_error");
  assert.equal(classifyResponse(503, { error: "new_outage" }).code, "server_error");
  assert.equal(classifyResponse(429, null).code, "rate_limited");
  assert.deepEqual([classifyResponse(403, null).code, classifyResponse(403, null).kind], ["csrf_failed", "retry"]);
  assert.equal(classifyResponse(404, null).code, "http_error");
  assert.equal(classifyResponse(400, { error: "bad_request" }).kind, "retry");
});

test("the list of codes is closed: an unknown code cannot be made", () => {
  assert.throws(() => new AuthClientError("made_up"), TypeError);
  for (const code of Object.values(CLIENT_CODES)) assert.ok(code in ERROR_KINDS, code);
  assert.equal(new AuthClientError("session_revoked").kind, "definitive", "the kind follows from the code");
});

test("Retry-After: delta-seconds only (a date would need the device clock)", () => {
  assert.equal(parseRetryAfter("0"), 0);
  assert.equal(parseRetryAfter(" 12 "), 12000);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), null);
  assert.equal(parseRetryAfter("-1"), null);
  assert.equal(parseRetryAfter(null), null);
});

test("a failed fetch is a retryable network error; an abort is a timeout", () => {
  assert.deepEqual([networkError(new TypeError("Failed to fetch")).code, networkError(new TypeError("x")).kind], ["network_error", "retry"]);
  const abort = Object.assign(new Error("aborted"), { name: "AbortError" });
  assert.deepEqual([networkError(abort).code, networkError(abort).kind], ["timeout", "retry"]);
});

test("errors cross postMessage as plain {code, detail} and come back with their kind", () => {
  const wire = toWireError(new AuthClientError("session_revoked", { detail: "ended" }));
  assert.deepEqual(wire, { code: "session_revoked", detail: "ended" });
  assert.deepEqual(structuredClone(wire), wire);
  assert.equal(fromWireError(wire).definitive, true);
  assert.equal(fromWireError({ code: "refresh_invalid", detail: "" }).kind, "recheck");
  assert.equal(fromWireError({ code: "network_error", detail: "" }).kind, "retry");
  assert.deepEqual([fromWireError({ code: "made_up", detail: "?" }).code, fromWireError(null).code], ["client_error", "client_error"]);
  assert.deepEqual(toWireError(new Error("boom")), { code: "client_error", detail: "boom" });
  assert.deepEqual(toWireError({ code: "lock_timeout" }), { code: "lock_timeout", detail: "lock_timeout" });
});
