-- Reads new inbox entries for the owner, fenced, so an owner that lost its partition cannot take inputs from
-- the next one. KEYS: lease, epoch, inbox. ARGV: node id, epoch, lease ms, group, consumer, count.
-- Returns {0} when fenced, else {1, entries} where entries is XREADGROUP's reply (or nil).
--@include fence
if fenced() then return {0} end
return {1, redis.call('XREADGROUP', 'GROUP', ARGV[4], ARGV[5], 'COUNT', ARGV[6], 'STREAMS', KEYS[3], '>')}
