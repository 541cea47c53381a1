-- Commits one batch of journal records: checks the epoch, appends the batch to the outbox and acknowledges the
-- inbox entries it consumed, atomically. A batch whose number was already committed (a retry after a lost
-- reply) is not written again.
-- KEYS: lease, epoch, commit seq, outbox, inbox.
-- ARGV: node id, epoch, lease ms, batch number, group, payload, inbox ids to acknowledge...
-- Returns {-1} when fenced, {0, outbox id} for a repeated batch, {1, outbox id} when written.
--@include fence
if fenced() then return {-1} end
local seq = tonumber(ARGV[4])
local last = redis.call('GET', KEYS[3])
if last then
  local lastSeq, lastId = string.match(last, '^(%d+) (.+)$')
  if tonumber(lastSeq) >= seq then return {0, lastId} end
end
local id = redis.call('XADD', KEYS[4], '*', 'd', ARGV[6])
local n = #ARGV
local i = 7
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('XACK', KEYS[5], ARGV[5], unpack(ARGV, i, j))
  i = j + 1
end
redis.call('SET', KEYS[3], seq .. ' ' .. id)
return {1, id}
