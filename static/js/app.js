/**
 * App page entry: wires the token service, cross-tab sync, heartbeat and the
 * shared realtime connection, and shows connection state and who is online.
 *
 * The page template provides (ids and attributes this module relies on):
 *   <body data-page="app" data-heartbeat-interval-ms="60000">  (the attribute is optional)
 *   <span id="conn-status"></span>     connection state: text, and `data-state` =
 *                                      idle | connecting | connected | reconnecting | unauthorized
 *   <ul id="online-users"></ul>        one <li data-user-id="..."> per online user
 *   <button id="logout">               log out this session (every tab follows)
 *   <button id="logout-all">           log out every session of the user
 *   <p id="auth-status" role="status"></p>         optional: trouble messages
 *   <span data-user-field="display_name"></span>   optional: any field of the user
 *   <script type="module" src="{% static 'js/app.js' %}"></script>
 * and the `csrftoken` cookie must be set for the page.
 *
 * `window.authsite` exposes the parts (tokenService, realtime, heartbeat, sync)
 * and `ready`, a promise of the start-up status, for tests and debugging.
 * Hub notifications are re-dispatched as `authsite:notify` events on window.
 * @module app
 */
import { HEARTBEAT_INTERVAL_MS, HUB_EVENTS, HUB_METHODS } from "./constants.js";
import { createApi } from "./api.js";
import { createSync } from "./sync.js";
import { TokenService } from "./token-service.js";
import { RealtimeClient } from "./realtime.js";
import { createHeartbeat } from "./heartbeat.js";
import { logout, postActivity } from "./session-actions.js";
import { watchPage } from "./page-watch.js";
import { AuthClientError } from "./errors.js";

const STATE_TEXT = {
  idle: "disconnected",
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  unauthorized: "checking session…",
};

const $ = (id) => document.getElementById(id);
const body = document.body;
const intervalMs = Number(body?.dataset.heartbeatIntervalMs) || HEARTBEAT_INTERVAL_MS;

const sync = createSync();
const tokenService = new TokenService({ api: createApi(), sync });
const realtime = new RealtimeClient({ tokenService });
const heartbeat = createHeartbeat({
  intervalMs,
  onBeat: () => postActivity(tokenService, { sync, intervalMs }),
  onSuspend: () => tokenService.checkSession({ force: true }),
});

function say(text) {
  const el = $("auth-status");
  if (el) el.textContent = text;
}

function renderUser(user) {
  for (const el of document.querySelectorAll("[data-user-field]")) {
    const value = user?.[/** @type {HTMLElement} */ (el).dataset.userField];
    el.textContent = value == null ? "" : String(value);
  }
}

function renderOnline(result) {
  const list = $("online-users");
  const users = Array.isArray(result) ? result : result?.users;
  if (!list || !Array.isArray(users)) return;
  list.replaceChildren(...users.map((user) => {
    const li = document.createElement("li");
    // The hub answers {userId, name}; plain ids and user objects are accepted too.
    const u = user && typeof user === "object" ? user : { id: user };
    const id = u.userId ?? u.id;
    li.textContent = String(u.name || u.display_name || u.username || id || "");
    if (id != null) li.dataset.userId = String(id);
    return li;
  }));
}

let loading = null;
let again = false;
function loadOnlineUsers() {
  if (loading) {
    again = true;
    return;
  }
  loading = realtime.invoke(HUB_METHODS.getOnlineUsers)
    .then(renderOnline, (error) => { if (!(error instanceof AuthClientError)) throw error; })
    .finally(() => {
      loading = null;
      if (again) {
        again = false;
        loadOnlineUsers();
      }
    });
}

realtime.on("state", ({ state }) => {
  const el = $("conn-status");
  if (el) {
    el.textContent = STATE_TEXT[state] ?? state;
    el.dataset.state = state;
  }
  if (state === "connected") loadOnlineUsers();
});

realtime.on("server", ({ target, args }) => {
  const name = String(target).toLowerCase();
  if (name === HUB_EVENTS.presenceChanged) loadOnlineUsers();
  else if (name === HUB_EVENTS.notify) window.dispatchEvent(new CustomEvent("authsite:notify", { detail: args }));
});

tokenService.on("session", ({ user }) => { renderUser(user); say(""); });
tokenService.on("trouble", () => say("Connection to the server lost; retrying. You are still signed in."));
tokenService.on("signedout", () => heartbeat.stop());
tokenService.on("login", ({ sessionId }) => {
  // Another tab signed in to a different session: this tab's session is not the browser's any more.
  if (sessionId && sessionId !== tokenService.sessionId) window.location.reload();
});

for (const [id, everywhere] of [["logout", false], ["logout-all", true]]) {
  const button = /** @type {HTMLButtonElement|null} */ ($(id));
  button?.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await logout(tokenService, { everywhere });
    } catch (error) {
      if (!(error instanceof AuthClientError)) throw error;
      say(`Could not sign out (${error.code}); please try again.`);
      button.disabled = false;
    }
  });
}

window.addEventListener("pageshow", (event) => {
  if (event.persisted && tokenService.status === "signed-in") realtime.connect();
});

watchPage(tokenService);
heartbeat.start();
const ready = tokenService.start().then((status) => {
  if (status === "signed-in") realtime.connect();
  else if (status === "starting") {
    const off = tokenService.on("session", () => { off(); realtime.connect(); });
  }
  return status;
});

window.authsite = Object.freeze({ tokenService, realtime, heartbeat, sync, ready });
