import { test, afterEach, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { RealtimeClient, resetRealtime } from "../../static/js/realtime.js";
import { Emitter } from "../../static/js/emitter.js";
import { createManualClock } from "../../static/js/clock.js";
import { AuthClientError } from "../../static/js/errors.js";
import { FakeWebSocket, fakeFetch, flushAll } from "./helpers.mjs";

const RS = "\u001e";
afterEach(() => resetRealtime());
beforeEach(() => { FakeWebSocket.instances = []; });

class FakeTokenService extends Emitter {
  constructor() {
    super();
    this.checks = 0;
    this.asked = [];
    this.next = async () => "tok";
  }
  getFreshToken({ replace }) { this.asked.push(replace); return this.next(); }
  async checkSession() { this.checks += 1; return true; }
}

/** A page without SharedWorker: the relay and the connection run in the page. */
function page() {
  const clock = createManualClock();
  const tokenService = new FakeTokenService();
  const fetch = fakeFetch(() => ({ body: { connectionToken: "c" } }));
  const win = new EventTarget();
  const client = new RealtimeClient({
    tokenService, clock, shared: false, win,
    connectionOptions: { fetch, WebSocket: FakeWebSocket, baseUrl: "https://site.test/app", random: () => 0.5 },
  });
  const states = [];
  const errors = [];
  client.on("state", (s) => { states.push(s.state); if (s.error) errors.push(s.error); });
  return { clock, tokenService, fetch, win, client, states, errors };
}

async function connected(p) {
  p.client.connect();
  await flushAll();
  const ws = FakeWebSocket.instances.at(-1);
  ws.serverOpen();
  ws.serverSend(`{}${RS}`);
  await flushAll();
  return ws;
}

test("without SharedWorker the page runs its own connection, with tokens from its token service", async () => {
  const p = page();
  const ws = await connected(p);
  assert.equal(p.client.mode, "page");
  assert.equal(ws.url, "wss://site.test/hub?id=c&access_token=tok");
  assert.deepEqual(p.tokenService.asked, [null]);
  assert.equal(p.client.state, "connected");
});

test("hub calls go through the relay and come back", async () => {
  const p = page();
  const ws = await connected(p);
  const users = p.client.invoke("GetOnlineUsers");
  await flushAll();
  const msg = ws.sentMessages().at(-1);
  assert.equal(msg.target, "GetOnlineUsers");
  ws.serverSend(`{"type":3,"invocationId":"${msg.invocationId}","result":["ada"]}${RS}`);
  assert.deepEqual(await users, ["ada"]);
});

test("a refused connection or sessionRevoked makes the page check its session", async () => {
  const p = page();
  const ws = await connected(p);
  ws.serverSend(`{"type":1,"target":"sessionRevoked","arguments":[]}${RS}`);
  await flushAll();
  assert.equal(p.tokenService.checks, 1);
  ws.serverSend(`{"type":7,"error":"revoked","allowReconnect":false}${RS}`);
  await flushAll();
  assert.equal(p.client.state, "unauthorized");
  assert.equal(p.tokenService.checks, 2);
  p.tokenService.emit("session", {}); // the check found the session good
  await flushAll();
  await p.clock.advanceAsync(0, flushAll);
  assert.equal(FakeWebSocket.instances.length, 2, "connection started again");
});

test("a new token from this tab's refresh is renewed in-band", async () => {
  const p = page();
  const ws = await connected(p);
  p.tokenService.emit("token", "tok2");
  await flushAll();
  assert.deepEqual(ws.sentMessages().at(-1).arguments, ["tok2"]);
});

test("a token request the token service cannot serve is answered with {code, detail}", async () => {
  const p = page();
  p.tokenService.next = async () => { throw new AuthClientError("network_error", { detail: "offline" }); };
  p.client.connect();
  await flushAll();
  assert.equal(FakeWebSocket.instances.length, 0);
  assert.equal(p.client.state, "reconnecting");
  assert.deepEqual(p.errors.at(-1), { code: "network_error", detail: "offline" }, "the reason crossed postMessage intact");
});

test("signing out tells the connection to stop; pagehide says bye", async () => {
  const p = page();
  const ws = await connected(p);
  p.tokenService.emit("signedout", { reason: "logout" });
  await flushAll();
  assert.equal(ws.closedWith?.code, 1000);
  assert.equal(p.client.state, "idle");
  p.win.dispatchEvent(new Event("pagehide"));
  assert.equal(p.client.port, null);
});

test("the page drives the worker clock with ticks", async () => {
  const p = page();
  const sent = [];
  p.client.connect();
  const post = p.client.port.postMessage.bind(p.client.port);
  p.client.port.postMessage = (m) => { sent.push(m); post(m); };
  p.clock.advance(3_000);
  assert.deepEqual(sent.filter((m) => m.type === "tick").map((m) => m.now - p.clock.wallNow()), [-2000, -1000, 0]);
});
