/**
 * Signed-in landing page entry (after the OAuth callback). Hands the page its
 * first answer the way the browser modules keep it (the sync.js snapshot),
 * tells other tabs (`login`), then goes on to `next`: a same-site navigation,
 * so the new SameSite=Strict cookies are sent.
 *
 * The page template provides the data as JSON blocks (json_script), no inline code:
 *   <body data-page="signin-landing">
 *   {{ payload|json_script:"authsite-signin" }}   the sign-in answer (tokens_payload)
 *   {{ next|json_script:"authsite-next" }}        where to go: a path on this site
 *   <script type="module" src="{% static 'js/signin-landing.js' %}"></script>
 * On such a page the module starts itself; elsewhere importing it does nothing.
 * @module signin-landing
 */
import { PATHS } from "./constants.js";
import { getClock } from "./clock.js";
import { createSync } from "./sync.js";
import { AuthState } from "./auth-state.js";

/** The element ids of the page's JSON blocks. */
export const SIGNIN_DATA_ID = "authsite-signin";
export const NEXT_DATA_ID = "authsite-next";

/**
 * A path on this site, or the app: never anything a browser could resolve to
 * another origin (`//host`, `https:`, backslashes, control characters), as the
 * server's `safe_next` already checked.
 * @param {unknown} next
 */
export function sameSitePath(next) {
  const safe = typeof next === "string" && next.startsWith("/") && !next.startsWith("//") && !/[\\\u0000-\u001f\u007f]/.test(next);
  return safe ? /** @type {string} */ (next) : PATHS.app;
}

/**
 * @param {Document} doc
 * @param {string} id
 * @returns {unknown} the parsed JSON of `<script type="application/json" id=...>`, or null
 */
export function readJsonData(doc, id) {
  const el = doc.getElementById(id);
  if (!el) return null;
  try {
    return JSON.parse(el.textContent ?? "");
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
}

/**
 * Keep the sign-in answer, announce it, go on. The navigation happens even
 * when the answer cannot be kept (the app page then validates by itself).
 * @param {object} [deps]
 * @param {Document} [deps.doc]
 * @param {ReturnType<typeof createSync>} [deps.sync]
 * @param {(path: string) => void} [deps.navigate]
 * @param {import("./clock.js").Clock} [deps.clock]
 * @returns {string} where it went
 */
export function completeSignin({
  doc = globalThis.document, sync = createSync(), navigate = (path) => globalThis.location.replace(path), clock = getClock(),
} = {}) {
  const next = sameSitePath(readJsonData(doc, NEXT_DATA_ID));
  try {
    const answer = readJsonData(doc, SIGNIN_DATA_ID);
    if (answer && typeof answer === "object") {
      const snapshot = new AuthState(clock).applyAnswer(answer);
      sync.saveSnapshot(snapshot);
      sync.post({ type: "login", sessionId: snapshot.sessionId });
    }
  } finally {
    navigate(next);
  }
  return next;
}

if (globalThis.document?.body?.dataset.page === "signin-landing") completeSignin();
