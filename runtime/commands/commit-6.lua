-- Commits one batch of journal records: checks the epoch, appends the batch to the outbox and acknowledges the
-- inbox entries it consumed, atomically. A batch whose number was already committed (a retry after a lost
-- reply) is not written again.
-- The actors that finished in the batch are noted in the partition's `ended` set (with the time), so that an input
-- submitted for one afterwards is refused instead of acknowledged (submit.lua); notes older than ten minutes go,
-- which bounds the set.
-- KEYS: lease, epoch, commit seq, outbox, inbox, ended.
-- ARGV: node id, epoch, lease ms, batch number, group, payload, count F of finished actors, their F ids, inbox ids
-- to acknowledge...
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
local finished = tonumber(ARGV[7])
if finished > 0 then
  local now = tonumber(string.match(id, '^(%d+)'))
  for f = 8, 7 + finished do redis.call('ZADD', KEYS[6], now, ARGV[f]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 600000)
end
local n = #ARGV
local i = 8 + finished
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('XACK', KEYS[5], ARGV[5], unpack(ARGV, i, j))
  i = j + 1
end
redis.call('SET', KEYS[3], seq .. ' ' .. id)
return {1, id}
