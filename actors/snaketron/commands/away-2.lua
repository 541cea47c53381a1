-- Marks a player who dropped out of a private lobby, unless it has come back since the connection that dropped
-- entered the lobby (a new connection, maybe on another node, can rejoin before the old one is seen to close).
-- KEYS: absences (sorted set of "game id, user id" by deadline, ms), the player's last return to this lobby (ms).
-- ARGV: member, deadline (ms), when the dropped connection entered the lobby (ms).
-- Returns 1 when marked, else 0.
local back = redis.call('GET', KEYS[2])
if back and tonumber(back) > tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
