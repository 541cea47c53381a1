-- Gives a lease up so another node may take it at once. KEYS: lease, epoch. ARGV: node id, epoch.
if redis.call('GET', KEYS[2]) == ARGV[2] and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
