// Short-lived access tokens (the server runs with a few seconds of token lifetime).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Site, buildHub, delay, env, nextCall, nextEvent, signalR } from "./site.mjs";

const base = env("HUB_BASE_URL");
const ttl = Number(env("ACCESS_TTL_SECONDS"));

test("an expired, unrenewed connection is closed with allowReconnect and the client comes back", async () => {
  const site = new Site(base, env("ALICE_SESSION"));
  const conn = buildHub(site);
  await conn.start();
  try {
    const firstId = conn.connectionId;
    const warned = nextCall(conn, "tokenExpiring", (ttl + 2) * 1000);
    const reconnecting = nextEvent(conn, "onreconnecting", (ttl + 3) * 1000);
    const reconnected = nextEvent(conn, "onreconnected", (ttl + 8) * 1000);
    assert.ok((await warned)[0].expiresIn <= ttl);
    assert.match(String(await reconnecting), /access token expired/);
    const newId = await reconnected;
    assert.notEqual(newId, firstId);
    assert.equal(conn.state, signalR.HubConnectionState.Connected);
    assert.equal(typeof (await conn.invoke("Heartbeat")).serverTime, "number");
    assert.ok(site.minted >= 2, "the reconnect asked the accessTokenFactory again");
  } finally {
    await conn.stop();
  }
});

test("renewing on tokenExpiring keeps the same connection past several lifetimes", async () => {
  const site = new Site(base, env("BOB_SESSION"));
  const conn = buildHub(site);
  let renewals = 0;
  let dropped = false;
  conn.onreconnecting(() => { dropped = true; });
  conn.on("tokenExpiring", async () => {
    await conn.invoke("RenewToken", await site.accessToken());
    renewals += 1;
  });
  await conn.start();
  try {
    const id = conn.connectionId;
    await delay((ttl * 2 + 1) * 1000);
    assert.equal(dropped, false);
    assert.ok(renewals >= 2, `renewed ${renewals} times`);
    assert.equal(conn.connectionId, id);
    assert.equal(conn.state, signalR.HubConnectionState.Connected);
  } finally {
    await conn.stop();
  }
});
