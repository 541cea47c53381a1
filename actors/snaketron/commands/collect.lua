-- Adds what one read of a partition's outbox brings to each game's collection, for all its games in one call (the
-- keys share the partition's hash tag). A value is a run of msgpack `[record number, data]` pairs; a record
-- appended twice (its entry processed again) is read once.
-- KEYS: a collection string per game. ARGV: what to append, for each key in order.
for i = 1, #KEYS do
  redis.call('APPEND', KEYS[i], ARGV[i])
end
return #KEYS
