-- Trims a partition's streams for their owner. KEYS: lease, epoch, outbox, inbox.
-- ARGV: node id, epoch, lease length (ms), the outbox's first id to keep, the inbox's ('' leaves a stream alone).
-- Returns 1, or 0 when the partition has passed to someone else (whose records a stale floor could cut off).
--@include fence
if fenced() then return 0 end
if ARGV[4] ~= '' then redis.call('XTRIM', KEYS[3], 'MINID', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('XTRIM', KEYS[4], 'MINID', ARGV[5]) end
return 1
