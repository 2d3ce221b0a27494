// Automatic reconnect after the server restarts (pytest restarts daphne when asked through a file).
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { Site, buildHub, env, nextEvent, signalR } from "./site.mjs";

test("reconnects by itself after a server restart, with its presence back", async () => {
  const site = new Site(env("HUB_BASE_URL"), env("ALICE_SESSION"));
  const signals = env("SIGNAL_DIR");
  const conn = buildHub(site, { reconnect: Array(40).fill(500) });
  await conn.start();
  try {
    const reconnecting = nextEvent(conn, "onreconnecting", 15000);
    const reconnected = nextEvent(conn, "onreconnected", 40000);
    writeFileSync(join(signals, "restart"), "");
    await reconnecting;
    assert.equal(conn.state, signalR.HubConnectionState.Reconnecting);
    await reconnected;
    assert.ok(existsSync(join(signals, "restarted")), "reconnected only after the restart");
    const online = await conn.invoke("GetOnlineUsers");
    assert.deepEqual(online.map((u) => u.userId), [env("ALICE_USER_ID")]);
  } finally {
    await conn.stop();
  }
});
