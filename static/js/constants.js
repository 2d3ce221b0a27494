/**
 * Every timing, name and path the browser client uses, in one place.
 *
 * Durations are milliseconds unless the name says otherwise. Server-side
 * lifetimes are never copied here: the client learns them from each answer
 * (`*_expires_in`) and counts from when the answer arrived.
 * @module constants
 */

// --- Heartbeat ---------------------------------------------------------------
/** How often a tab posts activity (can be overridden by the page, see app.js). */
export const HEARTBEAT_INTERVAL_MS = 60_000;
/** A gap between ticks over this many intervals means the tab was suspended. */
export const SUSPENSION_MULTIPLIER = 2;
/** Skip the activity POST when a sibling tab posted less than this fraction of an interval ago. */
export const ACTIVITY_SHARE_FRACTION = 0.9;

// --- Visibility and session checks -------------------------------------------
/** `visibilitychange` and `focus` within this window cause one check. */
export const VISIBILITY_DEBOUNCE_MS = 1_000;
/** A non-forced session check closer than this to the last one only refreshes if due. */
export const SESSION_CHECK_MIN_INTERVAL_MS = 15_000;
/** Before re-asking /auth/validate about a doubtful 401, let a racing tab's cookies land. */
export const RECHECK_DELAY_MS = 1_000;

// --- Cross-tab lock ----------------------------------------------------------
/** A lock older than this is treated as abandoned (its holder died or hung). */
export const LOCK_TTL_MS = 10_000;
/** How long a tab waits for the lock before giving up on one attempt. */
export const LOCK_WAIT_MS = 8_000;
/** Lock attempts before refreshing without the lock (the server's grace window covers it). */
export const LOCK_ATTEMPTS = 2;
/** Fallback lock: how often a waiter re-reads localStorage when no release message came. */
export const LOCK_POLL_MS = 250;
/** Fallback lock: pause between writing a claim and reading it back (localStorage has no CAS). */
export const LOCK_CONFIRM_MS = 50;
/**
 * A tab that had to wait for the refresh lock waits this long for the holder's
 * broadcast before calling the server: the lock can be granted before the
 * previous holder's storage write and broadcast reach this tab's process.
 */
export const LOCK_RESULT_WAIT_MS = 1_000;
/** Name of the one refresh lock shared by every tab. */
export const REFRESH_LOCK_NAME = "authsite:refresh";
/** Name of the lock that keeps activity POSTs to one per interval per browser. */
export const ACTIVITY_LOCK_NAME = "authsite:activity";

// --- Refresh scheduling ------------------------------------------------------
/** Refresh when less than this remains... */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** ...or less than this fraction of the lifetime remains (whichever margin is larger)... */
export const REFRESH_MARGIN_FRACTION = 0.1;
/** ...but never with a margin over this fraction of the lifetime (short test lifetimes). */
export const REFRESH_MARGIN_MAX_FRACTION = 0.5;
/** Scheduled refreshes are at least this far apart (the server's concurrent-refresh grace window). */
export const MIN_REFRESH_INTERVAL_MS = 10_000;
/** Longest single timer; longer waits are re-evaluated when it fires (browsers overflow at 2^31-1). */
export const MAX_TIMER_DELAY_MS = 24 * 3_600_000;
/** A wall clock that went backwards by more than this makes a stored lifetime untrusted. */
export const CLOCK_SKEW_TOLERANCE_MS = 5_000;

// --- Retries -----------------------------------------------------------------
/**
 * Back-off between retries of a failed auth call (network, timeout, 429, 5xx); the
 * last value repeats (the cap), and the client never gives up. The first steps fall
 * inside the server's refresh grace window (REFRESH_GRACE, 10 s), so a refresh whose
 * answer was lost is replayed with the same refresh cookie and gets the same answer.
 */
