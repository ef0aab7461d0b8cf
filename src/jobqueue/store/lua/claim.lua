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
-- - keep each tenant's cap: a job whose tenant has no slot left in the worker is passed over
--   (left queued, untouched), and each job claimed takes one of its tenant's slots.
-- KEYS: 1 the queue, 2 arq's abort set, 3 the events stream, 4 the worker's lease set,
--       5 the stalls-per-function hash, then per job: its in-progress, job, retry, record and
--       events keys
-- ARGV: 1 now (ms), 2 lease (ms), 3 check aborts ("1"/"0"), 4 claim at most this many jobs,
--       5 try counter TTL (s), 6 the worker's id, 7 index key prefix, 8 events max length,
--       9 the stored status `waiting`, 10 `in_progress`, 11 the event type `started`,
--       12 each function's max tries (a JSON object), 13 history TTL (ms, for the events of a
--       job with no record), 14 each tenant's slots left in the worker (a JSON object), 15 each
--       job's tenant (a JSON array, null for a job not capped; [] when no job is), then the job
--       ids, in queue order
-- Keys of another type than arq or this service writes (planted, or left by another program)
-- never fail the call, which would leave the jobs it had claimed before unrun. The worker's
-- lease set (or the queue) of another type refuses the call before its first write (as in
-- `renew.lua`); the abort set, the events stream, the stalls hash or an index of another type
-- is left alone (aborts are not checked, no event is added, no stall counted, no entry moved);
-- a job's own keys of another type: its job key reads as gone (arq fails the job as expired),
-- its try counter (or one that is not an integer) starts again, its record or its events
-- stream is left alone. Each key so left is named in the reply.
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
local first_id = 16
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
local decoded_slots, slots = pcall(cjson.decode, ARGV[14])
local decoded_tenants, tenants = pcall(cjson.decode, ARGV[15])
if not decoded_slots or type(slots) ~= 'table' or not decoded_tenants
    or type(tenants) ~= 'table' or (#tenants ~= 0 and #tenants ~= #ARGV - first_id + 1) then
  return redis.error_reply('claim: tenant slots not a JSON object or tenants not one per job')
end
for _, left in pairs(slots) do
  if type(left) ~= 'number' then return redis.error_reply('claim: a tenant slot not a number') end
end
for _, tenant in ipairs(tenants) do
  if type(tenant) ~= 'string' and tenant ~= cjson.null then
    return redis.error_reply('claim: a tenant not a string or null')
  end
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
-- A job's own keys are not checked first (a TYPE per key and job would cost every claim): a
-- command on one of another type fails alone (`redis.pcall`), before anything of it is written
-- where a write depends on it, and the key is named.
local function tolerant(left, key, ...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    if not left[key] then left[#left + 1], left[key] = key, true end
    return nil
  end
  return reply
end

local function record_start(left, record, id, fn, status, enqueue_ms, try)
  if status == waiting then
    local member = string.format('%013d', 9999999999999 - enqueue_ms) .. ':' .. id
    for _, from in ipairs({'status:', 'function:' .. fn .. ':status:'}) do
      tolerant(left, prefix .. from .. waiting, 'ZREM', prefix .. from .. waiting, member)
      tolerant(left, prefix .. from .. in_progress_status, 'ZADD',
        prefix .. from .. in_progress_status, 0, member)
    end
  end
  redis.call('HSET', record, 'status', in_progress_status, 'tries', try, 'start_ms', ARGV[1],
    'finish_ms', '')
end

local claimed = {}
for i = first_id, #ARGV do
  if #claimed >= 7 * limit then break end
  local id, at = ARGV[i], 5 * (i - first_id) + 6
  local in_progress, job, retry, record, job_events = KEYS[at], KEYS[at + 1], KEYS[at + 2],
    KEYS[at + 3], KEYS[at + 4]
  local tenant = tenants[i - first_id + 1]
  local capped = tenant ~= nil and tenant ~= cjson.null
  local score = (not capped or (slots[tenant] or 0) >= 1) and redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) <= now and redis.call('EXISTS', in_progress) == 0 then
    if capped then slots[tenant] = slots[tenant] - 1 end
    local left = {}
    -- (a record this service did not write, missing a field, is left as it is)
    local current = tolerant(left, record, 'HMGET', record, 'status', 'function', 'enqueue_ms',
      'stalls')
    local has_record = current ~= nil
    current = current or {}
    local status, fn = current[1], current[2]
    local enqueue_ms = digits(current[3]) and tonumber(current[3])
    local stalls = counter(current[4]) and tonumber(current[4]) or 0
    if status == in_progress_status and fn then
      stalls = stalls + 1
      redis.call('HSET', record, 'stalls', stalls)
      tolerant(left, KEYS[5], 'HINCRBY', KEYS[5], fn, 1)
      local try_count = tolerant(left, retry, 'GET', retry)
      if counter(try_count) and tonumber(try_count) > 0 then redis.call('DECR', retry) end
    end
    redis.call('PSETEX', in_progress, lease, ARGV[6])
    redis.call('SADD', KEYS[4], in_progress)
    local data = tolerant(left, job, 'GET', job) or ''
    local try = tolerant(left, retry, 'INCR', retry)
    if not try then  -- (another type, or not an integer: the count starts again)
      redis.call('DEL', retry)
      try = redis.call('INCR', retry)
    end
    redis.call('EXPIRE', retry, ARGV[5])
    local aborted = 0
    if aborts then aborted = tolerant(left, KEYS[2], 'ZREM', KEYS[2], id) or 0 end
    local runs = data ~= '' and aborted == 0 and try <= (max_tries[fn or ''] or try)
    if runs and has_record and fn and enqueue_ms
        and (status == waiting or status == in_progress_status) then
      record_start(left, record, id, fn, status, enqueue_ms, try)
    end
    if runs then
      local event = {'type', started, 'job_id', id, 'function', fn or '',
                     'data', '{"at":' .. ARGV[1] .. ',"try":' .. try .. '}'}
      tolerant(left, KEYS[3], 'XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', unpack(event))
      if tolerant(left, job_events, 'XADD', job_events, 'MAXLEN', '~', 1000, '*', unpack(event))
          and not enqueue_ms then
        redis.call('PEXPIRE', job_events, ARGV[13])
      end
    end
    for _, value in ipairs({id, score, data, try, aborted, stalls, table.concat(left, ' ')}) do
      claimed[#claimed + 1] = value
    end
  end
end
if #claimed > 0 then redis.call('PEXPIRE', KEYS[4], 2 * lease) end
return claimed
