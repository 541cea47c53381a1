-- Stores inputs in a partition's inbox, in order, each once: a submit retried after a lost reply gets its first id.
-- An input for an actor that has finished (in the partition's `ended` set, see commit-6.lua) is not stored: the
-- actor could never apply it, so it must not be acknowledged.
-- KEYS: the inbox, the ended set, then one submission marker per input.
-- ARGV: marker lifetime (ms), then per input its actor id ('' for a create) and its payload.
-- Returns per input its stream id, or 0 when its actor has finished.
local ids = {}
for i = 3, #KEYS do
  local actor = ARGV[2 * (i - 2)]
  local payload = ARGV[2 * (i - 2) + 1]
  local id = redis.call('GET', KEYS[i])
  if not id then
    if actor ~= '' and redis.call('ZSCORE', KEYS[2], actor) then
      id = 0
    else
      id = redis.call('XADD', KEYS[1], '*', 'd', payload)
      redis.call('SET', KEYS[i], id, 'PX', ARGV[1])
    end
  end
  ids[i - 2] = id
end
return ids
