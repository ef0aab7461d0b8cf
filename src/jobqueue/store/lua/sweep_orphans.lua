#!lua
-- Remove queue entries whose job data has expired (arq reaches those only when they fall due,
-- if ever), unless the job is in progress. Checked and removed in one step, so that this cannot
-- race a worker starting the same job.
-- KEYS: 1 the queue
-- ARGV: 1 arq's job key prefix, 2 arq's in-progress key prefix, then the job ids
-- Returns the ids removed
local removed = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('EXISTS', ARGV[1] .. id) == 0 and redis.call('EXISTS', ARGV[2] .. id) == 0 then
    if redis.call('ZREM', KEYS[1], id) == 1 then table.insert(removed, id) end
  end
end
return removed
