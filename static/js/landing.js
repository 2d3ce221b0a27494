/**
 * Sign-in (landing) page entry. If the browser already holds a session (the
 * server answers /auth/validate), go to the app; go there too as soon as
 * another tab signs in (a `login` broadcast).
 *
 * The page template provides:
 *   <body data-page="landing">
 *   <script type="module" src="{% static 'js/landing.js' %}"></script>
 * and the `csrftoken` cookie (set for anonymous visitors too).
 * `window.authsite.ready` resolves to true when it is leaving for the app.
 * @module landing
 */
import { PATHS } from "./constants.js";
import { createApi } from "./api.js";
import { createSync } from "./sync.js";
import { AuthState } from "./auth-state.js";
import { AuthClientError } from "./errors.js";

const sync = createSync();
const api = createApi();
let leaving = false;

function goToApp() {
  if (leaving) return;
  leaving = true;
  window.location.replace(PATHS.app);
}

sync.subscribe((message) => {
  if (message.type === "login") goToApp();
});

async function check() {
  try {
    const answer = await api.post(PATHS.validate);
    if (answer.valid === false) return false;
    // Keep what the server said, so the app page need not refresh again.
    const snapshot = new AuthState().applyAnswer(answer);
    sync.saveSnapshot(snapshot);
    if (answer.refreshed) sync.post({ type: "token", snapshot });
    goToApp();
    return true;
  } catch (error) {
    if (!(error instanceof AuthClientError)) throw error;
    if (error.definitive) sync.clear();
    return false;
  }
}

// Offline at load: ask again when the network is back.
window.addEventListener("online", () => { if (!leaving) check(); });

window.authsite = Object.freeze({ ready: check(), sync });
