import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Retry, resetRetries } from "../../static/js/retry.js";
import { createManualClock } from "../../static/js/clock.js";
import { RETRY_AFTER_MAX_MS, RETRY_BACKOFF_MS } from "../../static/js/constants.js";

afterEach(() => resetRetries());

function setup(random = () => 0.5) {
  const clock = createManualClock();
  let runs = 0;
  const retry = new Retry({ clock, random, run: () => { runs += 1; } });
  return { clock, retry, runs: () => runs };
}

test("each failure in a row waits the next step; the last step repeats", () => {
  const { clock, retry, runs } = setup();
  const delays = [];
  for (let i = 0; i < RETRY_BACKOFF_MS.length + 2; i += 1) {
    delays.push(retry.after({}));
    clock.advance(delays.at(-1) - 1);
    assert.equal(runs(), i, "not before the back-off");
    clock.advance(1);
    assert.equal(runs(), i + 1);
  }
  assert.deepEqual(delays, [...RETRY_BACKOFF_MS, RETRY_BACKOFF_MS.at(-1), RETRY_BACKOFF_MS.at(-1)]);
  assert.equal(retry.attempt, RETRY_BACKOFF_MS.length + 2);
});

test("jitter spreads tabs; Retry-After is a floor, capped", () => {
  assert.equal(setup(() => 0).retry.after({}), RETRY_BACKOFF_MS[0] * 0.8);
  assert.equal(setup(() => 0.999999).retry.after({}), RETRY_BACKOFF_MS[0] * 1.2);
  assert.equal(setup(() => 0).retry.after({ retryAfterMs: 45_000 }), 45_000);
  assert.equal(setup().retry.after({ retryAfterMs: 10 * 86_400_000 }), RETRY_AFTER_MAX_MS);
});

test("one pending retry; `now` skips the wait; a success forgets the failures", () => {
  const { clock, retry, runs } = setup();
  retry.after({});
  retry.after({});
  assert.deepEqual([retry.attempt, retry.pending], [2, true]);
  assert.equal(retry.now(), true);
  assert.equal(runs(), 1);
  assert.equal(retry.now(), false, "nothing pending any more");
  clock.advance(60_000);
  assert.equal(runs(), 1, "the replaced timers never fire");
  retry.after({});
  retry.reset();
  assert.deepEqual([retry.attempt, retry.pending], [0, false]);
  clock.advance(60_000);
  assert.equal(runs(), 1);
});

test("reset hook cancels every pending retry", () => {
  const { clock, retry, runs } = setup();
  retry.after({});
  resetRetries();
  clock.advance(60_000);
  assert.equal(runs(), 0);
});
