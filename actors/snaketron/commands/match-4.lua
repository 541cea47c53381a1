-- Claims one match from a queue atomically, so no player is ever matched twice: pops `size` players (oldest
-- first), takes their tickets, records the match as pending until its game exists (a sweeper finishes or undoes
-- pending matches whose maker died), and notes each player's claim, so a player whose notification is lost still
-- finds its match.
-- KEYS: queue (sorted set of user ids by enqueue time), tickets (hash user id -> ticket), pending matches (hash),
-- claims (hash user id -> "match id, time, ticket").
-- ARGV: size, match id (= the game id), now (ms).
-- Returns nil when too few wait, else a flat list {userId, ticket, score, ...}.
local size = tonumber(ARGV[1])
-- a match id already used: this call is a resend of one whose reply was lost (its match is pending, or swept)
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return nil end
if redis.call('ZCARD', KEYS[1]) < size then return nil end
local popped = redis.call('ZPOPMIN', KEYS[1], size)
local players = {}
for i = 1, #popped, 2 do
  local ticket = redis.call('HGET', KEYS[2], popped[i]) or ''
  redis.call('HDEL', KEYS[2], popped[i])
  redis.call('HSET', KEYS[4], popped[i], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ticket)
  table.insert(players, popped[i])
  table.insert(players, ticket)
  table.insert(players, popped[i + 1])
end
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode({ at = tonumber(ARGV[3]), queue = KEYS[1], players = players }))
return players
