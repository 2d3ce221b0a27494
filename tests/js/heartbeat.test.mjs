import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createHeartbeat, isSuspension, resetHeartbeats } from "../../static/js/heartbeat.js";
import { createManualClock } from "../../static/js/clock.js";
import { HEARTBEAT_INTERVAL_MS as I } from "../../static/js/constants.js";

afterEach(() => resetHeartbeats());

function setup() {
  const clock = createManualClock();
  const beats = [];
  const suspensions = [];
  const hb = createHeartbeat({
    clock,
    onBeat: ({ gapMs }) => beats.push(gapMs),
    onSuspend: ({ gapMs }) => suspensions.push(gapMs),
  });
  return { clock, beats, suspensions, hb };
}

test("beats once per interval", () => {
  const { clock, beats, suspensions, hb } = setup();
  hb.start();
  clock.advance(I - 1);
  assert.equal(beats.length, 0);
  clock.advance(1);
  clock.advance(I * 3);
  assert.deepEqual(beats, [I, I, I, I]);
  assert.deepEqual(suspensions, []);
});

test("a gap over twice the interval is a suspension, reported before the beat", () => {
  const { clock, beats, suspensions, hb } = setup();
  const order = [];
  const hb2 = createHeartbeat({ clock, onBeat: () => order.push("beat"), onSuspend: () => order.push("suspend") });
  hb.start();
  hb2.start();
  clock.jump(5 * 60_000); // timers paused: the laptop slept
  clock.advance(0); // the overdue timer fires on wake
  assert.deepEqual(suspensions, [5 * 60_000]);
  assert.deepEqual(beats, [5 * 60_000]);
  assert.deepEqual(order, ["suspend", "beat"]);
  clock.advance(I);
  assert.equal(suspensions.length, 1, "back to normal");
});

test("sleep is detected even when the monotonic clock stalled", () => {
  const { clock, suspensions, hb } = setup();
  hb.start();
  clock.jump(3 * 60 * 60_000, { mono: false }); // only the wall clock saw the night
  hb.tick();
  assert.equal(suspensions.length, 1);
  assert.ok(suspensions[0] >= 3 * 60 * 60_000);
});

test("a wall clock set back is not a suspension", () => {
  const { clock, suspensions, beats, hb } = setup();
  hb.start();
  clock.setWall(clock.wallNow() - 10 * 60 * 60_000);
  clock.advance(I);
  assert.deepEqual(suspensions, []);
  assert.deepEqual(beats, [I]);
});

test("exactly twice the interval is still on time", () => {
  assert.equal(isSuspension(2 * I, I), false);
  assert.equal(isSuspension(2 * I + 1, I), true);
  assert.equal(isSuspension(1000, 300, 3), true);
});

test("stop ends the beats; reset stops every heartbeat", () => {
  const { clock, beats, hb } = setup();
  hb.start();
  hb.stop();
  clock.advance(10 * I);
  assert.deepEqual(beats, []);
  hb.start();
  assert.equal(hb.running(), true);
  resetHeartbeats();
  assert.equal(hb.running(), false);
  clock.advance(10 * I);
  assert.deepEqual(beats, []);
});

test("a failing async callback is reported, not thrown into the timer", async () => {
  const clock = createManualClock();
  const errors = [];
  const hb = createHeartbeat({ clock, onBeat: async () => { throw new Error("offline"); }, onSuspend: () => {}, onError: (e) => errors.push(e.message) });
  hb.start();
  clock.advance(I);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(errors, ["offline"]);
});
