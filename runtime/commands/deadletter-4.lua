-- Moves an input that cannot be applied (poison, or for an actor that is gone) to the dead-letter stream and
-- acknowledges it, fenced. An input no longer pending (this command sent again after a lost reply) is not
-- dead-lettered twice. The stream keeps the newest 100000.
-- KEYS: lease, epoch, dead letters, inbox. ARGV: node id, epoch, lease ms, group, inbox id, payload.
--@include fence
if fenced() then return 0 end
if redis.call('XACK', KEYS[4], ARGV[4], ARGV[5]) == 1 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 100000, '*', 'd', ARGV[6])
end
return 1
