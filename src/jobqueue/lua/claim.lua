-- Claim jobs for one worker, as arq's `Worker.start_jobs` does one job at a time with
-- WATCH/EXISTS/ZSCORE/MULTI/PSETEX/EXEC: a job is claimed when it is still in the queue, due,
-- and not in progress elsewhere; claiming sets its in-progress key.
-- KEYS: 1 the queue, then each job's in-progress key
-- ARGV: 1 now (ms), 2 in-progress timeout (ms), then each job's id (same order as the keys)
-- Returns the claimed jobs as a flat list: id, score, id, score...
local now, timeout = tonumber(ARGV[1]), ARGV[2]
local claimed = {}
for i = 3, #ARGV do
  local id, in_progress = ARGV[i], KEYS[i - 1]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now and redis.call('EXISTS', in_progress) == 0 then
    redis.call('PSETEX', in_progress, timeout, '1')
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = score
  end
end
return claimed
