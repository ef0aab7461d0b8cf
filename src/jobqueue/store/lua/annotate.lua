#!lua
-- Set one field of a job's record, if the record still exists (one that has expired stays
-- gone: an HSET would bring it back as a key without a time to live).
-- KEYS[1]: the record; ARGV[1]: the field; ARGV[2]: its value.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
