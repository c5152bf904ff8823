"""The Lua scripts of the Redis cache store (`app.cache.redis_store`), each one atomic step
and one round trip. Keys are named by the store; see it for what each is."""

# KEYS: entry, freshness marker, lock, failure marker, tenant state; ARGV: lock lifetime (ms).
CLAIM = """
local value = redis.call('GET', KEYS[1])
local state = redis.call('HMGET', KEYS[5], 'seq', 'gen')
local seq, gen = state[1] or '0', state[2] or '0'
if value and redis.call('EXISTS', KEYS[2]) == 1 then return {'fresh', value, seq, gen, ''} end
local failed = redis.call('GET', KEYS[4])
if failed then return {'failed', value or '', seq, gen, failed} end
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[1]) then
  return {'lock', value or '', seq, gen, ''}
end
return {'busy', value or '', seq, gen, ''}
"""

# KEYS: entry, freshness marker, lock, failure marker, tenant state; ARGV: packed entry, keep
# (ms), fresh (ms), tag-set prefix, the cache key, the sequence claimed under, tag-mark prefix,
# then the entry's tags. Returns 1 if stored, 0 if a tag was invalidated since the claim.
FILL = """
redis.call('DEL', KEYS[3])
local claimed = tonumber(ARGV[6])
if tonumber(redis.call('HGET', KEYS[5], 'seq') or '0') > claimed then
  for i = 8, #ARGV do
    local mark = redis.call('GET', ARGV[7] .. ARGV[i])
    if mark and tonumber(mark) > claimed then return 0 end
  end
end
local keep = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', keep)
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[3]) end
for i = 8, #ARGV do
  local tag = ARGV[4] .. ARGV[i]
  redis.call('SADD', tag, ARGV[5])
  if redis.call('PTTL', tag) < keep then redis.call('PEXPIRE', tag, keep) end
end
redis.call('DEL', KEYS[4])
return 1
"""

# KEYS: lock, failure marker; ARGV: the failure, its lifetime (ms).
FAIL = """
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: tenant state; ARGV: tag-set prefix, tag-mark prefix, mark lifetime (ms), entry prefix,
# 1 if the tenant's `all` is among the tags, then the tags. Returns the keys dropped.
INVALIDATE = """
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if ARGV[5] == '1' then redis.call('HINCRBY', KEYS[1], 'gen', 1) end
local doomed, seen = {}, {}
for i = 6, #ARGV do
  redis.call('SET', ARGV[2] .. ARGV[i], seq, 'PX', ARGV[3])
  for _, key in ipairs(redis.call('SMEMBERS', ARGV[1] .. ARGV[i])) do
    if not seen[key] then
      seen[key] = true
      doomed[#doomed + 1] = key
    end
  end
  redis.call('DEL', ARGV[1] .. ARGV[i])
end
for _, key in ipairs(doomed) do
  redis.call('DEL', ARGV[4] .. key, ARGV[4] .. 'fresh:' .. key)
end
return doomed
"""
