/**
 * App page entry: wires the token service, cross-tab sync, heartbeat and the
 * shared realtime connection, and shows connection state, who is online and
 * the user's sessions.
 *
 * The page template provides (ids and attributes this module relies on):
 *   <body data-page="app" data-heartbeat-interval-ms="60000">  (the attribute is optional)
 *   <span id="conn-status"></span>     connection state: text, and `data-state` =
 *                                      idle | connecting | connected | reconnecting | unauthorized
 *   <ul id="online-users"></ul>        one <li data-user-id="..."> per other online user (the viewer is left out:
 *                                      `data-user-id` on the body); `data-loading` until the first answer
 *   <dialog id="confirm-logout-all">   optional: confirms "sign out everywhere" (value "confirm")
 *   <div id="outage" hidden></div>     optional: banner while the server cannot be reached
 *   <ul id="sessions">                 optional: the user's sessions, re-read from the server on the
 *                                      hub's `sessionsChanged`; `<time data-relative>` read as "5 minutes ago"
 *   <button id="logout">               log out this session (every tab follows)
 *   <button id="logout-all">           log out every session of the user
 *   <button data-end-session="<id>">   optional: end one session (session-list.js)
 *   <p id="auth-status" role="status"></p>         optional: trouble messages
 *   <span data-user-field="display_name"></span>   optional: any field of the user
 *   <script type="module" src="{% static 'js/app.js' %}"></script>
 * and the `csrftoken` cookie must be set for the page.
 *
 * On a page whose body says `data-page="app"` the module starts itself;
 * elsewhere (node tests) importing it does nothing. `window.authsite` exposes the
 * parts (tokenService, realtime, heartbeat, sync) and `ready`, a promise of the
 * start-up status, for tests and debugging. Hub notifications are re-dispatched
 * as `authsite:notify` events on window.
 * @module app
 */
import { HEARTBEAT_INTERVAL_MS, HUB_EVENTS, HUB_METHODS } from "./constants.js";
import { getClock } from "./clock.js";
import { createApi } from "./api.js";
import { createSync } from "./sync.js";
import { runWithLock } from "./lock.js";
import { TokenService } from "./token-service.js";
import { RealtimeClient } from "./realtime.js";
import { createHeartbeat } from "./heartbeat.js";
import { logout, postActivity } from "./session-actions.js";
import { bindEndSessionButtons } from "./session-list.js";
import { watchPage } from "./page-watch.js";
import { AuthClientError } from "./errors.js";
import { OUTAGE_TEXT, plainError, showMessage } from "./messages.js";
import { renderTimes } from "./times.js";

const STATE_TEXT = {
  idle: "disconnected",
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  unauthorized: "checking session…",
};

/**
 * @typedef {object} AppParts
 * @property {TokenService} tokenService
 * @property {RealtimeClient} realtime
 * @property {import("./heartbeat.js").Heartbeat} heartbeat
 * @property {ReturnType<typeof createSync>} sync
 * @property {Promise<import("./token-service.js").Status>} ready
 */

/**
 * Start the app page. Every dependency can be replaced (tests).
 * @param {object} [deps]
 * @param {Document} [deps.doc]
 * @param {Window} [deps.win]
 * @param {import("./clock.js").Clock} [deps.clock]
 * @param {import("./api.js").Api} [deps.api]
 * @param {ReturnType<typeof createSync>} [deps.sync]
 * @param {typeof runWithLock} [deps.runWithLock]
 * @param {(path: string) => void} [deps.navigate]
 * @param {object} [deps.realtimeOptions] extra RealtimeClient options
 * @returns {AppParts}
 */
