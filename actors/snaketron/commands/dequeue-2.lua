-- Takes a player's ticket out of its queue, if it is still this very ticket: a ticket a match claimed, or one the
-- player took since on another connection, is left alone.
-- KEYS: queue, tickets. ARGV: user id, ticket.
-- Returns 1 when the ticket was waiting and is gone, else 0.
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], ARGV[1])
