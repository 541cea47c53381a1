-- Refuses a writer that no longer owns the partition: KEYS[1] is the lease, KEYS[2] the epoch;
-- ARGV[1] the writer's node id, ARGV[2] its epoch, ARGV[3] the lease length (ms).
-- A lease that merely expired while nobody else acquired it (the epoch is unchanged) is taken back.
local function fenced()
  if redis.call('GET', KEYS[2]) ~= ARGV[2] then return true end
  local owner = redis.call('GET', KEYS[1])
  if owner and owner ~= ARGV[1] then return true end
  if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
  return false
end
