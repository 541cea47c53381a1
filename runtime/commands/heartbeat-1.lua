-- A node's heartbeat, scored with Redis's clock so that every node judges every heartbeat by the same clock (the
-- nodes' own may be seconds apart). KEYS: nodes. ARGV: node id, dead after (ms), forgotten after (ms).
-- Returns Redis's time (ms), then the ids of the live nodes.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
-- nodes long dead are forgotten, so the set stays small
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
local reply = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')
table.insert(reply, 1, now)
return reply
