#!lua flags=allow-oom
-- A worker's periodic call: it is alive (its alive key lives another liveness window, on
-- Redis's clock: no two hosts' clocks are compared), its leases are renewed (each in-progress
-- key it still holds lives another lease; its lease set forgets the keys it no longer holds),
-- and, when asked, the leases of workers that are not alive are released: each key in a gone
-- worker's lease set that still holds its id is deleted, so that any worker can run the job
-- again now rather than when the lease runs out. (The caller asks only once it has reached
-- Redis without delay for a whole liveness window: after an outage, every worker's alive key
-- may have run out, and the others need that long to refresh theirs.)
-- Allowed when Redis is full (it moves expiry times, deletes, and writes a few tiny keys): a
-- worker riding out a full Redis must not lose the jobs it is running.
-- KEYS: 1 the worker's lease set, 2 its alive key, 3 the set of workers holding leases, then
--       the in-progress keys of the jobs it runs
-- ARGV: 1 the worker's id, 2 the lease (ms), 3 the liveness window (ms), 4 release the gone
--       workers' leases ("1"/"0"), 5 the alive key prefix, 6 the lease set prefix
-- Returns {leases renewed, then per lease released: the gone worker's id, the in-progress key}
local lease, window = tonumber(ARGV[2]), tonumber(ARGV[3])
if not lease or lease < 1 or not window or window < 1 or ARGV[1] == '' or ARGV[5] == ''
    or ARGV[6] == '' then
  return redis.error_reply('renew: the worker id, lease, liveness window or a prefix is missing')
end
local me = ARGV[1]
redis.call('SET', KEYS[2], '1', 'PX', math.floor(window))
redis.call('SADD', KEYS[3], me)
local result = {0}
for i = 4, #KEYS do
  if redis.call('GET', KEYS[i]) == me then
    redis.call('PEXPIRE', KEYS[i], math.floor(lease))
    result[1] = result[1] + 1
  end
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('GET', key) ~= me then redis.call('SREM', KEYS[1], key) end
end
redis.call('PEXPIRE', KEYS[1], 2 * math.floor(lease))
if ARGV[4] == '1' then
  for _, worker in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if worker ~= me and redis.call('EXISTS', ARGV[5] .. worker) == 0 then
      local leases = ARGV[6] .. worker
      for _, key in ipairs(redis.call('SMEMBERS', leases)) do
        if redis.call('GET', key) == worker then
          redis.call('DEL', key)
          result[#result + 1] = worker
          result[#result + 1] = key
        end
      end
      redis.call('DEL', leases)
      redis.call('SREM', KEYS[3], worker)
    end
  end
end
return result
