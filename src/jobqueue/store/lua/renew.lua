#!lua flags=allow-oom
-- Renew a worker's leases: each in-progress key it still holds (its value is the worker's id)
-- lives another lease. Allowed when Redis is full (it only moves expiry times, which takes no
-- memory): a worker riding out a full Redis must not lose the jobs it is running.
-- KEYS: the jobs' in-progress keys
-- ARGV: 1 the worker's id, 2 the lease (ms)
-- Returns how many were renewed (a job that ended, or was taken over, is not)
local lease = tonumber(ARGV[2])
if not lease or lease < 1 or ARGV[1] == '' then
  return redis.error_reply('renew: the worker id or the lease is missing')
end
local renewed = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, math.floor(lease))
    renewed = renewed + 1
  end
end
return renewed
