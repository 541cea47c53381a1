-- Forgets a player's claim by a match that was undone (its players went back to their queues).
-- KEYS: claims (hash user id -> "match id, time, ticket"). ARGV: user id, match id.
-- Returns 1 when the claim was forgotten, else 0.
local claim = redis.call('HGET', KEYS[1], ARGV[1])
if claim and string.sub(claim, 1, #ARGV[2] + 1) == ARGV[2] .. ' ' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