export const RETRY_BACKOFF_MS = Object.freeze([1_000, 2_000, 5_000, 10_000, 30_000, 60_000]);
/** Random spread applied to each back-off (+/- this fraction), so tabs do not retry in step. */
export const RETRY_JITTER = 0.2;
/** A server's Retry-After is honoured up to this long (a bogus header cannot park a tab for days). */
export const RETRY_AFTER_MAX_MS = 10 * 60_000;
/** An auth call that has not answered after this long counts as a network failure. */
export const REQUEST_TIMEOUT_MS = 15_000;

// --- Realtime hub (SignalR JSON protocol) ------------------------------------
/** Client keep-alive ping (SignalR's default keepAliveIntervalInMilliseconds). */
export const HUB_KEEPALIVE_MS = 15_000;
/** No message from the server for this long: probe the connection (SignalR's serverTimeout). */
export const HUB_SERVER_TIMEOUT_MS = 30_000;
/** A probe (`Heartbeat` invocation) unanswered for this long closes the connection. */
export const HUB_PROBE_TIMEOUT_MS = 10_000;
/** The handshake must complete within this long after the socket opens. */
export const HUB_HANDSHAKE_TIMEOUT_MS = 15_000;
/** Presence keep-alive: `Heartbeat()` on the hub this often. */
export const HUB_PRESENCE_INTERVAL_MS = HEARTBEAT_INTERVAL_MS;
/** Reconnect delays after a drop; the last value repeats (the client never gives up). */
export const HUB_RECONNECT_BACKOFF_MS = Object.freeze([0, 2_000, 10_000, 30_000]);
/** A connection that stayed up this long resets the reconnect back-off. */
export const HUB_STABLE_MS = 30_000;
/** How long the hub waits for any tab to answer a token request. */
export const TOKEN_REQUEST_TIMEOUT_MS = LOCK_WAIT_MS + LOCK_TTL_MS + REQUEST_TIMEOUT_MS;

// --- Shared worker -----------------------------------------------------------
/** Pages send the worker their clock this often (the worker has no clock of its own that tests can move). */
export const WORKER_TICK_MS = 1_000;
/** A port silent for this long (in page-driven time) is dropped; hidden tabs tick at least once a minute. */
export const PORT_IDLE_MS = 5 * 60_000;
/** A page clock more than this behind the worker's view is a clock change, not a slow sibling. */
export const WORKER_CLOCK_REBASE_MS = 5_000;
/** Name of the SharedWorker, so every tab of the origin reaches the same one. */
export const WORKER_NAME = "authsite-realtime";

// --- Pages -------------------------------------------------------------------
/**
 * The restore page reloads once it has renewed the session; if it comes back
 * within this long, the browser did not keep the cookie: it stops rather than loop.
 */
export const RESTORE_RELOAD_GUARD_MS = 10_000;

// --- Names and paths ---------------------------------------------------------
/** Prefix of every localStorage key the client writes (all removed on sign-out). */
export const STORAGE_PREFIX = "authsite:";
/** BroadcastChannel used for session sync and the fallback lock. */
export const CHANNEL_NAME = "authsite";
export const CSRF_COOKIE_NAME = "csrftoken";
export const CSRF_HEADER_NAME = "X-CSRFToken";

export const PATHS = Object.freeze({
  validate: "/auth/validate",
  refresh: "/auth/refresh",
  token: "/auth/token",
  activity: "/auth/activity",
  logout: "/auth/logout",
  logoutAll: "/auth/logout-all",
  sessions: "/auth/sessions",
  signIn: "/",
  app: "/app",
  hub: "/hub",
});

/** Hub methods the client calls. */
export const HUB_METHODS = Object.freeze({
  renewToken: "RenewToken",
  getOnlineUsers: "GetOnlineUsers",
  heartbeat: "Heartbeat",
});

/** Server-to-client hub calls (matched case-insensitively, as @microsoft/signalr does). */
export const HUB_EVENTS = Object.freeze({
  sessionRevoked: "sessionrevoked",
  tokenExpiring: "tokenexpiring",
  presenceChanged: "presencechanged",
  sessionsChanged: "sessionschanged",
  notify: "notify",
});