export function startApp({
  doc = globalThis.document, win = globalThis.window, clock = getClock(), api = createApi({ clock }), sync = createSync(),
  runWithLock: lock = runWithLock, navigate = (path) => win.location.replace(path), realtimeOptions = {},
} = {}) {
  const $ = (id) => doc.getElementById(id);
  const intervalMs = Number(doc.body?.dataset.heartbeatIntervalMs) || HEARTBEAT_INTERVAL_MS;
  const tokenService = new TokenService({ api, sync, clock, runWithLock: lock, navigate });
  const realtime = new RealtimeClient({ tokenService, clock, win, ...realtimeOptions });
  const heartbeat = createHeartbeat({
    intervalMs,
    clock,
    onBeat: () => postActivity(tokenService, { sync, runWithLock: lock, clock, intervalMs }),
    onSuspend: () => tokenService.checkSession({ force: true }),
  });
  const say = (text, code = "") => showMessage(doc, $("auth-status"), text, code);
  // Two sources, one banner: the auth calls failing (cleared by a good answer) and the
  // live connection down (cleared when it is back). Shown while either holds.
  const down = { auth: false, hub: false };
  const banner = (/** @type {"auth"|"hub"} */ source, on) => {
    down[source] = on;
    const el = $("outage");
    if (!el) return;
    const show = down.auth || down.hub;
    el.textContent = show ? OUTAGE_TEXT : "";
    el.hidden = !show;
  };
  const me = doc.body?.dataset.userId ?? "";
  let connectedBefore = false;

  const loadOnlineUsers = latestOnly(() => realtime.invoke(HUB_METHODS.getOnlineUsers)
    .then((result) => renderOnline(doc, $("online-users"), result, me), (error) => { if (!(error instanceof AuthClientError)) throw error; }));
  const reloadSessions = latestOnly(() => refreshSessions({ doc, win, bind: (root) => bindEndSessionButtons({ root, api, tokenService, say }) }));

  realtime.on("state", ({ state }) => {
    const el = $("conn-status");
    if (el) {
      el.textContent = STATE_TEXT[state] ?? state;
      el.dataset.state = state;
    }
    if (state === "connected") {
      banner("hub", false);
      loadOnlineUsers();
      if (connectedBefore) reloadSessions(); // what changed while the connection was down
      connectedBefore = true;
    } else if (state === "reconnecting") banner("hub", true);
  });
  realtime.on("server", ({ target, args }) => {
    const name = String(target).toLowerCase();
    if (name === HUB_EVENTS.presenceChanged) loadOnlineUsers();
    else if (name === HUB_EVENTS.sessionsChanged) reloadSessions();
    else if (name === HUB_EVENTS.notify) win.dispatchEvent(new CustomEvent("authsite:notify", { detail: args }));
  });

  tokenService.on("session", ({ user }) => { renderUser(doc, user); say(""); banner("auth", false); });
  tokenService.on("trouble", () => banner("auth", true));
  tokenService.on("signedout", () => heartbeat.stop());
  tokenService.on("login", ({ sessionId }) => {
    // Another tab signed in to a different session: this tab's session is not the browser's any more.
    if (sessionId && sessionId !== tokenService.sessionId) win.location.reload();
  });

  const signOut = async (/** @type {HTMLButtonElement} */ button, everywhere) => {
    button.disabled = true;
    try {
      await logout(tokenService, { everywhere });
    } catch (error) {
      if (!(error instanceof AuthClientError)) throw error;
      const { text, code } = plainError(error, everywhere ? "sign you out everywhere" : "sign you out");
      say(text, code);
      button.disabled = false;
    }
  };
  const one = /** @type {HTMLButtonElement|null} */ ($("logout"));
  one?.addEventListener("click", () => signOut(one, false));
  const all = /** @type {HTMLButtonElement|null} */ ($("logout-all"));
  all?.addEventListener("click", () => confirmEverywhere(/** @type {HTMLDialogElement|null} */ ($("confirm-logout-all")), win)
    .then((yes) => { if (yes) return signOut(all, true); }));
  renderTimes(doc, clock.wallNow());
  win.setInterval?.(() => renderTimes(doc, clock.wallNow()), 60_000);
  bindEndSessionButtons({ root: doc, api, tokenService, say });

  win.addEventListener("pageshow", (event) => {
    if (/** @type {PageTransitionEvent} */ (event).persisted && tokenService.status === "signed-in") realtime.connect();
  });

  watchPage(tokenService, { win, doc, clock });
  heartbeat.start();
  const ready = tokenService.start().then((status) => {
    if (status === "signed-in") realtime.connect();
    else if (status === "starting") {
      const off = tokenService.on("session", () => { off(); realtime.connect(); });
    }
    return status;
  });
  return Object.freeze({ tokenService, realtime, heartbeat, sync, ready });
}

