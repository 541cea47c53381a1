-- Gives a lease up so another node may take it at once. KEYS: lease, epoch. ARGV: node id, epoch.
-- The epoch moves on too, so nothing of the releasing owner still on its way (a renewal sent before the release)
-- can take the free lease back.
if redis.call('GET', KEYS[2]) == ARGV[2] and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('INCR', KEYS[2])
  return 1
end
return 0
