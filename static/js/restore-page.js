/**
 * Restore page entry. /app without a session cookie serves this page: the
 * refresh cookie (Path=/auth/) never reaches /app, so the page asks
 * /auth/validate (which refreshes when it can) and loads /app again once the
 * session is renewed. Signed out for good, the token service itself goes to the
 * sign-in page (every tab follows); a transient failure is retried.
 *
 * The page template provides:
 *   <body data-page="restore">
 *   <p id="restore-status" role="status"></p>
 *   <script type="module" src="{% static 'js/restore-page.js' %}"></script>
 * On such a page the module starts itself; elsewhere importing it does nothing.
 * @module restore-page
 */
import { RESTORE_RELOAD_GUARD_MS, STORAGE_PREFIX } from "./constants.js";
import { getClock } from "./clock.js";
import { createApi } from "./api.js";
import { createSync } from "./sync.js";
import { TokenService } from "./token-service.js";
import { watchPage } from "./page-watch.js";

/** sessionStorage key: when this tab last reloaded after a restore. */
export const RELOAD_MARK_KEY = `${STORAGE_PREFIX}restore-reload`;

/**
 * @param {object} deps
 * @param {Pick<TokenService, "on" | "start" | "checkSession" | "retryNow">} deps.service
 * @param {Document} [deps.doc]
 * @param {Window} [deps.win]
 * @param {Storage} [deps.storage] sessionStorage (per tab)
 * @param {import("./clock.js").Clock} [deps.clock]
 * @returns {Promise<string>} the start-up status
 */
export function startRestorePage({
  service, doc = globalThis.document, win = globalThis.window, storage = globalThis.sessionStorage, clock = getClock(),
}) {
  const say = (text) => { const el = doc.getElementById("restore-status"); if (el) el.textContent = text; };
  const reload = () => {
    // Signed in again but the page still sees no session: the browser did not keep the cookie. Do not loop.
    const now = clock.wallNow();
    const last = Number(storage.getItem(RELOAD_MARK_KEY) || 0);
    if (now >= last && now - last < RESTORE_RELOAD_GUARD_MS) {
      say("Your browser did not keep the sign-in cookie. Please sign in again.");
      return;
    }
    storage.setItem(RELOAD_MARK_KEY, String(now));
    win.location.reload();
  };
  service.on("trouble", () => say("Cannot reach the server right now; retrying…"));
  service.on("session", () => reload());
  watchPage(service, { win, doc, clock });
  return service.start();
}

if (globalThis.document?.body?.dataset.page === "restore") {
  startRestorePage({ service: new TokenService({ api: createApi(), sync: createSync() }) });
}
