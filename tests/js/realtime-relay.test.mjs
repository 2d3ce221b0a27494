import { test, afterEach, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { RealtimeRelay, resetRelays } from "../../static/js/realtime-relay.js";
import { HubConnection } from "../../static/js/hub-connection.js";
import { Emitter } from "../../static/js/emitter.js";
import { createDrivenClock, createManualClock } from "../../static/js/clock.js";
import { PORT_IDLE_MS, TOKEN_REQUEST_TIMEOUT_MS } from "../../static/js/constants.js";
import { FakeWebSocket, fakeFetch } from "./helpers.mjs";

const RS = "\u001e";
afterEach(() => resetRelays());
beforeEach(() => { FakeWebSocket.instances = []; });

class FakeConnection extends Emitter {
  constructor({ getAccessToken }) {
    super();
    this.getAccessToken = getAccessToken;
    this.log = [];
    this.token = "current";
    this.invokeResult = async () => "ok";
  }
  start() { this.log.push("start"); }
  stop() { this.log.push("stop"); }
  reconnectNow() { this.log.push("reconnectNow"); }
  invoke(target, ...args) { this.log.push(["invoke", target, ...args]); return this.invokeResult(target, args); }
  async renewToken(token) { this.log.push(["renew", token]); this.token = token; }
  dispose() {}
}

function fakePort(name) {
  const port = {
    name,
    inbox: [],
    onmessage: null,
    postMessage(m) { if (port.broken) throw new Error("gone"); port.inbox.push(structuredClone(m)); },
    start() {},
    close() {},
    send(m) { port.onmessage({ data: m }); },
    last(type) { return port.inbox.filter((m) => m.type === type).at(-1); },
  };
  return port;
}

function setup() {
  const clock = createDrivenClock();
  let conn;
  const relay = new RealtimeRelay({ clock, createConnection: (o) => (conn = new FakeConnection(o)) });
  const ports = [fakePort("a"), fakePort("b"), fakePort("c")];
  for (const p of ports) relay.addPort(p);
  return { clock, relay, conn, ports };
}

const tick = async () => { for (let i = 0; i < 10; i += 1) await Promise.resolve(); };

test("a tab saying hello gets the current state and the connection starts", () => {
  const { conn, ports: [a] } = setup();
  a.send({ type: "hello", tabId: "A" });
  assert.deepEqual(a.inbox, [{ type: "state", state: "idle", error: null }]);
  assert.deepEqual(conn.log, ["start"]);
});

test("connection state and server calls reach every tab", () => {
  const { conn, ports } = setup();
  for (const p of ports) p.send({ type: "hello", tabId: p.name });
  conn.emit("state", { state: "connected", error: null });
  conn.emit("server", { target: "presenceChanged", args: [1] });
  for (const p of ports) {
    assert.equal(p.last("state").state, "connected");
    assert.deepEqual(p.last("server"), { type: "server", target: "presenceChanged", args: [1] });
  }
});

test("a token request goes to every tab; the first answer wins", async () => {
  const { conn, ports: [a, b] } = setup();
  a.send({ type: "hello", tabId: "A" });
  b.send({ type: "hello", tabId: "B" });
  const token = conn.getAccessToken({ replace: null });
  const req = a.last("needToken");
  assert.deepEqual(b.last("needToken"), req);
  b.send({ type: "tokenReply", requestId: req.requestId, accessToken: "from-b" });
  a.send({ type: "tokenReply", requestId: req.requestId, accessToken: "from-a" });
  assert.equal(await token, "from-b");
});

test("when every tab fails, the request fails with the most definitive reason", async () => {
  const { conn, ports: [a, b] } = setup();
  a.send({ type: "hello", tabId: "A" });
  b.send({ type: "hello", tabId: "B" });
  const token = conn.getAccessToken({ replace: null });
  const { requestId } = a.last("needToken");
  a.send({ type: "tokenReply", requestId, error: { code: "network_error", detail: "offline" } });
  b.send({ type: "tokenReply", requestId, error: { code: "session_revoked", detail: "ended" } });
  await assert.rejects(token, (e) => e.code === "session_revoked" && e.definitive);
});

test("no answer at all: the request times out on the page-driven clock", async () => {
  const { clock, conn, ports: [a] } = setup();
  a.send({ type: "hello", tabId: "A" });
  a.send({ type: "tick", now: 1_000_000 });
  const token = conn.getAccessToken({ replace: null });
  const outcome = assert.rejects(token, (e) => e.code === "no_tab");
  a.send({ type: "tick", now: 1_000_000 + TOKEN_REQUEST_TIMEOUT_MS - 1 });
  await tick();
  a.send({ type: "tick", now: 1_000_000 + TOKEN_REQUEST_TIMEOUT_MS });
  await outcome;
  assert.equal(clock.now(), TOKEN_REQUEST_TIMEOUT_MS);
});

test("the tab that started the connection leaving does not stop it; the last one does", async () => {
  const { conn, ports: [a, b, c] } = setup();
  for (const p of [a, b, c]) p.send({ type: "hello", tabId: p.name });
  a.send({ type: "bye" });
  b.send({ type: "bye" });
  assert.ok(!conn.log.includes("stop"));
  const token = conn.getAccessToken({ replace: null });
  assert.equal(a.last("needToken"), undefined, "a tab that left is not asked");
  c.send({ type: "tokenReply", requestId: c.last("needToken").requestId, accessToken: "t" });
  assert.equal(await token, "t");
  c.send({ type: "bye" });
  assert.equal(conn.log.at(-1), "stop");
});

test("a port that throws on post is dropped; the others carry on", () => {
  const { conn, ports: [a, b] } = setup();
  a.send({ type: "hello", tabId: "A" });
  b.send({ type: "hello", tabId: "B" });
  a.broken = true;
  conn.emit("state", { state: "connected", error: null });
  conn.emit("state", { state: "reconnecting", error: null });
  assert.equal(b.last("state").state, "reconnecting");
  assert.ok(!conn.log.includes("stop"));
});

test("a jump of the pages' clock (sleep, fast_forward) drops no tab", () => {
  const { conn, ports: [a, b] } = setup();
  a.send({ type: "hello", tabId: "A" });
  b.send({ type: "hello", tabId: "B" });
  const t0 = 5_000_000;
  for (let t = t0; t <= t0 + 2 * PORT_IDLE_MS; t += 1_000) { a.send({ type: "tick", now: t }); b.send({ type: "tick", now: t }); }
  b.send({ type: "tick", now: t0 + 2 * PORT_IDLE_MS + 2 * 3_600_000 }); // b wakes first after two hours
  a.send({ type: "tick", now: t0 + 2 * PORT_IDLE_MS + 2 * 3_600_000 + 500 });
  conn.getAccessToken({ replace: null }).catch(() => {});
  assert.equal(a.inbox.filter((m) => m.type === "needToken").length, 1);
  assert.equal(b.inbox.filter((m) => m.type === "needToken").length, 1);
  assert.ok(!conn.log.includes("stop"));
});

test("a port silent for a whole sweep period while others tick is dropped", async () => {
  const { conn, ports: [a, b] } = setup();
  a.send({ type: "hello", tabId: "A" });
  b.send({ type: "hello", tabId: "B" });
  const t0 = 5_000_000;
  a.send({ type: "tick", now: t0 });
  b.send({ type: "tick", now: t0 });
  for (let t = t0; t <= t0 + 2 * PORT_IDLE_MS + 60_000; t += 60_000) b.send({ type: "tick", now: t }); // a's page is gone
  const token = conn.getAccessToken({ replace: null });
  assert.equal(a.inbox.filter((m) => m.type === "needToken").length, 0, "the dead tab is not waited for");
  b.send({ type: "tokenReply", requestId: b.last("needToken").requestId, accessToken: "b" });
  assert.equal(await token, "b");
  a.send({ type: "tick", now: t0 + 2 * PORT_IDLE_MS + 70_000 }); // it was only frozen: back in
  assert.equal(a.last("state").state, "idle", "it is told the state again");
  conn.getAccessToken({ replace: null }).catch(() => {});
  assert.equal(a.inbox.filter((m) => m.type === "needToken").length, 1);
});

test("tokenExpiring: one fresh token is requested from the tabs and renewed in-band", async () => {
  const { conn, ports: [a, b] } = setup();
  a.send({ type: "hello", tabId: "A" });
  b.send({ type: "hello", tabId: "B" });
  conn.emit("server", { target: "tokenExpiring", args: [60] });
  const req = a.last("needToken");
  assert.equal(req.replace, "current", "tabs are told which token to replace");
  assert.equal(b.last("server").target, "tokenExpiring");
  a.send({ type: "tokenReply", requestId: req.requestId, accessToken: "renewed" });
  await tick();
  assert.deepEqual(conn.log.filter((e) => e[0] === "renew"), [["renew", "renewed"]]);
});

test("a token refreshed in a tab is renewed on the connection", async () => {
  const { conn, ports: [a] } = setup();
  a.send({ type: "hello", tabId: "A" });
  a.send({ type: "token", accessToken: "from-refresh" });
  await tick();
  assert.deepEqual(conn.log.at(-1), ["renew", "from-refresh"]);
});

test("a refused renewal tells the tabs; a dropped connection does not", async () => {
  const { conn, ports: [a] } = setup();
  a.send({ type: "hello", tabId: "A" });
  conn.renewToken = async () => { throw Object.assign(new Error("x"), { code: "hub_error", detail: "session changed" }); };
  a.send({ type: "token", accessToken: "t" });
  await tick();
  assert.deepEqual(a.last("renewFailed"), { type: "renewFailed", error: { code: "hub_error", detail: "session changed" } });
  conn.renewToken = async () => { throw Object.assign(new Error("x"), { code: "connection_closed", detail: "gone" }); };
  a.send({ type: "token", accessToken: "t2" });
  await tick();
  assert.equal(a.inbox.filter((m) => m.type === "renewFailed").length, 1);
});

test("invocations are relayed with results and {code, detail} errors", async () => {
  const { conn, ports: [a] } = setup();
  a.send({ type: "hello", tabId: "A" });
  conn.invokeResult = async (target) => { if (target === "Bad") throw Object.assign(new Error("no"), { code: "hub_error", detail: "no" }); return ["u1"]; };
  a.send({ type: "invoke", id: "1", target: "GetOnlineUsers", args: [] });
  a.send({ type: "invoke", id: "2", target: "Bad", args: [] });
  await tick();
  assert.deepEqual(a.inbox.filter((m) => m.type === "result"), [
    { type: "result", id: "1", result: ["u1"] },
    { type: "result", id: "2", error: { code: "hub_error", detail: "no" } },
  ]);
});

test("logout stops the connection and fails pending token requests; online reconnects now", async () => {
  const { conn, ports: [a] } = setup();
  a.send({ type: "hello", tabId: "A" });
  const token = conn.getAccessToken({ replace: null });
  a.send({ type: "online" });
  a.send({ type: "logout" });
  await assert.rejects(token, (e) => e.code === "signed_out");
  assert.deepEqual(conn.log.slice(-2), ["reconnectNow", "stop"]);
});

test("with the real connection, reconnect back-off follows the pages' clock only", async () => {
  const clock = createDrivenClock();
  const keep = createManualClock();
  let up = true;
  const fetch = fakeFetch(() => { if (!up) throw new TypeError("down"); return { body: { connectionToken: "c" } }; });
  const relay = new RealtimeRelay({
    clock,
    createConnection: ({ getAccessToken }) => new HubConnection({ getAccessToken, clock, keepAliveClock: keep, fetch, WebSocket: FakeWebSocket, baseUrl: "http://site.test/", random: () => 0.5 }),
  });
  const page = fakePort("page");
  relay.addPort(page);
  // The page answers token requests like realtime.js does.
  page.postMessage = (m) => {
    page.inbox.push(m);
    if (m.type === "needToken") queueMicrotask(() => page.send({ type: "tokenReply", requestId: m.requestId, accessToken: "tok" }));
  };
  let now = 10_000_000;
  page.send({ type: "tick", now });
  page.send({ type: "hello", tabId: "P" });
  await tick();
  const ws = FakeWebSocket.instances.at(-1);
  assert.equal(ws.url, "ws://site.test/hub?id=c&access_token=tok");
  ws.serverOpen();
  ws.serverSend(`{}${RS}`);
  assert.equal(page.last("state").state, "connected");

  up = false; // the server restarts
  ws.serverDrop();
  await tick();
  await tick();
  const attempts = fetch.calls.length; // first, immediate retry failed too
  await tick();
  assert.equal(fetch.calls.length, attempts, "waiting for the pages' clock");
  up = true;
  page.send({ type: "tick", now: (now += 2_000) }); // the page's (possibly fake) clock moves
  await tick();
  assert.equal(fetch.calls.length, attempts + 1);
  FakeWebSocket.instances.at(-1).serverOpen();
  FakeWebSocket.instances.at(-1).serverSend(`{}${RS}`);
  assert.equal(page.last("state").state, "connected");
});
