#!lua flags=allow-oom
-- Release the leases of workers that are gone (no heartbeat since the cutoff): each key in a
-- gone worker's lease set that still holds its id is deleted, so that any worker can run the
-- job again now rather than when the lease runs out. Allowed when Redis is full (it only
-- deletes).
-- KEYS: 1 the workers' last beats (a sorted set by epoch seconds)
-- ARGV: 1 the cutoff (epoch s), 2 the lease set key prefix, 3 check at most this many of the
--       most recently gone workers
-- Returns, per lease released: the worker's id and the in-progress key
local cutoff, most = tonumber(ARGV[1]), tonumber(ARGV[3])
if not cutoff or not most or most < 1 then
  return redis.error_reply('release_gone: the cutoff or the number of workers is missing')
end
local released = {}
for _, worker in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '-inf',
                                   'LIMIT', 0, most)) do
  local leases = ARGV[2] .. worker
  for _, key in ipairs(redis.call('SMEMBERS', leases)) do
    if redis.call('GET', key) == worker then
      redis.call('DEL', key)
      released[#released + 1] = worker
      released[#released + 1] = key
    end
  end
  redis.call('DEL', leases)
end
return released
