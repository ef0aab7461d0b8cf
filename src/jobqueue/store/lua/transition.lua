#!lua
-- Record a job's transition(s): move its index entries to the new status, update its record,
-- append the events to the global and the job's own stream, and (for a job's end) count it.
-- Several events may be given (a short job's `started` travels with its end).
-- A job with no record (enqueued around the service) only gets its events and counts.
-- A finished job never goes back to waiting or in progress: such a late write is dropped.
-- KEYS: 1 record, 2 events, 3 job events
-- ARGV: 1 job id, 2 new stored status ('' = unchanged), 3 history TTL (ms), 4 events max length,
--       5 index key prefix, 6 counts JSON, naming its keys ('' = none), 7 record fields as a
--       JSON object of strings ('' = none; one argument is cheaper than many), 8 events N,
--       then N pairs (event type, event JSON), then the terminal statuses
-- Every argument is checked before the first write (a script does not roll back).
local function positive_integer(value)
  local number = tonumber(value)
  return number ~= nil and number >= 1 and number == math.floor(number)
end
local function json_or_empty(value)
  if value == '' then return true, {} end
  local decoded, object = pcall(cjson.decode, value)
  return decoded and type(object) == 'table', object
end
local n = tonumber(ARGV[8])
if not positive_integer(ARGV[3]) or not positive_integer(ARGV[4]) then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': TTL or max length not positive')
end
if not n or n < 0 or #ARGV < 8 + 2 * n then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': events missing')
end
local counts_ok, counts = json_or_empty(ARGV[6])
local fields_ok, new_fields = json_or_empty(ARGV[7])
if not counts_ok or not fields_ok then
  return redis.error_reply('transition of ' .. ARGV[1] .. ': counts or fields not JSON objects')
end
local terminal = {}
for i = 9 + 2 * n, #ARGV do terminal[ARGV[i]] = true end
local current = redis.call('HMGET', KEYS[1], 'status', 'function', 'index_member')
local status, fn, member = current[1], current[2], current[3]
local new_status, prefix = ARGV[2], ARGV[5]
if status and terminal[status] and new_status ~= '' and not terminal[new_status] then
  return 0
end

local fields = {}
for name, value in pairs(new_fields) do
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end
if member then
  if new_status ~= '' and status ~= new_status then
    redis.call('ZREM', prefix .. 'status:' .. status, member)
    redis.call('ZREM', prefix .. 'function:' .. fn .. ':status:' .. status, member)
    redis.call('ZADD', prefix .. 'status:' .. new_status, 0, member)
    redis.call('ZADD', prefix .. 'function:' .. fn .. ':status:' .. new_status, 0, member)
    redis.call('HSET', KEYS[1], 'status', new_status, unpack(fields))
  elseif #fields > 0 then
    redis.call('HSET', KEYS[1], unpack(fields))
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end

for i = 0, n - 1 do
  local event = {'type', ARGV[9 + 2 * i], 'job_id', ARGV[1], 'function', fn or '',
                 'data', ARGV[10 + 2 * i]}
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(event))
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', 1000, '*', unpack(event))
end
redis.call('PEXPIRE', KEYS[3], ARGV[3])

if ARGV[6] ~= '' then
  -- finished-job counters: per 10 s bucket (for /v1/queues) and for Prometheus
  -- (the keys travel in the JSON: a finish is counted under keys named in `keys.py`)
  local c = counts
  redis.call('INCR', c.bucket_key)
  redis.call('EXPIRE', c.bucket_key, c.bucket_ttl)
  redis.call('HINCRBY', c.finished_key, c.label, 1)
  if c.duration_bucket then
    redis.call('HINCRBY', c.duration_key, c.duration_bucket, 1)
    redis.call('HINCRBYFLOAT', c.duration_key, 'sum', c.seconds)
    redis.call('SADD', c.durations_key, c['function'])
  end
end
return 1
