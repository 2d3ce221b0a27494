// The official @microsoft/signalr client against the hub: connect, invoke, receive, renew, revoke.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Site, buildHub, env, nextCall, nextEvent, signalR, within } from "./site.mjs";

const base = env("HUB_BASE_URL");
const alice = new Site(base, env("ALICE_SESSION"));
const bob = new Site(base, env("BOB_SESSION"));
const aliceUserId = env("ALICE_USER_ID");
const bobUserId = env("BOB_USER_ID");

test("connects through negotiate with an accessTokenFactory and invokes", async () => {
  const conn = buildHub(alice, { reconnect: false });
  await conn.start();
  try {
    assert.equal(conn.state, signalR.HubConnectionState.Connected);
    assert.match(conn.connectionId, /^[A-Za-z0-9_-]{16,}$/);
    const online = await conn.invoke("GetOnlineUsers");
    assert.deepEqual(online, [{ userId: aliceUserId, name: "Alice" }]);
    const beat = await conn.invoke("Heartbeat");
    assert.ok(Math.abs(beat.serverTime - Date.now() / 1000) < 30);
    await conn.send("Heartbeat"); // fire-and-forget invocation (no invocationId)
    await assert.rejects(conn.invoke("NoSuchMethod"), /unknown_method/);
  } finally {
    await conn.stop();
  }
});

test("connects with skipNegotiation (token in the Authorization header)", async () => {
  const conn = buildHub(alice, { skipNegotiation: true, reconnect: false });
  await conn.start();
  try {
    assert.equal(conn.state, signalR.HubConnectionState.Connected);
    assert.equal(typeof (await conn.invoke("Heartbeat")).serverTime, "number");
  } finally {
    await conn.stop();
  }
});

test("a bad token is refused at negotiate and at the upgrade", async () => {
  await assert.rejects(buildHub(alice, { reconnect: false, token: () => "not-a-token" }).start(), /401/);
  await assert.rejects(
    buildHub(alice, { reconnect: false, skipNegotiation: true, token: () => "not-a-token" }).start(),
    /WebSocket failed to connect/,
  );
});

test("receives server calls: presenceChanged as another user comes and goes", async () => {
  const watcher = buildHub(alice, { reconnect: false });
  await watcher.start();
  const other = buildHub(bob, { reconnect: false });
  try {
    const cameOnline = nextCall(watcher, "presenceChanged", 5000, (p) => p.userId === bobUserId && p.online);
    await other.start();
    assert.deepEqual((await cameOnline)[0], { userId: bobUserId, name: "Bob", online: true });
    const names = (await watcher.invoke("GetOnlineUsers")).map((u) => u.name).sort();
    assert.deepEqual(names, ["Alice", "Bob"]);
    const wentOffline = nextCall(watcher, "presenceChanged", 5000, (p) => p.userId === bobUserId && !p.online);
    await other.stop();
    assert.equal((await wentOffline)[0].online, false);
  } finally {
    await other.stop();
    await watcher.stop();
  }
});

test("renews its access token in-band, for its own session only", async () => {
  const conn = buildHub(alice, { reconnect: false });
  await conn.start();
  try {
    const renewed = await conn.invoke("RenewToken", await alice.accessToken());
    assert.ok(renewed.expiresIn > 60, JSON.stringify(renewed));
    await assert.rejects(conn.invoke("RenewToken", await bob.accessToken()), /token_mismatch/);
    await assert.rejects(conn.invoke("RenewToken", "x.y.z"), /token_invalid/);
    assert.equal(conn.state, signalR.HubConnectionState.Connected);
  } finally {
    await conn.stop();
  }
});

test("a revoked session is closed with sessionRevoked and no reconnect", async () => {
  const doomed = new Site(base, env("DOOMED_SESSION"));
  const conn = buildHub(doomed); // automatic reconnect on: the close must still be final
  let reconnecting = false;
  conn.onreconnecting(() => { reconnecting = true; });
  await conn.start();
  const revoked = nextCall(conn, "sessionRevoked", 2000);
  const closed = nextEvent(conn, "onclose", 2000);
  const started = Date.now();
  await doomed.logout();
  assert.deepEqual((await revoked)[0], { reason: "logout" });
  const error = await closed;
  assert.ok(Date.now() - started < 1000, `closed after ${Date.now() - started} ms`);
  assert.match(String(error), /Session revoked \(logout\)/);
  assert.equal(conn.state, signalR.HubConnectionState.Disconnected);
  await within(new Promise((resolve) => setTimeout(resolve, 300)), 1000, "grace");
  assert.equal(reconnecting, false);
  await assert.rejects(buildHub(doomed, { reconnect: false }).start(), /401|403/);
});
