-- Forgets the mailbox consumers of earlier owners that hold no pending input, fenced: an owner that lost the
-- partition must not drop the new owner's consumer (and with it the inputs it has read but not yet committed).
-- KEYS: lease, epoch, inbox. ARGV: node id, epoch, lease ms, group.
-- Returns -1 when fenced, else how many consumers were forgotten.
--@include fence
if fenced() then return -1 end
local forgotten = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[3], ARGV[4])) do
  local name, pending
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then name = consumer[i + 1] elseif consumer[i] == 'pending' then pending = consumer[i + 1] end
  end
  if name ~= ARGV[1] and pending == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[3], ARGV[4], name)
    forgotten = forgotten + 1
  end
end
return forgotten
