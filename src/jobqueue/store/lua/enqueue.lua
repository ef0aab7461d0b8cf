#!lua
-- Enqueue jobs exactly as arq's ArqRedis.enqueue_job would (same keys, same payload), and in
-- the same atomic step write each one's history record, index entries and `enqueued` event.
-- A tenant's job is also added to its tenant's share of the queue (same score), and the tenant
-- to the set of tenants (scored by its latest due time).
-- Several jobs travel in one call (concurrent requests, a batch): 9 keys and 14 arguments each,
-- after 4 arguments for the whole call.
-- ARGV first: 1 the stored status of a new job, 2 the type of its first event, 3 the set of
--       indexed functions (it lets the sweep find every index key), 4 the set of tenants
-- KEYS, per job: 1 arq job key, 2 arq result key, 3 arq queue, 4 record, 5 events,
--       6 job events, 7 record of the job this one retries (or the record key again when none),
--       8 the queue's wake-up channel, 9 its tenant's share of the queue (unused for the system)
-- ARGV, per job: 1 job id, 2 job payload, 3 score (ms), 4 job data TTL (ms), 5 history TTL (ms),
--       6 events max length, 7 index key prefix, 8 index member, 9 function, 10 event JSON,
--       11 is a retry ("1"/"0"), 12 due now ("1"/"0": wake the workers),
--       13 the record's fields as a JSON object of strings (one argument: cheaper to send),
--       14 its tenant ('' for the system's)
-- Returns, per job: 1 (enqueued), 0 (a job or result with this id exists: arq's rule), the id
-- of the job that already retries its KEYS[7], or an error naming what is wrong with the job's
-- arguments. Each job is checked before anything of it is written (a script does not roll
-- back), so one bad job writes nothing and fails alone. Each wake-up channel is published once.
-- Keys of another type than we or arq write (planted, or left by another program) never fail
-- the call, and cost nothing to tolerate (`redis.pcall`, no TYPE per key): a queue that is not
-- a sorted set refuses the job (its first write, so nothing of it is written); a record of
-- another type is replaced, as an older job's is; the events stream, an index or the set of
-- indexed functions of another type is left alone (the job is enqueued without that entry).

local status, event_type, indexed_functions, tenants = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local function tolerant(...)  -- the reply, or nil if the key is of another type
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then return nil end
  return reply
end

local function positive_integer(value)
  local number = tonumber(value)
  return number ~= nil and number >= 1 and number == math.floor(number)
end

-- What is wrong with one job's arguments, or nil.
local function invalid(ARGV)
  if not tonumber(ARGV[3]) then return 'score is not a number' end
  if not positive_integer(ARGV[4]) then return 'job data TTL is not a positive integer (ms)' end
  if not positive_integer(ARGV[5]) then return 'history TTL is not a positive integer (ms)' end
  if not positive_integer(ARGV[6]) then return 'events max length is not a positive integer' end
  local decoded, fields = pcall(cjson.decode, ARGV[13])
  if not decoded or type(fields) ~= 'table' then return 'record fields are not a JSON object' end
  return nil
end

local function enqueue(KEYS, ARGV)
  local problem = invalid(ARGV)
  if problem then return {err = 'job ' .. ARGV[1] .. ' not enqueued: ' .. problem} end
  if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
  if ARGV[11] == '1' then
    local existing = tolerant('HGET', KEYS[7], 'retried_as')
    if existing then return existing end
  end
  if not tolerant('ZADD', KEYS[3], ARGV[3], ARGV[1]) then  -- (the first write)
    return {err = 'job ' .. ARGV[1] .. ' not enqueued: the queue key is not a sorted set'}
  end
  if ARGV[14] ~= '' then
    tolerant('ZADD', KEYS[9], ARGV[3], ARGV[1])
    tolerant('ZADD', tenants, 'GT', ARGV[3], ARGV[14])
  end

  local prefix, member, fn = ARGV[7], ARGV[8], ARGV[9]
  -- Forget an older job that used the same id (its arq keys are gone, its record may not be).
  local old = tolerant('HMGET', KEYS[4], 'status', 'function', 'enqueue_ms') or {}
  if old[1] and old[2] and old[3] and string.match(old[3], '^%d+$') then
    -- its index entries' member, as `keys.index_member` writes it
    local old_member = string.format('%013d', 9999999999999 - tonumber(old[3])) .. ':' .. ARGV[1]
    tolerant('ZREM', prefix .. 'status:' .. old[1], old_member)
    tolerant('ZREM', prefix .. 'function:' .. old[2] .. ':status:' .. old[1], old_member)
  end
  redis.call('DEL', KEYS[4], KEYS[6])

  redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])

  local record, fields = {'status', status}, cjson.decode(ARGV[13])
  for field, value in pairs(fields) do
    record[#record + 1] = field
    record[#record + 1] = value
  end
  redis.call('HSET', KEYS[4], unpack(record))
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
  -- Two index entries (by status; by function and status): listings without either filter
  -- read one index per status and merge them, so a job costs two entries, not four.
  tolerant('ZADD', prefix .. 'status:' .. status, 0, member)
  tolerant('ZADD', prefix .. 'function:' .. fn .. ':status:' .. status, 0, member)
  tolerant('SADD', indexed_functions, fn)

  local event = {'type', event_type, 'job_id', ARGV[1], 'function', fn, 'data', ARGV[10]}
  tolerant('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', unpack(event))
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', 1000, '*', unpack(event))
  redis.call('PEXPIRE', KEYS[6], ARGV[5])
  if ARGV[11] == '1' then  -- (the re-run's enqueuer retried the original)
    tolerant('HSET', KEYS[7], 'retried_as', ARGV[1], 'retried_by', fields.enqueued_by or '')
  end
  return 1, ARGV[12] == '1' and KEYS[8] or nil
end

local results, channels = {}, {}
for job = 0, (#ARGV - 4) / 14 - 1 do
  local keys, args = {}, {}
  for i = 1, 9 do keys[i] = KEYS[9 * job + i] end
  for i = 1, 14 do args[i] = ARGV[4 + 14 * job + i] end
  local result, channel = enqueue(keys, args)
  results[#results + 1] = result
  if channel then channels[channel] = true end
end
for channel in pairs(channels) do redis.call('PUBLISH', channel, '1') end
return results
