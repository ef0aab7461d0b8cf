#!lua
-- Claim jobs for one worker, as arq's `Worker.start_jobs` does one job at a time with
-- WATCH/EXISTS/ZSCORE/MULTI/PSETEX/EXEC: a job is claimed when it is still in the queue, due,
-- and not in progress elsewhere; claiming sets its in-progress key: a lease, held by the
-- claiming worker (its id is the key's value) and renewed while the job runs (`renew.lua`), so
-- that the job is free again soon after its worker dies. For each claimed job, also
-- run the opening of arq's `Worker.run_job` (GET the job, INCR and EXPIRE its try counter,
-- ZREM it from the abort set), so that the worker does not need another round trip for it.
-- KEYS: 1 the queue, 2 arq's abort set, then per job: its in-progress, job and retry keys
-- ARGV: 1 now (ms), 2 lease (ms), 3 check aborts ("1"/"0"), 4 claim at most this many jobs,
--       5 try counter TTL (s), 6 the worker's id, then the job ids, in queue order
-- Returns, per claimed job: id, score, job data ('' when gone), try, removed from abort set
local now, lease, aborts, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1',
  tonumber(ARGV[4])
if not now or not lease or lease < 1 or not limit or not tonumber(ARGV[5]) or ARGV[6] == '' then
  return redis.error_reply('claim: now, lease, limit, try TTL or worker id missing')
end
local claimed = {}
for i = 7, #ARGV do
  if #claimed >= 5 * limit then break end
  local id, at = ARGV[i], 3 * (i - 7) + 3
  local in_progress, job, retry = KEYS[at], KEYS[at + 1], KEYS[at + 2]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now and redis.call('EXISTS', in_progress) == 0 then
    redis.call('PSETEX', in_progress, math.floor(lease), ARGV[6])
    local data = redis.call('GET', job) or ''
    local try = redis.call('INCR', retry)
    redis.call('EXPIRE', retry, ARGV[5])
    local aborted = 0
    if aborts then aborted = redis.call('ZREM', KEYS[2], id) end
    for _, value in ipairs({id, score, data, try, aborted}) do claimed[#claimed + 1] = value end
  end
end
return claimed
