-- Reads inbox entries for the owner, fenced, so an owner that lost its partition cannot take inputs from the
-- next one. Entries already delivered to this owner after the last one it saw come first: a read whose reply was
-- lost (a connection cut, the same read sent again after a reconnect) left them pending with nobody holding them.
-- KEYS: lease, epoch, inbox. ARGV: node id, epoch, lease ms, group, consumer, count, id of the last entry seen.
-- Returns {0} when fenced, else {1, entries} where entries is XREADGROUP's reply (or nil).
--@include fence
if fenced() then return {0} end
local unseen = redis.call('XREADGROUP', 'GROUP', ARGV[4], ARGV[5], 'COUNT', ARGV[6], 'STREAMS', KEYS[3], ARGV[7])
if unseen and unseen[1] and #unseen[1][2] > 0 then return {1, unseen} end
return {1, redis.call('XREADGROUP', 'GROUP', ARGV[4], ARGV[5], 'COUNT', ARGV[6], 'STREAMS', KEYS[3], '>')}
