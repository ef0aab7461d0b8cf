#!lua
-- Drop the jobs of a tenant's share of the queue that the queue no longer holds. The scripts
-- write both together; this mends what went around them (a queue key deleted, an eviction).
-- Checked and removed in one step, so that this cannot race the same id's next enqueue.
-- KEYS: 1 the queue, 2 the tenant's share of it
-- ARGV: the job ids
-- Returns how many were dropped
local dropped = 0
for _, id in ipairs(ARGV) do
  if not redis.call('ZSCORE', KEYS[1], id) then
    dropped = dropped + redis.call('ZREM', KEYS[2], id)
  end
end
return dropped
