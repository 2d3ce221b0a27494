"""Redis scripts of the hub's connection state and presence.

Per-user scripts touch only keys with the user's hash tag; presence scripts only
the two ``{presence}`` keys: each runs on one Redis Cluster slot.
Leases: ``connection_leases(uid)`` scores each open connection (and ``hb`` for the
last ``Heartbeat()``) by the time it lapses; a user is online while any lease is live.
"""

# KEYS: connections, leases, session_groups. ARGV: now_ms, conn_id, sid, deadline_ms, key_ttl_ms.
# Registers a connection; prunes leases and connection entries a dead worker
# left behind; returns {latest lease deadline, groups the session had joined...}.
REGISTER = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, c in ipairs(redis.call('HKEYS', KEYS[1])) do
  if not redis.call('ZSCORE', KEYS[2], c) then redis.call('HDEL', KEYS[1], c) end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local out = {top[2]}
for _, g in ipairs(redis.call('SMEMBERS', KEYS[3])) do out[#out + 1] = g end
return out
"""

# KEYS: connections, leases. ARGV: now_ms, lease member, sid ('' for the heartbeat lease), deadline_ms, key_ttl_ms.
# Renews one lease (re-adding it if a prune took it); returns the latest deadline.
RENEW = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('ZADD', KEYS[2], 'GT', ARGV[4], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
"""

# KEYS: connections, leases. ARGV: now_ms, conn_id.
# Drops a connection; returns the latest live lease deadline (0: none left).
UNREGISTER = """
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
return top[2] or '0'
"""

# KEYS: leases. ARGV: now_ms. The latest live lease deadline (0: none).
LATEST = """
local top = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
return top[#top] or '0'
"""

# KEYS: presence, presence_names. ARGV: uid, online_until_ms, name, now_ms.
# Returns 1 if the user just came online (absent or lapsed before).
SET_ONLINE = """
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if (not old) or tonumber(old) <= tonumber(ARGV[4]) then return 1 end
return 0
"""

# KEYS: presence, presence_names. ARGV: uid. Returns 1 if the user was listed.
SET_OFFLINE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return removed
"""

# KEYS: presence, presence_names. ARGV: now_ms, limit. Removes lapsed users; returns their ids.
SWEEP = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, uid in ipairs(gone) do
  redis.call('ZREM', KEYS[1], uid)
  redis.call('HDEL', KEYS[2], uid)
end
return gone
"""

# KEYS: presence, presence_names. ARGV: now_ms, limit. Returns {uid, name, uid, name, ...} of online users.
ONLINE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, uid in ipairs(ids) do
  out[#out + 1] = uid
  out[#out + 1] = redis.call('HGET', KEYS[2], uid) or ''
end
return out
"""
