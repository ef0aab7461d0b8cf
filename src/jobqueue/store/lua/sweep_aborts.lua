#!lua
-- Remove abort requests older than the cutoff for jobs that are gone: neither queued nor in
-- progress. (arq's own clean-up of the abort set removes only future-dated entries.)
-- KEYS: 1 arq's abort set, 2 the queue
-- ARGV: 1 arq's in-progress key prefix, 2 cutoff (ms), 3 batch size
-- Returns {removed, looked at}
local removed = 0
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  if not redis.call('ZSCORE', KEYS[2], id) and redis.call('EXISTS', ARGV[1] .. id) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], id)
  end
end
return {removed, #ids}