/**
 * Run `load` now, or once more after the one in flight (never two at a time).
 * @param {() => Promise<unknown>} load
 */
function latestOnly(load) {
  let loading = null;
  let again = false;
  const run = () => {
    if (loading) {
      again = true;
      return;
    }
    loading = load().finally(() => {
      loading = null;
      if (again) {
        again = false;
        run();
      }
    });
  };
  return run;
}

/**
 * Ask before signing out every device: the page's dialog, or the browser's confirm().
 * @param {HTMLDialogElement|null} dialog
 * @param {Window} win
 * @returns {Promise<boolean>}
 */
function confirmEverywhere(dialog, win) {
  if (!dialog || typeof dialog.showModal !== "function") {
    return Promise.resolve(typeof win.confirm === "function" ? win.confirm("Sign out on every device?") : true);
  }
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

/** The session list alone, rendered by the server (templates/_sessions.html). */
const SESSIONS_PART = "/app/sessions";

/**
 * Re-read the session list from the server (one source of markup) and put it in
 * place of the current one.
 * @param {{doc: Document, win: Window, bind: (root: ParentNode) => unknown}} deps
 */
async function refreshSessions({ doc, win, bind }) {
  const list = doc.getElementById("sessions");
  if (!list || typeof win.DOMParser !== "function") return;
  let html;
  try {
    const resp = await win.fetch(SESSIONS_PART, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!resp.ok) return; // 401: the token service signs out on its own answer, saying why
    html = await resp.text();
  } catch (error) {
    if (error instanceof TypeError) return; // offline: the next connection reloads it
    throw error;
  }
  const fresh = new win.DOMParser().parseFromString(`<ul id="sessions">${html}</ul>`, "text/html").getElementById("sessions");
  if (!fresh) return;
  list.replaceChildren(...[...fresh.childNodes].map((node) => doc.importNode(node, true)));
  bind(list);
  renderTimes(list, Date.now());
}

/** @param {Document} doc @param {import("./sync.js").SessionUser|null} user */
export function renderUser(doc, user) {
  for (const el of doc.querySelectorAll("[data-user-field]")) {
    const value = user?.[/** @type {HTMLElement} */ (el).dataset.userField];
    el.textContent = value == null ? "" : String(value);
  }
}

/**
 * The other online users, each with an initial avatar; the viewer is left out.
 * @param {Document} doc
 * @param {HTMLElement|null} list
 * @param {unknown} result the hub's GetOnlineUsers answer
 * @param {string} [me] the viewer's user id
 */
export function renderOnline(doc, list, result, me = "") {
  const users = Array.isArray(result) ? result : /** @type {any} */ (result)?.users;
  if (!list || !Array.isArray(users)) return;
  delete list.dataset.loading;
  list.replaceChildren(...users.flatMap((user) => {
    // The hub answers {userId, name}; plain ids and user objects are accepted too.
    const u = user && typeof user === "object" ? user : { id: user };
    const id = u.userId ?? u.id;
    if (me && id != null && String(id) === me) return [];
    const name = String(u.name || u.display_name || u.username || id || "");
    const li = doc.createElement("li");
    const avatar = doc.createElement("span");
    avatar.className = "avatar small initial";
    avatar.setAttribute?.("aria-hidden", "true");
    avatar.textContent = name.slice(0, 1).toUpperCase();
    avatar.dataset.hue = String(hue(String(id ?? name)));
    const label = doc.createElement("span");
    label.textContent = name;
    if (li.append) li.append(avatar, label);
    else li.textContent = name;
    if (id != null) li.dataset.userId = String(id);
    return [li];
  }));
}

/** A stable colour bucket (0-7) per user, so an avatar keeps its colour. @param {string} key */
function hue(key) {
  let h = 0;
  for (const ch of key) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % 8;
}

if (globalThis.document?.body?.dataset.page === "app") globalThis.window.authsite = startApp();
