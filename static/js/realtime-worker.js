/**
 * SharedWorker entry: owns the one hub connection for every tab of the browser.
 * Loaded by realtime.js as a module worker. Time-dependent decisions use a clock
 * the pages drive with `tick` messages (Playwright's clock moves page time but
 * not worker time); only keep-alive pings use the worker's own timers.
 * @module realtime-worker
 */
import { createDrivenClock, systemClock } from "./clock.js";
import { HubConnection } from "./hub-connection.js";
import { RealtimeRelay } from "./realtime-relay.js";

const clock = createDrivenClock();

const relay = new RealtimeRelay({
  clock,
  createConnection: ({ getAccessToken }) => new HubConnection({
    getAccessToken,
    clock,
    keepAliveClock: systemClock,
    baseUrl: globalThis.location.href,
  }),
});

globalThis.addEventListener("connect", (event) => {
  for (const port of /** @type {MessageEvent} */ (event).ports) relay.addPort(port);
});
