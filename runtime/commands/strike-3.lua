-- Counts, fenced, how often an input was being handled when its owner stopped before committing it (a worker that
-- crashed or hung, a node that died). An input that stops its worker each time never throws where the executor
-- could see it: this count is how it is found and dead-lettered. The counts expire a day after the last one.
-- KEYS: lease, epoch, strikes. ARGV: node id, epoch, lease ms, mode, input ids.
-- mode 'count': the inputs are about to be handled; each is counted once more.
-- mode 'clear': every counted input was settled (committed or dead-lettered); the counts are forgotten.
-- Returns 1, or 0 when fenced.
--@include fence
if fenced() then return 0 end
if ARGV[4] == 'clear' then
  redis.call('DEL', KEYS[3])
  return 1
end
for i = 5, #ARGV do redis.call('HINCRBY', KEYS[3], ARGV[i], 1) end
redis.call('PEXPIRE', KEYS[3], 86400000)
return 1
