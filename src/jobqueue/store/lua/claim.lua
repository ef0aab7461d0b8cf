#!lua
-- Claim jobs for one worker, as arq's `Worker.start_jobs` does one job at a time with
-- WATCH/EXISTS/ZSCORE/MULTI/PSETEX/EXEC: a job is claimed when it is still in the queue, due,
-- and not in progress elsewhere; claiming sets its in-progress key: a lease, held by the
-- claiming worker (its id is the key's value, the key is in the worker's lease set) and renewed
-- while the job runs (`renew.lua`), so that the job is free again soon after its worker dies.
-- For each claimed job, also:
-- - run the opening of arq's `Worker.run_job` (GET the job, INCR and EXPIRE its try counter,
--   ZREM it from the abort set), so that the worker does not need another round trip for it;
-- - record its start (status, try, start time, index entries, a `started` event), so that it
--   shows in progress from this moment; unless arq will end it without running it (its data
--   gone, an abort requested, its tries used up);
-- - if its record says it is in progress already, its last run never ended (its worker died,
--   or lost its lease): count a stall (the record's `stalls`, and per function for /metrics)
--   and give that try back: a stall is not a try; the worker fails a job past its stall limit.
-- KEYS: 1 the queue, 2 arq's abort set, 3 the events stream, 4 the worker's lease set,
--       5 the stalls-per-function hash, then per job: its in-progress, job, retry, record and
--       events keys
-- ARGV: 1 now (ms), 2 lease (ms), 3 check aborts ("1"/"0"), 4 claim at most this many jobs,
--       5 try counter TTL (s), 6 the worker's id, 7 index key prefix, 8 events max length,
--       9 the stored status `waiting`, 10 `in_progress`, 11 the event type `started`,
--       12 each function's max tries (a JSON object), 13 history TTL (ms, for the events of a
--       job with no record), then the job ids, in queue order
-- Keys of another type than arq or this service writes (planted, or left by another program)
-- never fail the call, which would leave the jobs it had claimed before unrun: they are checked
-- before the first write. The worker's lease set (or the queue) of another type refuses the
-- call (as in `renew.lua`); the abort set, the events stream or the stalls hash of another type
-- is left alone (aborts are not checked, no event is added, no stall counted); a job's own
-- keys of another type: its job key reads as gone (arq fails the job as expired), its try
-- counter (or one that is not an integer) starts again, its record, events stream or index
-- keys are left alone. Each key so left is named in the reply.
-- Returns, per claimed job: id, score, job data ('' when gone), try, removed from abort set,
--   stalls so far, the keys of its left alone for their type (space-separated; '' when none)
local function positive_integer(value)  -- as Redis reads one: digits only, no sign or point
  if type(value) == 'number' then return value >= 1 and value == math.floor(value) end
  return type(value) == 'string' and string.match(value, '^[1-9]%d*$') ~= nil
end
local now, lease, aborts, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1',
  tonumber(ARGV[4])
if not positive_integer(ARGV[1]) or not positive_integer(lease) or not limit or not positive_integer(ARGV[5])
    or ARGV[6] == '' or ARGV[7] == '' or not positive_integer(ARGV[8]) or ARGV[9] == ''
    or ARGV[10] == '' or ARGV[11] == '' or not positive_integer(ARGV[13]) then
  return redis.error_reply('claim: now, lease, limit, try TTL, worker id, index prefix, '
    .. 'events max length, history TTL or vocabulary missing')
end
local first_id = 14
if #KEYS ~= 5 + 5 * (#ARGV - first_id + 1) then
  return redis.error_reply('claim: not five keys per job')
end
local decoded, max_tries = pcall(cjson.decode, ARGV[12])
if not decoded or type(max_tries) ~= 'table' then
  return redis.error_reply('claim: max tries is not a JSON object')
end
for _, tries in pairs(max_tries) do
  if type(tries) ~= 'number' then return redis.error_reply('claim: a max tries not a number') end
end
local prefix, waiting, in_progress_status, started = ARGV[7], ARGV[9], ARGV[10], ARGV[11]

local function of_type(key, wanted)  -- the key is of that type, or absent
  local kind = redis.call('TYPE', key).ok
  return kind == wanted or kind == 'none'
end
local function digits(value) return type(value) == 'string' and string.match(value, '^%d+$') end
local function counter(value) return digits(value) and #value <= 18 end  -- INCR takes it
if not of_type(KEYS[1], 'zset') or not of_type(KEYS[4], 'set') then
  return redis.error_reply('claim: the queue is not a sorted set or the lease set not a set')
