-- The players a dead node had in private lobbies: each is marked absent (it leaves its lobby once the grace
-- period is over, unless it comes back), if its presence note is still the one read; a note replaced meanwhile
-- (the player came back elsewhere) stays. Notes older than a day go without a mark (their games are long over).
-- KEYS: presences (hash "game id, user id" -> "node id, entered at"), absences (sorted set by deadline, ms).
-- ARGV: deadline (ms), oldest note to mark (ms), then pairs of member and the note read for it.
-- Returns how many were marked.
local marked = 0
for i = 3, #ARGV, 2 do
  local member, note = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[1], member) == note then
    redis.call('HDEL', KEYS[1], member)
    local enteredAt = tonumber(string.match(note, ' (%d+)$') or '0')
    if enteredAt >= tonumber(ARGV[2]) then
      redis.call('ZADD', KEYS[2], 'NX', ARGV[1], member)
      marked = marked + 1
    end
  end
end
return marked
