#!lua flags=allow-oom
-- A worker's periodic call: it is alive (its alive key lives another liveness window, on
-- Redis's clock: no two hosts' clocks are compared), its leases are renewed (each in-progress
-- key it still holds lives another lease; its lease set forgets the keys it no longer holds),
-- and the leases of workers that are not alive are released: each key in a gone worker's
-- lease set that still holds its id is deleted, so that any worker can run the job again now
-- rather than when the lease runs out.
-- Only a worker whose calls Redis has seen promptly (at most the given gap apart) for a whole
-- liveness window judges the others, as Redis saw it: after an outage, a stall of Redis or a
-- jump of its clock, every worker's alive key may have run out, and each needs that long to
-- refresh its own. (The alive key's value is when, on Redis's clock, its prompt calls began.)
-- Allowed when Redis is full (it moves expiry times, deletes, and writes a few tiny keys): a
-- worker riding out a full Redis must not lose the jobs it is running.
-- KEYS: 1 the worker's lease set, 2 its alive key, 3 the set of workers holding leases, then
--       the in-progress keys of the jobs it runs
-- ARGV: 1 the worker's id, 2 the lease (ms), 3 the liveness window (ms), 4 the longest gap
--       between prompt calls (ms), 5 the alive key prefix, 6 the lease set prefix
-- Returns {leases renewed, {the in-progress keys of its jobs another worker holds now},
--          {per lease released: the gone worker's id, the in-progress key}}
local function positive_integer(value)  -- as Redis reads one: digits only, no sign or point
  if type(value) == 'number' then return value >= 1 and value == math.floor(value) end
  return type(value) == 'string' and string.match(value, '^[1-9]%d*$') ~= nil
end
if not positive_integer(ARGV[2]) or not positive_integer(ARGV[3])
    or not positive_integer(ARGV[4]) or ARGV[1] == '' or ARGV[5] == '' or ARGV[6] == '' then
  return redis.error_reply('renew: the worker id, lease, liveness window, gap or a prefix is '
    .. 'missing')
end
local me, lease, window, gap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- A key's value if it is a string (a key of another type, planted or left by another program,
-- must not fail the call after its first write, every tick).
local function value_of(key)
  if redis.call('TYPE', key).ok == 'string' then return redis.call('GET', key) end
  return nil
end
for _, key in ipairs({KEYS[1], KEYS[3]}) do
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'set' and kind ~= 'none' then
    return redis.error_reply('renew: ' .. key .. ' is a ' .. kind .. ', not a set')
  end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local since = now
local left = redis.call('PTTL', KEYS[2])
if left > 0 and window - left <= gap then
  local began = tonumber(value_of(KEYS[2]))  -- (only a time Redis could have written)
  if began and began >= 1 and began <= now and began == math.floor(began) then since = began end
end
redis.call('SET', KEYS[2], string.format('%d', since), 'PX', window)
redis.call('SADD', KEYS[3], me)
local renewed, lost, released = 0, {}, {}
for i = 4, #KEYS do
  local holder = value_of(KEYS[i])
  if holder == me then
    redis.call('PEXPIRE', KEYS[i], lease)
    renewed = renewed + 1
  elseif holder then  -- (a missing key: the job has just ended, or its lease ran out)
    lost[#lost + 1] = KEYS[i]
  end
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if value_of(key) ~= me then redis.call('SREM', KEYS[1], key) end
end
redis.call('PEXPIRE', KEYS[1], 2 * lease)
if now - since >= window then
  for _, worker in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    if worker ~= me and redis.call('EXISTS', ARGV[5] .. worker) == 0 then
      local leases = ARGV[6] .. worker
      local held = {}
      if redis.call('TYPE', leases).ok == 'set' then held = redis.call('SMEMBERS', leases) end
      for _, key in ipairs(held) do
        if value_of(key) == worker then
          redis.call('DEL', key)
          released[#released + 1] = worker
          released[#released + 1] = key
        end
      end
      redis.call('DEL', leases)
      redis.call('SREM', KEYS[3], worker)
    end
  end
end
return {renewed, lost, released}
