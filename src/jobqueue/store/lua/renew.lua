#!lua flags=allow-oom
-- Renew a worker's leases: each in-progress key it still holds (its value is the worker's id)
-- lives another lease; its lease set forgets the keys it no longer holds (jobs ended or taken
-- over) and lives two leases more. Allowed when Redis is full (it only moves expiry times and
-- removes set members, which takes no memory): a worker riding out a full Redis must not lose
-- the jobs it is running.
-- KEYS: 1 the worker's lease set, then the in-progress keys of the jobs it runs
-- ARGV: 1 the worker's id, 2 the lease (ms)
-- Returns how many were renewed (a job that ended, or was taken over, is not)
local lease = tonumber(ARGV[2])
if not lease or lease < 1 or ARGV[1] == '' then
  return redis.error_reply('renew: the worker id or the lease is missing')
end
local renewed = 0
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], math.floor(lease))
    renewed = renewed + 1
  end
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('GET', key) ~= ARGV[1] then redis.call('SREM', KEYS[1], key) end
end
redis.call('PEXPIRE', KEYS[1], 2 * math.floor(lease))
return renewed
