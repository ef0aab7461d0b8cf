-- Record one transition of a job: move its index entries to the new status, update its record,
-- and append the event to the global and the job's own stream. A job with no record (enqueued
-- around the service) only gets its events.
-- KEYS: 1 record, 2 events, 3 job events
-- ARGV: 1 job id, 2 new stored status ('' = unchanged), 3 history TTL (ms), 4 events max length,
--       5 event type, 6 event JSON, 7 index key prefix, 8.. record field/value pairs
local current = redis.call('HMGET', KEYS[1], 'status', 'function', 'index_member')
local status, fn, member = current[1], current[2], current[3]
local new_status, prefix = ARGV[2], ARGV[7]

if member then
  if new_status ~= '' and status ~= new_status then
    redis.call('ZREM', prefix .. 'status:' .. status, member)
    redis.call('ZREM', prefix .. 'function:' .. fn .. ':status:' .. status, member)
    local to = {prefix .. 'status:' .. new_status, prefix .. 'function:' .. fn .. ':status:' .. new_status}
    for _, key in ipairs(to) do redis.call('ZADD', key, 0, member) end
    redis.call('SADD', prefix .. 'keys', unpack(to))
    redis.call('HSET', KEYS[1], 'status', new_status)
  end
  if #ARGV > 7 then redis.call('HSET', KEYS[1], unpack(ARGV, 8)) end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end

local event = {'type', ARGV[5], 'job_id', ARGV[1], 'function', fn or '', 'data', ARGV[6]}
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(event))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 1000, '*', unpack(event))
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
