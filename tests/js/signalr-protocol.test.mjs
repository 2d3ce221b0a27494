import { test } from "node:test";
import assert from "node:assert/strict";
import {
  InvocationTracker, MessageType, PING, ProtocolError, RECORD_SEPARATOR, closeInfo, frame, handshakeRequest,
  invocation, parseHandshake, parseMessages, parseRecords,
} from "../../static/js/signalr-protocol.js";

const RS = "\u001e";

test("records end with the 0x1E record separator", () => {
  assert.equal(RECORD_SEPARATOR, "\x1e");
  assert.equal(frame({ type: 6 }), `{"type":6}${RS}`);
  assert.equal(PING, `{"type":6}${RS}`);
});

test("the handshake request is the JSON protocol, version 1", () => {
  assert.equal(handshakeRequest(), `{"protocol":"json","version":1}${RS}`);
});

test("a frame may carry several records", () => {
  const records = parseRecords(`{"type":6}${RS}{"type":1,"target":"notify","arguments":[1]}${RS}`);
  assert.deepEqual(records, [{ type: 6 }, { type: 1, target: "notify", arguments: [1] }]);
});

test("binary frames are decoded as UTF-8", () => {
  const bytes = new TextEncoder().encode(`{"type":1,"target":"notify","arguments":["héllo"]}${RS}`);
  assert.deepEqual(parseMessages(bytes)[0].arguments, ["héllo"]);
});

test("an incomplete record or bad JSON is a protocol error", () => {
  assert.throws(() => parseRecords(`{"type":6}`), ProtocolError);
  assert.throws(() => parseRecords(`{"type":${RS}`), ProtocolError);
  assert.throws(() => parseRecords(`{"type":${RS}`), (e) => e.code === "hub_error");
});

test("messages need a type; invocations a target; completions an id", () => {
  assert.throws(() => parseMessages(`{}${RS}`), ProtocolError);
  assert.throws(() => parseMessages(`{"type":1,"arguments":[]}${RS}`), ProtocolError);
  assert.throws(() => parseMessages(`{"type":3,"result":1}${RS}`), ProtocolError);
  assert.deepEqual(parseMessages(`{"type":7,"allowReconnect":true}${RS}`), [{ type: 7, allowReconnect: true }]);
});

test("the handshake response can be followed by messages in the same frame", () => {
  const parsed = parseHandshake(`{}${RS}{"type":1,"target":"presenceChanged","arguments":[]}${RS}`);
  assert.equal(parsed.error, null);
  assert.equal(parsed.messages.length, 1);
  assert.equal(parsed.messages[0].target, "presenceChanged");
});

test("a handshake error is reported", () => {
  assert.equal(parseHandshake(`{"error":"Requested protocol 'json' is not available."}${RS}`).error, "Requested protocol 'json' is not available.");
  assert.throws(() => parseHandshake("{}"), ProtocolError);
});

test("close messages only allow reconnecting when they say so", () => {
  assert.deepEqual(closeInfo({ type: 7, allowReconnect: true }), { error: null, allowReconnect: true });
  assert.deepEqual(closeInfo({ type: 7, error: "session_revoked", allowReconnect: false }), { error: "session_revoked", allowReconnect: false });
  assert.deepEqual(closeInfo({ type: 7 }), { error: null, allowReconnect: false });
});

test("invocations carry an id only when a completion is expected", () => {
  assert.deepEqual(invocation("Heartbeat", []), { type: MessageType.Invocation, target: "Heartbeat", arguments: [] });
  assert.deepEqual(invocation("RenewToken", ["t"], "4"), { type: 1, target: "RenewToken", arguments: ["t"], invocationId: "4" });
});

test("the tracker numbers invocations and settles them by completion", async () => {
  const tracker = new InvocationTracker();
  const a = tracker.create("GetOnlineUsers", []);
  const b = tracker.create("RenewToken", ["tok"]);
  assert.equal(a.message.invocationId, "0");
  assert.equal(b.message.invocationId, "1");
  assert.equal(tracker.size, 2);

  assert.equal(tracker.complete({ type: 3, invocationId: "1", error: "session changed" }), true);
  await assert.rejects(b.result, (e) => e.code === "hub_error" && e.detail === "session changed");
  assert.equal(tracker.complete({ type: 3, invocationId: "0", result: [{ id: 1 }] }), true);
  assert.deepEqual(await a.result, [{ id: 1 }]);

  assert.equal(tracker.complete({ type: 3, invocationId: "0", result: 1 }), false, "already settled");
  assert.equal(tracker.complete({ type: 3, invocationId: "99" }), false, "unknown id");
  assert.equal(tracker.size, 0);
});

test("a completion without result resolves to null", async () => {
  const tracker = new InvocationTracker();
  const c = tracker.create("Heartbeat", []);
  tracker.complete({ type: 3, invocationId: c.message.invocationId });
  assert.equal(await c.result, null);
});

test("closing the connection rejects everything pending", async () => {
  const tracker = new InvocationTracker();
  const results = [tracker.create("A", []).result, tracker.create("B", []).result];
  tracker.rejectAll({ code: "connection_closed" });
  for (const r of results) await assert.rejects(r, (e) => e.code === "connection_closed");
  assert.equal(tracker.size, 0);
});
