-- Claims inbox entries still pending from earlier owners (delivered, never acknowledged), fenced.
-- KEYS: lease, epoch, inbox. ARGV: node id, epoch, lease ms, group, consumer, start id, count.
-- Returns {0} when fenced, else {1, XAUTOCLAIM's reply}.
--@include fence
if fenced() then return {0} end
return {1, redis.call('XAUTOCLAIM', KEYS[3], ARGV[4], ARGV[5], 0, ARGV[6], 'COUNT', ARGV[7])}
