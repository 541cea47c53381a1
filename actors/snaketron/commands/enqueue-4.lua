-- Queues a player unless it holds a ticket already (it is queued on another connection, or matched and not yet
-- told): one ticket per player, so no match is ever made with a player that another match took.
-- KEYS: queue (sorted set of user ids by enqueue order), tickets (hash user id -> ticket), order counter, gave-up.
-- ARGV: user id, ticket.
-- Returns nil when queued, else the ticket the player holds.
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then return held end
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[3]), ARGV[1])
return nil