end
local check_aborts = aborts and of_type(KEYS[2], 'zset')
local add_events = of_type(KEYS[3], 'stream')
local count_stalls = of_type(KEYS[5], 'hash')
local shared_left = {}  -- (named with every job's own)
for key, ok in pairs({[KEYS[2]] = check_aborts or not aborts, [KEYS[3]] = add_events,
                      [KEYS[5]] = count_stalls}) do
  if not ok then shared_left[#shared_left + 1] = key end
end

-- (returns the index keys left alone for their type)
local function record_start(record, id, fn, status, enqueue_ms, try)
  local left = {}
  if status == waiting then
    local member = string.format('%013d', 9999999999999 - enqueue_ms) .. ':' .. id
    local from = {prefix .. 'status:' .. waiting, prefix .. 'function:' .. fn .. ':status:' .. waiting}
    local to = {prefix .. 'status:' .. in_progress_status,
                prefix .. 'function:' .. fn .. ':status:' .. in_progress_status}
    for _, key in ipairs({from[1], from[2], to[1], to[2]}) do
      if not of_type(key, 'zset') then left[#left + 1] = key end
    end
    if #left == 0 then
      redis.call('ZREM', from[1], member)
      redis.call('ZREM', from[2], member)
      redis.call('ZADD', to[1], 0, member)
      redis.call('ZADD', to[2], 0, member)
    end
  end
  redis.call('HSET', record, 'status', in_progress_status, 'tries', try, 'start_ms', ARGV[1],
    'finish_ms', '')
  return left
end

local claimed = {}
for i = first_id, #ARGV do
  if #claimed >= 7 * limit then break end
  local id, at = ARGV[i], 5 * (i - first_id) + 6
  local in_progress, job, retry, record, job_events = KEYS[at], KEYS[at + 1], KEYS[at + 2],
    KEYS[at + 3], KEYS[at + 4]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now and redis.call('EXISTS', in_progress) == 0 then
    local left = {unpack(shared_left)}
    local has_job, has_record = of_type(job, 'string'), of_type(record, 'hash')
    local has_events = of_type(job_events, 'stream')
    for key, ok in pairs({[job] = has_job, [record] = has_record, [job_events] = has_events}) do
      if not ok then left[#left + 1] = key end
    end
    local retry_ok = of_type(retry, 'string')
    local try_count = retry_ok and redis.call('GET', retry)
    if not retry_ok or (try_count and not counter(try_count)) then
      left[#left + 1] = retry
      redis.call('DEL', retry)
    end
    local current = {}
    if has_record then
      current = redis.call('HMGET', record, 'status', 'function', 'enqueue_ms', 'stalls')
    end
    -- (a record this service did not write, missing a field, is left as it is)
    local status, fn = current[1], current[2]
    local enqueue_ms = digits(current[3]) and tonumber(current[3])
    local stalls = counter(current[4]) and tonumber(current[4]) or 0
    if status == in_progress_status and fn then
      stalls = stalls + 1
      redis.call('HSET', record, 'stalls', stalls)
      if count_stalls and (counter(redis.call('HGET', KEYS[5], fn)) or
          redis.call('HEXISTS', KEYS[5], fn) == 0) then
        redis.call('HINCRBY', KEYS[5], fn, 1)
      end
      if (tonumber(redis.call('GET', retry)) or 0) > 0 then redis.call('DECR', retry) end
    end
    redis.call('PSETEX', in_progress, lease, ARGV[6])
    redis.call('SADD', KEYS[4], in_progress)
    local data = has_job and redis.call('GET', job) or ''
    local try = redis.call('INCR', retry)
    redis.call('EXPIRE', retry, ARGV[5])
    local aborted = 0
    if check_aborts then aborted = redis.call('ZREM', KEYS[2], id) end
    local runs = data ~= '' and aborted == 0 and try <= (max_tries[fn or ''] or try)
    if runs and fn and enqueue_ms and (status == waiting or status == in_progress_status) then
      for _, key in ipairs(record_start(record, id, fn, status, enqueue_ms, try)) do
        left[#left + 1] = key
      end
    end
    if runs then
      local event = {'type', started, 'job_id', id, 'function', fn or '',
                     'data', '{"at":' .. ARGV[1] .. ',"try":' .. try .. '}'}
      if add_events then redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', unpack(event)) end
      if has_events then
        redis.call('XADD', job_events, 'MAXLEN', '~', 1000, '*', unpack(event))
        if not enqueue_ms then redis.call('PEXPIRE', job_events, ARGV[13]) end
      end
    end
    for _, value in ipairs({id, score, data, try, aborted, stalls, table.concat(left, ' ')}) do
      claimed[#claimed + 1] = value
    end
  end
end
if #claimed > 0 then redis.call('PEXPIRE', KEYS[4], 2 * lease) end
return claimed
