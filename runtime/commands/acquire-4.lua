-- Takes a partition's lease if it is free (or already ours) and starts a new epoch, which fences every earlier
-- writer, including an earlier executor of this same node. Notes this node as the partition's holder, which
-- outlives the lease, so the next owner can say whom it took the partition from.
-- KEYS: lease, epoch, commit seq, holder. ARGV: node id, lease length (ms).
-- Returns {epoch, last commit seq, previous holder or ''} or {0, current owner}.
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return {0, owner} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local epoch = redis.call('INCR', KEYS[2])
local last = redis.call('GET', KEYS[3])
local seq = 0
if last then seq = tonumber(string.match(last, '^(%d+)')) end
local previous = redis.call('GET', KEYS[4]) or ''
redis.call('SET', KEYS[4], ARGV[1])
return {epoch, seq, previous}
