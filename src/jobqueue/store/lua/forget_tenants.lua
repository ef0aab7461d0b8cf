#!lua
-- Forget the tenants whose latest job was due before the cutoff and that have none waiting or
-- running (their statistics stop being recorded). One step: a tenant's next enqueue, which
-- adds it again, cannot fall between the check and the removal.
-- KEYS: 1 the set of tenants
-- ARGV: 1 cutoff (ms), 2 and 3 the name of a tenant's share of the queue, before and after
--       the tenant's name
-- Returns the tenants forgotten
local forgotten = {}
for _, tenant in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])) do
  if redis.pcall('ZCARD', ARGV[2] .. tenant .. ARGV[3]) == 0 then  -- (of another type: kept)
    redis.call('ZREM', KEYS[1], tenant)
    forgotten[#forgotten + 1] = tenant
  end
end
return forgotten
