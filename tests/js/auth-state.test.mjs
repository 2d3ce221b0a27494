import { test } from "node:test";
import assert from "node:assert/strict";
import { AuthState, absoluteRemainingFromAnswer } from "../../static/js/auth-state.js";
import { createManualClock } from "../../static/js/clock.js";
import { sessionAnswer } from "./helpers.mjs";

const MIN = 60_000;

test("lifetimes count from when the answer arrived, whatever the device clock says", () => {
  const clock = createManualClock({ wall: Date.UTC(1999, 0, 1) }); // device clock decades off
  const state = new AuthState(clock);
  state.applyAnswer(sessionAnswer({ token: "t", accessIn: 3600, sessionIn: 1800 }));
  assert.equal(state.accessRemainingMs(), 60 * MIN);
  assert.equal(state.sessionRemainingMs(), 30 * MIN);
  assert.equal(state.isDue(), false);
  clock.advance(25 * MIN);
  assert.equal(state.sessionRemainingMs(), 5 * MIN);
  assert.equal(state.isDue(), true, "the session cookie is within its margin");
});

test("an answer without a token keeps the token it had, aged", () => {
  const clock = createManualClock();
  const state = new AuthState(clock);
  state.applyAnswer(sessionAnswer({ token: "t" }));
  clock.advance(10 * MIN);
  state.applyAnswer(sessionAnswer({ token: null, refreshed: false }));
  assert.equal(state.accessToken, "t");
  assert.equal(state.accessRemainingMs(), 50 * MIN);
  assert.equal(state.sessionRemainingMs(), 60 * MIN, "the session cookie was renewed");
});

test("an answer for another session drops what belonged to the old one", () => {
  const state = new AuthState(createManualClock());
  state.applyAnswer(sessionAnswer({ token: "old", sessionId: "s1" }));
  state.applyAnswer({ ...sessionAnswer({ token: null, refreshed: false, sessionId: "s2" }) });
  assert.equal(state.accessToken, null);
  assert.equal(state.sessionId, "s2");
  assert.equal(state.accessDue(), true, "a token must be minted for the hub");
});

test("the absolute end comes from the server's own clock, in epoch seconds only", () => {
  assert.equal(absoluteRemainingFromAnswer({ server_time: 1000, session: { absolute_expires_at: 1060 } }), 60_000);
  assert.equal(absoluteRemainingFromAnswer({ server_time: 1000, session: { absolute_expires_at: 900 } }), 0);
  assert.equal(absoluteRemainingFromAnswer({ session: { absolute_expires_at: 5 } }), null);
  // One wire format: an ISO string is not read as a time.
  assert.equal(absoluteRemainingFromAnswer({ server_time: 1000, session: { absolute_expires_at: "1970-01-01T00:17:40Z" } }), null);
});

test("an answer without a usable absolute end keeps the one learnt before, aged", () => {
  const clock = createManualClock();
  const state = new AuthState(clock);
  state.applyAnswer(sessionAnswer({ token: "t", absoluteIn: 3600 }));
  clock.advance(10 * MIN);
  state.applyAnswer({ ...sessionAnswer({ token: "u" }), server_time: null });
  assert.equal(state.absoluteRemainingMs(), 50 * MIN);
});

test("a sibling's snapshot is aged by the wall clock between the tabs", () => {
  const clock = createManualClock();
  const a = new AuthState(clock);
  const snapshot = a.applyAnswer(sessionAnswer({ token: "shared" }));
  clock.advance(20 * MIN);
  const b = new AuthState(clock);
  assert.equal(b.adopt(snapshot), true);
  assert.equal(b.accessToken, "shared");
  assert.equal(b.accessRemainingMs(), 40 * MIN);
  assert.equal(b.adopt(snapshot), false, "the same snapshot twice changes nothing");
});

test("a snapshot from a wall clock that has since gone back is not trusted", () => {
  const clock = createManualClock();
  const snapshot = new AuthState(clock).applyAnswer(sessionAnswer({ token: "x" }));
  clock.setWall(clock.wallNow() - 60 * MIN);
  const b = new AuthState(clock);
  b.adopt(snapshot);
  assert.equal(b.accessRemainingMs(), 0);
  assert.equal(b.isDue(), true);
  assert.equal(AuthState.usable(snapshot, clock), false);
});

test("a snapshot taken later carries the remaining, not the original, lifetimes", () => {
  const clock = createManualClock();
  const state = new AuthState(clock);
  state.applyAnswer(sessionAnswer({ token: "t" }));
  clock.advance(15 * MIN);
  const snap = state.snapshot();
  assert.equal(snap.accessExpiresInMs, 45 * MIN);
  assert.equal(snap.accessLifetimeMs, 60 * MIN);
  assert.equal(snap.savedAt, clock.wallNow());
  assert.equal(snap.user.display_name, "Ada");
});
