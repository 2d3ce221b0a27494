import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { HubConnection } from "../../static/js/hub-connection.js";
import { createManualClock } from "../../static/js/clock.js";
import { AuthClientError } from "../../static/js/errors.js";
import { HUB_KEEPALIVE_MS, HUB_PRESENCE_INTERVAL_MS, HUB_PROBE_TIMEOUT_MS, HUB_SERVER_TIMEOUT_MS } from "../../static/js/constants.js";
import { FakeWebSocket, fakeFetch } from "./helpers.mjs";

const RS = "\u001e";
let conn;

beforeEach(() => { FakeWebSocket.instances = []; });
afterEach(() => conn?.dispose());

function setup({ negotiate = () => ({ body: { connectionToken: `ct${FakeWebSocket.instances.length + 1}`, negotiateVersion: 1 } }), tokens } = {}) {
  const clock = createManualClock();
  const keep = createManualClock();
  const asked = [];
  let n = 0;
  const fetch = fakeFetch(negotiate);
  const states = [];
  const calls = [];
  conn = new HubConnection({
    getAccessToken: async ({ replace }) => { asked.push(replace); return tokens ? tokens(replace) : `tok${(n += 1)}`; },
    baseUrl: "https://site.test/app",
    clock,
    keepAliveClock: keep,
    fetch,
    WebSocket: FakeWebSocket,
    random: () => 0.5,
  });
  conn.on("state", (s) => states.push(s.state));
  conn.on("server", (c) => calls.push(c));
  const run = (ms = 0) => clock.advanceAsync(ms);
  const ws = () => FakeWebSocket.instances.at(-1);
  const handshake = async () => {
    await run();
    ws().serverOpen();
    ws().serverSend(`{}${RS}`);
  };
  return { clock, keep, asked, fetch, states, calls, run, ws, handshake };
}

test("negotiates with a Bearer token, then opens the socket with it and shakes hands", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  const [{ url, init }] = h.fetch.calls;
  assert.equal(url, "https://site.test/hub/negotiate?negotiateVersion=1");
  assert.equal(init.method, "POST");
  assert.equal(init.headers.Authorization, "Bearer tok1");
  assert.equal(h.ws().url, "wss://site.test/hub?id=ct1&access_token=tok1");
  assert.equal(h.ws().sent[0], `{"protocol":"json","version":1}${RS}`);
  assert.deepEqual(h.states, ["connecting", "connected"]);
  assert.equal(conn.token, "tok1");
});

test("invocations complete; server calls are emitted; client results are refused", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  const users = conn.invoke("GetOnlineUsers");
  assert.deepEqual(h.ws().sentMessages().at(-1), { type: 1, target: "GetOnlineUsers", arguments: [], invocationId: "0" });
  h.ws().serverSend(`{"type":3,"invocationId":"0","result":[{"id":1}]}${RS}{"type":1,"target":"presenceChanged","arguments":[{"id":1}]}${RS}`);
  assert.deepEqual(await users, [{ id: 1 }]);
  assert.deepEqual(h.calls, [{ target: "presenceChanged", args: [{ id: 1 }] }]);
  h.ws().serverSend(`{"type":1,"target":"ask","arguments":[],"invocationId":"9"}${RS}`);
  assert.equal(h.ws().sentMessages().at(-1).type, 3);
  assert.equal(h.ws().sentMessages().at(-1).invocationId, "9");
});

test("keep-alive pings and presence heartbeats run on the keep-alive clock", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  h.keep.advance(HUB_KEEPALIVE_MS);
  assert.deepEqual(h.ws().sentMessages().at(-1), { type: 6 });
  h.keep.advance(HUB_PRESENCE_INTERVAL_MS - HUB_KEEPALIVE_MS);
  assert.ok(h.ws().sentMessages().some((m) => m.target === "Heartbeat"));
  const pings = h.ws().sentMessages().filter((m) => m.type === 6).length;
  assert.equal(pings, HUB_PRESENCE_INTERVAL_MS / HUB_KEEPALIVE_MS);
});

test("a silent server is probed before the socket is given up", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  const first = h.ws();
  await h.run(HUB_SERVER_TIMEOUT_MS); // the handshake answer still counts as a sign of life
  assert.equal(first.sentMessages().filter((m) => m.target === "Heartbeat").length, 0);
  await h.run(HUB_SERVER_TIMEOUT_MS);
  const probe = first.sentMessages().at(-1);
  assert.equal(probe.target, "Heartbeat", "probe sent");
  first.serverSend(`{"type":3,"invocationId":"${probe.invocationId}"}${RS}`);
  await h.run(HUB_PROBE_TIMEOUT_MS);
  assert.equal(first.closedWith, null, "answered: still connected");

  await h.run(2 * HUB_SERVER_TIMEOUT_MS); // silent again, and this time no answer
  await h.run(HUB_PROBE_TIMEOUT_MS);
  assert.equal(first.closedWith.code, 4000);
  await h.run(0);
  assert.equal(FakeWebSocket.instances.length, 2, "reconnected at once");
  assert.equal(h.states.at(-1), "reconnecting");
});

