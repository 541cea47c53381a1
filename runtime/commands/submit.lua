-- Stores inputs in a partition's inbox, in order, each once: a submit retried after a lost reply gets its first id.
-- KEYS: the inbox, then one submission marker per input. ARGV: marker lifetime (ms), then one payload per input.
-- Returns the inputs' stream ids, in order.
local ids = {}
for i = 2, #KEYS do
  local id = redis.call('GET', KEYS[i])
  if not id then
    id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[i])
    redis.call('SET', KEYS[i], id, 'PX', ARGV[1])
  end
  ids[i - 1] = id
end
return ids
