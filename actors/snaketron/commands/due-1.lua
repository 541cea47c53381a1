-- Takes the lobby absences whose grace period is over: removes and returns at most ARGV[2] members of the sorted
-- set scored at or before ARGV[1], so that of several nodes asking at once each absence goes to one.
-- KEYS: absences (sorted set of "game id, user id" by deadline, ms). ARGV: now (ms), limit.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
