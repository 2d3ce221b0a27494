"""Redis scripts: each state change that spans keys runs atomically in one script.

Every script touches keys of one user only (one hash tag, one Cluster slot).
Session hash fields (all values <= 64 bytes, so Redis keeps the hash in its
compact listpack encoding): st (a|r), rr (revoke reason), exp/abs (idle and
absolute expiry, ms), tv (token version the session was made with), la (last
active, ms), fl (last flushed to SQL, ms), cur/prev (refresh HMACs), gen, rot
(last rotation, ms). User hash fields (one per user, shared by their sessions):
tv (current token version), un/dn/av/pf (username, display name, avatar URL,
PlayFab id) -- the user fields a page needs, so the hot path never asks SQL.
"""

# KEYS: session, user, user_sessions. ARGV: now_ms, flush_interval_ms, sid.
# One round trip authenticates a request and records its activity.
VALIDATE = """
local f = redis.call('HMGET', KEYS[1], 'st', 'exp', 'abs', 'tv', 'fl', 'rr')
if not f[1] then return {'miss'} end
local u = redis.call('HMGET', KEYS[2], 'tv', 'un', 'dn', 'av', 'pf')
if not u[1] then return {'miss'} end
if f[1] ~= 'a' then return {'revoked', f[6] or ''} end
local now = tonumber(ARGV[1])
if now >= tonumber(f[2]) or now >= tonumber(f[3]) then return {'expired', ''} end
if tonumber(f[4]) < tonumber(u[1]) then return {'revoked', 'token_version'} end
redis.call('HSET', KEYS[1], 'la', ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[3])
local flush = '0'
if now - tonumber(f[5] or '0') >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'fl', ARGV[1])
  flush = '1'
end
return {'ok', flush, f[2], f[3], u[2] or '', u[3] or '', u[4] or '', u[5] or '', f[4]}
"""

# KEYS: session, user, blacklist(jti). ARGV: now_s.
# The access-token check of the hub handshake: blacklist, session, token version.
CHECK_ACCESS = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {'blacklisted', ''} end
local f = redis.call('HMGET', KEYS[1], 'st', 'exp', 'abs', 'tv', 'rr')
if not f[1] then return {'miss'} end
local utv = redis.call('HGET', KEYS[2], 'tv')
if not utv then return {'miss'} end
if f[1] ~= 'a' then return {'revoked', f[5] or ''} end
local now = tonumber(ARGV[1]) * 1000
if now >= tonumber(f[2]) or now >= tonumber(f[3]) then return {'expired', ''} end
if tonumber(f[4]) < tonumber(utv) then return {'revoked', 'token_version'} end
return {'ok', f[4], utv}
"""

# KEYS: session, user, user_sessions. ARGV: pexpireat_ms, user_ttl_ms, sid,
# n (number of session field/value pairs), the session pairs, then user pairs.
# Rehydration from SQL: the session is written only if absent, so a newer state
# a concurrent request put there is never overwritten; the user's fields are
# SQL's, except that the token version never goes down.
LOAD = """
local n = tonumber(ARGV[4])
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  local fields = {}
  for i = 5, 4 + 2 * n do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
  created = 1
  if redis.call('HGET', KEYS[1], 'st') == 'a' then
    redis.call('ZADD', KEYS[3], tonumber(redis.call('HGET', KEYS[1], 'la')), ARGV[3])
  end
end
for i = 5 + 2 * n, #ARGV, 2 do
  local k, v = ARGV[i], ARGV[i + 1]
  if k == 'tv' then
    local cur = redis.call('HGET', KEYS[2], 'tv')
    if (not cur) or tonumber(cur) < tonumber(v) then redis.call('HSET', KEYS[2], 'tv', v) end
  else
    redis.call('HSET', KEYS[2], k, v)
  end
end
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return created
"""

# KEYS: session. ARGV: cur, prev, gen, rot_ms, exp_ms, pexpireat_ms.
# Mirrors a rotation the database already decided; a late writer never rolls a
# newer generation back.
APPLY_ROTATION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local g = tonumber(redis.call('HGET', KEYS[1], 'gen') or '-1')
if g >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'prev', ARGV[2], 'gen', ARGV[3], 'rot', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
return 1
"""

# KEYS: session, user_sessions, session_jtis. ARGV: reason, tombstone_ms, now_s, sid, blacklist key prefix.
# Marks the session revoked (kept as a tombstone so its tokens are refused from
# Redis) and blacklists every access token minted for it until its expiry.
REVOKE = """
redis.call('HSET', KEYS[1], 'st', 'r', 'rr', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[4])
local now = tonumber(ARGV[3])
local jtis = redis.call('ZRANGEBYSCORE', KEYS[3], now + 1, '+inf', 'WITHSCORES')
for i = 1, #jtis, 2 do
  redis.call('SET', ARGV[5] .. jtis[i], '1', 'EXAT', jtis[i + 1])
end
redis.call('DEL', KEYS[3])
return #jtis / 2
"""

# KEYS: user. ARGV: token version. The user's token version as SQL has it, never
# lowered (a bump that landed in Redis after SQL was read stays).
SET_TV_MAX = """
local cur = redis.call('HGET', KEYS[1], 'tv')
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'tv', ARGV[1]) end
return 1
"""
