#!lua
-- Record a job's transition(s): move its index entries to the new status, update its record,
-- append the events to the global and the job's own stream, and (for a job's end) count it.
-- Several events may be given (a short job's `started` travels with its end).
-- A job with no record (enqueued around the service) only gets its events and counts.
-- A finished job's record is final: any later write to it (a late progress report, a run
-- re-ended by a worker that had lost its lease, a retry) is dropped, events and counts too.
-- An interrupted run may give its try back (arq's try counter down one), only if applied.
-- A write from the worker running the job (a retry, a put-back) names it: it is dropped when
-- another worker holds the job's lease (this one lost it: the job may be running there).
-- At a job's end, its events are copied into its record, a field per event (`e:{stream id}`:
-- `[type, data]`; progress reports but the last left out), and its own stream lives only a
-- little longer (live followers read the end from it): a stream holding a few entries costs
-- some 4 KB, most of a finished job's memory; the copy, in the record's compact encoding, a
-- few dozen bytes an event. (One field per event: a value over 64 bytes would turn the record
-- into a hash table, twice its size.)
-- A tenant's job leaves its tenant's share of the queue at its end, and takes its new due time
-- there when it waits again (a retry, an interruption).
-- KEYS: 1 record, 2 events, 3 job events, 4 arq's try counter, 5 arq's in-progress key,
--       6 its tenant's share of the queue (unused for the system's job)
-- ARGV: 1 job id, 2 new stored status ('' = unchanged), 3 history TTL (ms), 4 events max length,
--       5 index key prefix, 6 counts JSON, naming its keys ('' = none), 7 record fields as a
--       JSON object of strings ('' = none; one argument is cheaper than many), 8 how long the
--       job's own stream outlives its end (ms), 9 events N, 10 the progress event's type,
--       11 '1' to give the try back (else ''), 12 the worker that must hold the lease ('' =
--       any), 13 '1' for a tenant's job (else ''), then N pairs (event type, event JSON), then
--       the terminal statuses
-- Counts: for a job's end, its per-10-s bucket (its tenant's too: `tenant_bucket_key`) and
-- finished/duration counters; for a retry, `retried_key` and `function`.
-- Every argument is checked before the first write (a script does not roll back).
local function positive_integer(value)  -- as Redis reads one: digits only, no sign or point
  if type(value) == 'number' then return value >= 1 and value == math.floor(value) end
  return type(value) == 'string' and string.match(value, '^[1-9]%d*$') ~= nil
end
local function json_or_empty(value)
  if value == '' then return true, {} end
  local decoded, object = pcall(cjson.decode, value)
  return decoded and type(object) == 'table', object
end
local n = tonumber(ARGV[9])
if not positive_integer(ARGV[3]) or not positive_integer(ARGV[4])
    or not positive_integer(ARGV[8]) then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': a TTL or the max length not positive')
end
if not n or n < 0 or #ARGV < 13 + 2 * n then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': events missing')
end
local counts_ok, counts = json_or_empty(ARGV[6])
local fields_ok, new_fields = json_or_empty(ARGV[7])
if not counts_ok or not fields_ok then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': counts or fields not JSON objects')
end
local function counts_complete(c)
  local strings = function(...)
    for _, name in ipairs({...}) do if type(c[name]) ~= 'string' then return false end end
    return true
  end
  if c.bucket_key == nil and c.retried_key == nil then return false end
  if c.bucket_key ~= nil and not (strings('bucket_key', 'finished_key', 'label')
      and positive_integer(c.bucket_ttl)) then return false end
  if c.duration_bucket ~= nil and not (strings('duration_key', 'durations_key', 'function')
      and (type(c.duration_bucket) == 'string' or type(c.duration_bucket) == 'number')
      and tonumber(c.seconds)) then return false end
  if c.tenant_bucket_key ~= nil and not strings('bucket_key', 'tenant_bucket_key') then
    return false
  end
  return c.retried_key == nil or strings('retried_key', 'function')
end
if ARGV[6] ~= '' and not counts_complete(counts) then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': counts incomplete')
end
for _, value in pairs(new_fields) do
  if type(value) ~= 'string' then
    return redis.error_reply('transition of ' .. ARGV[1] .. ': a field value not a string')
  end
