/**
 * Why a browser was signed out, carried to the sign-in page as `?signed_out=<flag>`.
 * The page shows one fixed sentence per flag (signin/pages.py); the flag is
 * never trusted for anything else. Reasons are this tab's own action (`logout`,
 * `logout_all`), the server's error code, or `revoked:<reason>` for a session the
 * server reports revoked (its `reason` field).
 * @module signed-out
 */
import { PATHS } from "./constants.js";

/** @type {Readonly<Record<string, string>>} reason -> flag */
const FLAGS = Object.freeze({
  logout: "you",
  logout_all: "everywhere",
  "revoked:logout": "you",
  "revoked:logout_all": "elsewhere",
  "revoked:ended_by_user": "elsewhere",
  "revoked:admin": "admin",
  "revoked:evicted": "evicted",
  "revoked:idle": "expired",
  "revoked:refresh_reuse": "security",
  "revoked:token_version": "security",
  session_expired: "expired",
  refresh_reused: "security",
});

/**
 * The sign-out reason for a failed call: `revoked:<reason>` when the server said why.
 * @param {{code: string, reason?: string}} error
 */
export function reasonOf(error) {
  return error.code === "session_revoked" && error.reason ? `revoked:${error.reason}` : error.code;
}

/** @param {string} reason @returns {string} the flag, or "" to say nothing */
export function signedOutFlag(reason) {
  return Object.hasOwn(FLAGS, reason) ? FLAGS[reason] : "";
}

/** Where a signed-out tab goes. @param {string} reason */
export function signInPath(reason) {
  const flag = signedOutFlag(reason);
  return flag ? `${PATHS.signIn}?signed_out=${flag}` : PATHS.signIn;
}
