/**
 * Sign-in (landing) page entry. If the browser already holds a session (the
 * server answers /auth/validate), go to the app; go there too as soon as
 * another tab signs in (a `login` broadcast).
 *
 * The page template provides:
 *   <body data-page="landing">
 *   <script type="module" src="{% static 'js/landing.js' %}"></script>
 * and the `csrftoken` cookie (set for anonymous visitors too). On such a page
 * the module starts itself; elsewhere importing it does nothing.
 * `window.authsite.ready` resolves to true when it is leaving for the app.
 * @module landing
 */
import { PATHS } from "./constants.js";
import { getClock } from "./clock.js";
import { createApi } from "./api.js";
import { createSync } from "./sync.js";
import { AuthState } from "./auth-state.js";
import { AuthClientError } from "./errors.js";

/**
 * @param {object} [deps]
 * @param {import("./api.js").Api} [deps.api]
 * @param {ReturnType<typeof createSync>} [deps.sync]
 * @param {EventTarget} [deps.win] where `online` arrives
 * @param {(path: string) => void} [deps.navigate]
 * @param {import("./clock.js").Clock} [deps.clock]
 * @returns {{ready: Promise<boolean>, sync: ReturnType<typeof createSync>}}
 */
export function startLanding({
  api = createApi(), sync = createSync(), win = globalThis.window, navigate = (path) => globalThis.location.replace(path), clock = getClock(),
} = {}) {
  let leaving = false;
  const goToApp = () => {
    if (leaving) return;
    leaving = true;
    navigate(PATHS.app);
  };
  sync.subscribe((message) => {
    if (message.type === "login") goToApp();
  });
  const check = async () => {
    try {
      const answer = await api.post(PATHS.validate);
      if (answer.valid === false) return false;
      // Keep what the server said, so the app page need not refresh again.
      const snapshot = new AuthState(clock).applyAnswer(answer);
      sync.saveSnapshot(snapshot);
      if (answer.refreshed) sync.post({ type: "token", snapshot });
      goToApp();
      return true;
    } catch (error) {
      if (!(error instanceof AuthClientError)) throw error;
      if (error.definitive) sync.clear();
      return false;
    }
  };
  // Offline at load: ask again when the network is back.
  win?.addEventListener("online", () => { if (!leaving) check(); });
  return { ready: check(), sync };
}

if (globalThis.document?.body?.dataset.page === "landing") globalThis.window.authsite = Object.freeze(startLanding());
