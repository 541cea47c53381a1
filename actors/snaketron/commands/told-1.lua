-- Forgets a player's claim once the player was told of its match, if the claim took the ticket told of (a later
-- claim, of a later ticket, stays).
-- KEYS: claims (hash user id -> "match id, time, ticket"). ARGV: user id, ticket id.
-- Returns 1 when the claim was forgotten, else 0.
local claim = redis.call('HGET', KEYS[1], ARGV[1])
if not claim then return 0 end
local ok, ticket = pcall(cjson.decode, string.match(claim, '^%S+ %d+ (.*)$') or '')
if ok and type(ticket) == 'table' and ticket.id == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
