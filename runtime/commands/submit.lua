-- Stores inputs in a partition's inbox, in order, each once. A call is stored once: the same call sent again (a
-- client resending what was in flight when its connection dropped) gets the ids of the first. An input whose
-- submitter named it (to retry it in a later call) is also stored once under its own marker. An input for an
-- actor that has finished (in the partition's `ended` set, see commit-6.lua) is not stored: the actor could never
-- apply it, so it must not be acknowledged.
-- KEYS: the inbox, the ended set, the call's marker, then the markers of the inputs their submitters named.
-- ARGV: marker lifetime (ms), then per input its actor id ('' for a create), its payload and the index in KEYS of
-- its own marker (0 for none).
-- Returns the inputs' stream ids, separated by spaces; 0 for an input whose actor has finished.
local stored = redis.call('GET', KEYS[3])
if stored then return stored end
local ids = {}
for i = 2, #ARGV, 3 do
  local actor, payload, marker = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local id = marker > 0 and redis.call('GET', KEYS[marker])
  if not id then
    if actor ~= '' and redis.call('ZSCORE', KEYS[2], actor) then
      id = '0'
    else
      id = redis.call('XADD', KEYS[1], '*', 'd', payload)
      if marker > 0 then redis.call('SET', KEYS[marker], id, 'PX', ARGV[1]) end
    end
  end
  ids[#ids + 1] = id
end
local reply = table.concat(ids, ' ')
redis.call('SET', KEYS[3], reply, 'PX', ARGV[1])
return reply
