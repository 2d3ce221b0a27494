import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { resetPageWatches, watchPage } from "../../static/js/page-watch.js";
import { createManualClock } from "../../static/js/clock.js";
import { VISIBILITY_DEBOUNCE_MS } from "../../static/js/constants.js";

afterEach(() => resetPageWatches());

function setup() {
  const clock = createManualClock();
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: "visible" });
  const calls = [];
  const service = {
    checkSession: async () => { calls.push("check"); return true; },
    retryNow: () => calls.push("retry"),
  };
  const stop = watchPage(service, { win, doc, clock });
  return { clock, win, doc, calls, stop };
}

test("visibility, focus and bfcache restore check the session once per debounce window", () => {
  const { clock, win, doc, calls } = setup();
  doc.dispatchEvent(new Event("visibilitychange"));
  win.dispatchEvent(new Event("focus"));
  win.dispatchEvent(new Event("pageshow"));
  assert.deepEqual(calls, ["check"]);
  clock.advance(VISIBILITY_DEBOUNCE_MS);
  win.dispatchEvent(new Event("focus"));
  assert.deepEqual(calls, ["check", "check"]);
});

test("a hidden page does not check; `online` retries at once", () => {
  const { win, doc, calls } = setup();
  doc.visibilityState = "hidden";
  doc.dispatchEvent(new Event("visibilitychange"));
  win.dispatchEvent(new Event("online"));
  assert.deepEqual(calls, ["retry"]);
});

test("stopping (or the reset hook) removes the listeners", () => {
  const { win, calls, stop } = setup();
  stop();
  win.dispatchEvent(new Event("online"));
  const other = setup();
  resetPageWatches();
  other.win.dispatchEvent(new Event("online"));
  assert.deepEqual([...calls, ...other.calls], []);
});