end
if ARGV[5] == '' then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': no index key prefix')
end
local terminal = {}
for i = 14 + 2 * n, #ARGV do terminal[ARGV[i]] = true end
-- A key of another type than the scripts write (planted, or left by another program), or a
-- counter that is not an integer, never fails the transition halfway: each command that could
-- meet one is `tolerant` (it fails alone; the record's own fields are still written).
local function tolerant(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then return nil end
  return reply
end
local current = tolerant('HMGET', KEYS[1], 'status', 'function', 'enqueue_ms') or {}
local status, fn, member = current[1], current[2], nil
-- its index entries' member, as `keys.index_member` writes it (a record missing any of these
-- is not one this service wrote: only its events are written)
if status and fn and tonumber(current[3]) then
  member = string.format('%013d', 9999999999999 - tonumber(current[3])) .. ':' .. ARGV[1]
end
local new_status, prefix = ARGV[2], ARGV[5]
if status and terminal[status] then
  return 0
end
if ARGV[12] ~= '' then
  local holder = tolerant('GET', KEYS[5])
  if holder and holder ~= ARGV[12] then return 0 end
end
if ARGV[11] == '1' then
  local tries = tonumber(tolerant('GET', KEYS[4]))
  if tries and tries > 0 then tolerant('DECR', KEYS[4]) end
end

local fields = {}
for name, value in pairs(new_fields) do
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end
if member then
  if new_status ~= '' and status ~= new_status then
    tolerant('ZREM', prefix .. 'status:' .. status, member)
    tolerant('ZREM', prefix .. 'function:' .. fn .. ':status:' .. status, member)
    tolerant('ZADD', prefix .. 'status:' .. new_status, 0, member)
    tolerant('ZADD', prefix .. 'function:' .. fn .. ':status:' .. new_status, 0, member)
    redis.call('HSET', KEYS[1], 'status', new_status, unpack(fields))
  elseif #fields > 0 then
    redis.call('HSET', KEYS[1], unpack(fields))
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if ARGV[13] == '1' then
  if terminal[new_status] then
    tolerant('ZREM', KEYS[6], ARGV[1])
  elseif member and new_fields.scheduled_ms then  -- (XX: never re-adds a job swept away)
    tolerant('ZADD', KEYS[6], 'XX', new_fields.scheduled_ms, ARGV[1])
  end
end

for i = 0, n - 1 do
  local event = {'type', ARGV[14 + 2 * i], 'job_id', ARGV[1], 'function', fn or '',
                 'data', ARGV[15 + 2 * i]}
  tolerant('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(event))
  tolerant('XADD', KEYS[3], 'MAXLEN', '~', 1000, '*', unpack(event))
end

if member and terminal[new_status] then
  -- The job's events, kept (each entry's data is JSON already: copied as it is).
  local entries, last_progress = {}, 0
  for _, entry in ipairs(tolerant('XRANGE', KEYS[3], '-', '+') or {}) do
    local values = {}
    for i = 1, #entry[2], 2 do values[entry[2][i]] = entry[2][i + 1] end
    entries[#entries + 1] = {entry[1], values.type, values.data}
    if values.type == ARGV[10] then last_progress = #entries end
  end
  local kept = {}
  for i, entry in ipairs(entries) do
    if entry[2] ~= ARGV[10] or i == last_progress then  -- of progress reports, the last
      kept[#kept + 1] = 'e:' .. entry[1]
      kept[#kept + 1] = '[' .. cjson.encode(entry[2] or '') .. ',' .. (entry[3] or 'null') .. ']'
    end
  end
  if #kept > 0 then redis.call('HSET', KEYS[1], unpack(kept)) end
  redis.call('HDEL', KEYS[1], 'scheduled_ms')  -- (shown only while a job waits)
  redis.call('PEXPIRE', KEYS[3], ARGV[8])
else
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end

local c = counts
if c.retried_key then tolerant('HINCRBY', c.retried_key, c['function'], 1) end
if c.bucket_key then
  -- finished-job counters: per 10 s bucket (for /v1/queues) and for Prometheus
  -- (the keys travel in the JSON: a finish is counted under keys named in `keys.py`)
  tolerant('INCR', c.bucket_key)
  redis.call('EXPIRE', c.bucket_key, c.bucket_ttl)
  if c.tenant_bucket_key then
    tolerant('INCR', c.tenant_bucket_key)
    redis.call('EXPIRE', c.tenant_bucket_key, c.bucket_ttl)
  end
  tolerant('HINCRBY', c.finished_key, c.label, 1)
  if c.duration_bucket then
    tolerant('HINCRBY', c.duration_key, c.duration_bucket, 1)
    tolerant('HINCRBYFLOAT', c.duration_key, 'sum', c.seconds)
    tolerant('SADD', c.durations_key, c['function'])
  end
end
return 1