test("server messages keep the connection from being probed", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  for (let i = 0; i < 10; i += 1) {
    await h.run(15_000);
    h.ws().serverSend(`{"type":6}${RS}`);
  }
  assert.equal(h.ws().sentMessages().filter((m) => m.target === "Heartbeat").length, 0);
});

test("a close without allowReconnect stops until the page says start", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  h.ws().serverSend(`{"type":7,"error":"session_revoked","allowReconnect":false}${RS}`);
  await h.run(10 * 60_000);
  assert.equal(h.states.at(-1), "unauthorized");
  assert.equal(FakeWebSocket.instances.length, 1, "no reconnect on its own");
  conn.start();
  await h.run(0);
  await h.handshake();
  assert.equal(h.states.at(-1), "connected");
});

test("a drop reconnects with back-off, asking for a token every time, forever", async () => {
  let online = false;
  const h = setup({ negotiate: () => { if (!online) throw new TypeError("Failed to fetch"); return { body: { connectionToken: "ct" } }; } });
  conn.start();
  const attemptsAt = () => h.fetch.calls.length;
  await h.run(0); // the first retry is immediate
  assert.equal(attemptsAt(), 2);
  await h.run(1_999);
  assert.equal(attemptsAt(), 2);
  await h.run(1);
  assert.equal(attemptsAt(), 3);
  await h.run(10_000);
  assert.equal(attemptsAt(), 4);
  await h.run(30_000 * 5);
  assert.equal(attemptsAt(), 9, "30 s steps, never giving up");
  online = true;
  await h.run(30_000);
  h.ws().serverOpen();
  h.ws().serverSend(`{}${RS}`);
  assert.equal(h.states.at(-1), "connected");
  assert.equal(h.asked.length, h.fetch.calls.length, "a token asked for each attempt");
});

test("reconnectNow (network back) skips the wait", async () => {
  const h = setup({ negotiate: () => { throw new TypeError("offline"); } });
  conn.start();
  await h.run(0);
  await h.run(0);
  await h.run(2_000);
  const before = h.fetch.calls.length;
  conn.reconnectNow();
  await h.run(0);
  assert.equal(h.fetch.calls.length, before + 1);
});

test("a refused token is replaced once; refused twice, the session needs a check", async () => {
  const h = setup({ negotiate: () => ({ status: 401, body: { error: "token_expired", detail: "expired" } }) });
  conn.start();
  await h.run(0);
  assert.deepEqual(h.asked, [null, "tok1"]);
  assert.equal(h.states.at(-1), "unauthorized");
  await h.run(60_000);
  assert.equal(h.fetch.calls.length, 2);
});

test("a definitive error from the token source stops, without retry loops", async () => {
  const h = setup({ tokens: () => { throw new AuthClientError("session_revoked"); } });
  conn.start();
  await h.run(60_000);
  assert.equal(h.states.at(-1), "unauthorized");
  assert.equal(h.asked.length, 1);
});

test("renewing the token in-band", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  const renewing = conn.renewToken("tok-new");
  const again = conn.renewToken("tok-new"); // every tab reports the same token
  assert.equal(h.ws().sentMessages().filter((m) => m.target === "RenewToken").length, 1);
  const msg = h.ws().sentMessages().at(-1);
  assert.deepEqual([msg.target, msg.arguments], ["RenewToken", ["tok-new"]]);
  h.ws().serverSend(`{"type":3,"invocationId":"${msg.invocationId}","result":true}${RS}`);
  await renewing;
  await again;
  assert.equal(conn.token, "tok-new");
  const count = h.ws().sent.length;
  await conn.renewToken("tok-new");
  assert.equal(h.ws().sent.length, count, "same token: nothing sent");
});

test("a refused renewal rejects and keeps the old token", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  const renewing = conn.renewToken("other-session");
  const msg = h.ws().sentMessages().at(-1);
  h.ws().serverSend(`{"type":3,"invocationId":"${msg.invocationId}","error":"session mismatch"}${RS}`);
  await assert.rejects(renewing, (e) => e.code === "hub_error");
  assert.equal(conn.token, "tok1");
});

test("stop closes, rejects pending calls and never reconnects", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  const pending = conn.invoke("GetOnlineUsers");
  conn.stop();
  await assert.rejects(pending, (e) => e.code === "connection_closed");
  await h.run(10 * 60_000);
  assert.equal(FakeWebSocket.instances.length, 1);
  assert.equal(h.states.at(-1), "idle");
  await assert.rejects(conn.invoke("X"), (e) => e.code === "connection_closed");
});

test("a handshake error closes the socket and retries", async () => {
  const h = setup();
  conn.start();
  await h.run(0);
  h.ws().serverOpen();
  h.ws().serverSend(`{"error":"unsupported"}${RS}`);
  await h.run(0);
  await h.run(0);
  assert.equal(FakeWebSocket.instances.length, 2);
  assert.equal(FakeWebSocket.instances[0].closedWith.code, 4000);
});

test("the server restarting (socket drop without close message) reconnects", async () => {
  const h = setup();
  conn.start();
  await h.handshake();
  h.ws().serverDrop();
  await h.run(0);
  await h.handshake();
  assert.deepEqual(h.states.slice(-2), ["reconnecting", "connected"]);
  assert.equal(h.ws().url, "wss://site.test/hub?id=ct2&access_token=tok2");
});
