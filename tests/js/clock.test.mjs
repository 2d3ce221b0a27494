import { test } from "node:test";
import assert from "node:assert/strict";
import { createDrivenClock, createManualClock, elapsedSince, getClock, markNow, resetClock, setClock, systemClock } from "../../static/js/clock.js";

test("the manual clock fires timers in due order, then creation order", () => {
  const clock = createManualClock();
  const order = [];
  clock.setTimeout(() => order.push("b"), 20);
  clock.setTimeout(() => order.push("a"), 10);
  clock.setTimeout(() => order.push("c"), 20);
  const cancelled = clock.setTimeout(() => order.push("x"), 5);
  clock.clearTimeout(cancelled);
  clock.advance(15);
  assert.deepEqual(order, ["a"]);
  clock.advance(5);
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.equal(clock.now(), 20);
});

test("a jump moves time without firing timers, like a suspended device", () => {
  const clock = createManualClock();
  let fired = false;
  clock.setTimeout(() => { fired = true; }, 1000);
  clock.jump(5000);
  assert.equal(fired, false);
  assert.equal(clock.now(), 5000);
  clock.advance(0);
  assert.equal(fired, true);
});

test("elapsed time is the larger of monotonic and wall time, never negative", () => {
  const clock = createManualClock();
  const mark = markNow(clock);
  clock.jump(60_000, { mono: false }); // monotonic clock stalled during sleep
  assert.equal(elapsedSince(mark, clock), 60_000);
  const mark2 = markNow(clock);
  clock.jump(10_000, { wall: false }); // wall clock did not move (or was set back)
  assert.equal(elapsedSince(mark2, clock), 10_000);
  const mark3 = markNow(clock);
  clock.setWall(clock.wallNow() - 3_600_000); // user set the clock back an hour
  assert.equal(elapsedSince(mark3, clock), 0);
});

test("the driven clock moves only with page reports", () => {
  const clock = createDrivenClock();
  const fired = [];
  clock.feed(1_000_000);
  clock.setTimeout(() => fired.push(clock.now()), 2_000);
  clock.feed(1_001_000);
  assert.deepEqual(fired, []);
  clock.feed(1_002_500);
  assert.deepEqual(fired, [2_500]);
  assert.equal(clock.now(), 2_500);
});

test("a long jump fires each due timer once; timers set meanwhile count from the new time", () => {
  const clock = createDrivenClock();
  const log = [];
  clock.feed(0);
  // A timeout that, when it fires, arms a shorter follow-up (as a probe after a server timeout does).
  clock.setTimeout(() => {
    log.push("timeout");
    clock.setTimeout(() => log.push("probe expired"), 10_000);
  }, 30_000);
  clock.feed(2 * 3_600_000); // the pages' clock jumped two hours
  assert.deepEqual(log, ["timeout"], "the follow-up waits for real page time to pass");
  clock.feed(2 * 3_600_000 + 10_000);
  assert.deepEqual(log, ["timeout", "probe expired"]);
});

test("the driven clock ignores a sibling slightly behind and rebases on a clock change", () => {
  const clock = createDrivenClock();
  clock.feed(10_000_000);
  clock.feed(10_001_000);
  clock.feed(10_000_900); // another tab's tick, a little behind: ignored
  assert.equal(clock.now(), 1_000);
  clock.feed(10_002_000);
  assert.equal(clock.now(), 2_000, "no double counting");
  clock.feed(6_000_000); // device clock set back by more than the tolerance
  clock.feed(6_001_000);
  assert.equal(clock.now(), 3_000, "keeps moving after the change");
  clock.feed(Number.NaN);
  assert.equal(clock.now(), 3_000);
});

test("the default clock can be replaced and reset", () => {
  const fake = createManualClock();
  setClock(fake);
  assert.equal(getClock(), fake);
  resetClock();
  assert.equal(getClock(), systemClock);
});
