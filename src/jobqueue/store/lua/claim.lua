#!lua
-- Claim jobs for one worker, as arq's `Worker.start_jobs` does one job at a time with
-- WATCH/EXISTS/ZSCORE/MULTI/PSETEX/EXEC: a job is claimed when it is still in the queue, due,
-- and not in progress elsewhere; claiming sets its in-progress key. For each claimed job, also
-- run the opening of arq's `Worker.run_job` (GET the job, INCR and EXPIRE its try counter,
-- ZREM it from the abort set), so that the worker does not need another round trip for it.
-- KEYS: 1 the queue, 2 arq's abort set, then per job: its in-progress, job and retry keys
-- ARGV: 1 now (ms), 2 in-progress timeout (ms), 3 check aborts ("1"/"0"), 4 claim at most this
--       many jobs, 5 try counter TTL (s), then the job ids, in queue order
-- Returns, per claimed job: id, score, job data ('' when gone), try, removed from abort set
local now, timeout, aborts, limit = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])
local claimed = {}
for i = 6, #ARGV do
  if #claimed >= 5 * limit then break end
  local id, at = ARGV[i], 3 * (i - 6) + 3
  local in_progress, job, retry = KEYS[at], KEYS[at + 1], KEYS[at + 2]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now and redis.call('EXISTS', in_progress) == 0 then
    redis.call('PSETEX', in_progress, timeout, '1')
    local data = redis.call('GET', job) or ''
    local try = redis.call('INCR', retry)
    redis.call('EXPIRE', retry, ARGV[5])
    local aborted = 0
    if aborts then aborted = redis.call('ZREM', KEYS[2], id) end
    for _, value in ipairs({id, score, data, try, aborted}) do claimed[#claimed + 1] = value end
  end
end
return claimed
