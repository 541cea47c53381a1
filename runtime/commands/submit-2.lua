-- Stores one input in a partition's inbox, once: a submit retried after a lost reply returns the first id.
-- KEYS: inbox, submission marker. ARGV: payload, marker lifetime (ms).
local existing = redis.call('GET', KEYS[2])
if existing then return existing end
local id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
