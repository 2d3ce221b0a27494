import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffMs, createThrottle, isDue, planRefresh, refreshMarginMs, remainingFromShared } from "../../static/js/schedule.js";
import { MIN_REFRESH_INTERVAL_MS, RETRY_AFTER_MAX_MS, RETRY_BACKOFF_MS } from "../../static/js/constants.js";
import { createManualClock } from "../../static/js/clock.js";

const MIN = 60_000;

test("margin: 5 minutes or 10% of the lifetime, whichever is larger", () => {
  assert.equal(refreshMarginMs(60 * MIN), 6 * MIN);
  assert.equal(refreshMarginMs(30 * MIN), 5 * MIN);
  assert.equal(refreshMarginMs(24 * 60 * MIN), 144 * MIN);
});

test("margin never exceeds half a short lifetime (no refresh loop with 1-minute tokens)", () => {
  assert.equal(refreshMarginMs(MIN), 30_000);
  assert.equal(isDue(31_000, MIN), false);
  assert.equal(isDue(30_000, MIN), true);
});

test("due when less than the margin is left", () => {
  assert.equal(isDue(7 * MIN, 60 * MIN), false);
  assert.equal(isDue(6 * MIN, 60 * MIN), true);
  assert.equal(isDue(0, 60 * MIN), true);
});

test("the next refresh is planned for the first credential to become due", () => {
  const plan = planRefresh({
    credentials: [
      { remainingMs: 60 * MIN, lifetimeMs: 60 * MIN },
      { remainingMs: 40 * MIN, lifetimeMs: 60 * MIN },
    ],
    absoluteRemainingMs: 30 * 24 * 60 * MIN,
  });
  assert.deepEqual(plan, { delayMs: 34 * MIN, action: "refresh" });
});

test("refreshes are never planned closer than the grace window to the last one", () => {
  const plan = planRefresh({ credentials: [{ remainingMs: 0, lifetimeMs: 60 * MIN }], sinceLastRefreshMs: 4_000 });
  assert.equal(plan.delayMs, MIN_REFRESH_INTERVAL_MS - 4_000);
  assert.equal(planRefresh({ credentials: [{ remainingMs: 0, lifetimeMs: 60 * MIN }] }).delayMs, 0);
});

test("near the absolute end, no refresh can help: check when the session ends", () => {
  const plan = planRefresh({ credentials: [{ remainingMs: 50 * MIN, lifetimeMs: 60 * MIN }], absoluteRemainingMs: 50 * MIN });
  assert.deepEqual(plan, { delayMs: 50 * MIN, action: "check" });
  const atEnd = planRefresh({ credentials: [{ remainingMs: 0, lifetimeMs: 60 * MIN }], absoluteRemainingMs: 0 });
  assert.equal(atEnd.delayMs, MIN_REFRESH_INTERVAL_MS, "not a tight loop if the server disagrees");
});

test("nothing known: wait at most one long timer", () => {
  const plan = planRefresh({ credentials: [] });
  assert.equal(plan.action, "refresh");
  assert.ok(plan.delayMs > 0 && plan.delayMs < 2 ** 31 - 1);
});

test("back-off grows, repeats its last step, and honours Retry-After", () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual([0, 1, 2, 3].map((a) => backoffMs(a, { random: mid })), RETRY_BACKOFF_MS.slice(0, 4));
  assert.equal(backoffMs(99, { random: mid }), RETRY_BACKOFF_MS.at(-1));
  assert.equal(backoffMs(0, { random: mid, retryAfterMs: 30_000 }), 30_000);
  assert.equal(backoffMs(0, { random: () => 0 }), 800, "jitter -20%");
  assert.equal(backoffMs(0, { random: () => 0.999999 }), 1200, "jitter +20%");
  assert.equal(backoffMs(0, { random: () => 0, retryAfterMs: 30_000 }), 30_000, "never sooner than Retry-After");
  assert.equal(backoffMs(0, { random: () => 0.999999, retryAfterMs: 30_000 }), 36_000, "spread above it");
  assert.equal(backoffMs(0, { random: mid, retryAfterMs: 7 * 86_400_000 }), RETRY_AFTER_MAX_MS, "a week-long Retry-After is capped");
});

test("another tab's lifetime is aged by the wall clock; a clock that went back uses it up", () => {
  assert.equal(remainingFromShared(60 * MIN, 1_000_000, 1_000_000 + 10 * MIN), 50 * MIN);
  assert.equal(remainingFromShared(60 * MIN, 1_000_000, 1_000_000 + 2 * 60 * MIN), 0);
  assert.equal(remainingFromShared(60 * MIN, 1_000_000, 1_000_000 - 2_000), 60 * MIN, "small skew tolerated");
  assert.equal(remainingFromShared(60 * MIN, 1_000_000, 1_000_000 - 3 * 60 * MIN), 0, "clock set back: unknown age");
});

test("visibility throttle: the first event acts, others within the window do not", () => {
  const clock = createManualClock();
  const throttle = createThrottle(1000, clock);
  assert.equal(throttle(), true);
  assert.equal(throttle(), false);
  clock.advance(999);
  assert.equal(throttle(), false);
  clock.advance(1);
  assert.equal(throttle(), true);
});
