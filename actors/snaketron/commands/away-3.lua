-- A player's connection in a private lobby closed. Marks the player absent (it leaves the lobby once the grace
-- period is over) unless it has come back since that connection entered the lobby: a new connection, maybe on
-- another node, can rejoin before the old one is seen to close. Forgets this node's note of the player's presence
-- either way, unless a newer connection's note replaced it.
-- KEYS: absences (sorted set of "game id, user id" by deadline, ms), the player's last return to this lobby (ms),
-- presences (hash "game id, user id" -> "node id, entered at").
-- ARGV: member, deadline (ms), when the closed connection entered the lobby (ms), node id, 1 to mark the player
-- absent (0: the game has started; only the presence goes).
-- Returns 1 when marked, else 0.
local present = redis.call('HGET', KEYS[3], ARGV[1])
if present and present == ARGV[4] .. ' ' .. ARGV[3] then redis.call('HDEL', KEYS[3], ARGV[1]) end
if ARGV[5] ~= '1' then return 0 end
local back = redis.call('GET', KEYS[2])
if back and tonumber(back) > tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
