/**
 * "End session" buttons on the app page's list of the user's sessions:
 * `<button data-end-session="<id>">` inside the session's `<li>`. A click asks
 * DELETE /auth/sessions/<id>; ending this device's own session signs out
 * every tab.
 * @module session-list
 */
import { PATHS } from "./constants.js";
import { AuthClientError } from "./errors.js";
import { plainError } from "./messages.js";

/**
 * @param {object} options
 * @param {ParentNode} options.root where the buttons are (the document)
 * @param {import("./api.js").Api} options.api
 * @param {Pick<import("./token-service.js").TokenService, "checkSession" | "signOut">} options.tokenService
 * @param {(text: string, code?: string) => void} options.say shows a status line (code in small print)
 * @returns {number} how many buttons were bound
 */
export function bindEndSessionButtons({ root, api, tokenService, say }) {
  const buttons = [...root.querySelectorAll("button[data-end-session]")];
  for (const button of buttons) {
    const id = /** @type {HTMLButtonElement} */ (button).dataset.endSession ?? "";
    button.addEventListener("click", () => endSession({ id, api, tokenService, say, button: /** @type {HTMLButtonElement} */ (button) }));
  }
  return buttons.length;
}

/**
 * End one session. A 401 may be a lapsed session cookie beside a live refresh
 * cookie: the session is renewed and the request made once more.
 * @param {object} options
 * @param {string} options.id
 * @param {import("./api.js").Api} options.api
 * @param {Pick<import("./token-service.js").TokenService, "checkSession" | "signOut">} options.tokenService
 * @param {(text: string, code?: string) => void} options.say
 * @param {HTMLButtonElement} options.button
 */
export async function endSession({ id, api, tokenService, say, button }) {
  const end = () => api.request("DELETE", `${PATHS.sessions}/${encodeURIComponent(id)}`);
  button.disabled = true;
  try {
    let answer;
    try {
      answer = await end();
    } catch (error) {
      if (!(error instanceof AuthClientError) || error.status !== 401 || !(await tokenService.checkSession({ force: true }))) throw error;
      answer = await end();
    }
    if (answer.current) {
      tokenService.signOut("logout");
      return;
    }
    button.closest("li")?.remove();
    say("Session ended.");
  } catch (error) {
    if (!(error instanceof AuthClientError)) throw error;
    const { text, code } = plainError(error, "end that session");
    say(text, code);
    button.disabled = false;
  }
}
