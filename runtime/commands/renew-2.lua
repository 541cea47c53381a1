-- Extends a lease held at the given epoch. KEYS: lease, epoch. ARGV: node id, epoch, lease length (ms).
-- Returns 1, or 0 when the lease has passed to someone else.
--@include fence
if fenced() then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
