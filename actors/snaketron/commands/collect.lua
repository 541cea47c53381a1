-- Adds one journal record's worth of replay data to each game's collection, for all the games of one outbox
-- entry in one call (the keys share the entry's partition hash tag). Fields are record numbers, so an entry
-- processed twice changes nothing.
-- KEYS: a collection hash per game. ARGV: record number, value, for each key in order.
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[2 * i - 1], ARGV[2 * i])
end
return #KEYS
