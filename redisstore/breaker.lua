-- One breaker key's round (redisstore): keep the entry with the highest
-- generation, add the counts of the stored generation, keep the latest
-- pause, drop buckets past their end, and return the record.
--
-- KEYS[1]: the key's record, a hash: e epoch, g generation, s state,
--          u open until (ms; -1: until reset), p paused until (ms),
--          b:<id> a bucket: "end ms,max,min,sum1,sum2,..."
-- KEYS[2]: the keys not closed, a sorted set scored by generation
-- ARGV: key, generation, state, open until, paused until, now (ms), ttl (ms),
--       epoch of a new record, bucket count, then per bucket:
--       id, end, max, min, n, n sums
-- Returns: generation, state, open until, paused until, epoch, note, then
--          per bucket: id, value.
local rec, open = KEYS[1], KEYS[2]
local gen, state = tonumber(ARGV[2]), tonumber(ARGV[3])
local now, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local note = ''

local function int(v) -- v as a non-negative integer, or nil
  local n = tonumber(v)
  if n and n >= 0 and n == math.floor(n) then return n end
  return nil
end
local function fmt(n) return string.format('%.0f', n) end
local function noted(what)
  if note ~= '' then note = note .. '; ' end
  note = note .. what
end

local kind = redis.call('TYPE', rec)['ok']
if kind ~= 'hash' and kind ~= 'none' then
  redis.call('DEL', rec)
  noted('replaced a ' .. kind)
end
local okind = redis.call('TYPE', open)['ok']
if okind ~= 'zset' and okind ~= 'none' then
  redis.call('DEL', open)
  noted('replaced an open set that was a ' .. okind)
end
local cur = redis.call('HMGET', rec, 'e', 'g', 's', 'u', 'p')
local epoch, cg, cs, cu = cur[1], int(cur[2]), int(cur[3]), tonumber(cur[4])
if not epoch then
  if kind == 'hash' then
    redis.call('DEL', rec)
    noted('replaced a hash with no epoch')
  end
  epoch = ARGV[8]
  redis.call('HSET', rec, 'e', epoch)
  cg = nil
elseif cg == nil or cs == nil or cs > 2 or cu == nil then
  if cur[2] or cur[3] or cur[4] then noted('replaced a bad state') end
  cg = nil
end
if cg == nil or gen > cg then
  for _, f in ipairs(redis.call('HKEYS', rec)) do
    if string.sub(f, 1, 2) == 'b:' then redis.call('HDEL', rec, f) end
  end
  redis.call('HSET', rec, 'g', ARGV[2], 's', ARGV[3], 'u', ARGV[4])
  cg, cs, cu = gen, state, tonumber(ARGV[4])
end

local cp = int(cur[5])
if cur[5] and not cp then noted('replaced a bad pause') end
local paused = int(ARGV[5]) or 0
if paused > (cp or 0) or (cur[5] and not cp) then
  redis.call('HSET', rec, 'p', fmt(paused))
  cp = paused
end

if gen == cg then
  local i = 10
  for _ = 1, (int(ARGV[9]) or 0) do
    local f, n = 'b:' .. ARGV[i], int(ARGV[i + 4]) or 0
    local old = {}
    local v = redis.call('HGET', rec, f)
    if v then
      for x in string.gmatch(v, '[^,]+') do old[#old + 1] = int(x) or 0 end
    end
    local new = {math.max(old[1] or 0, int(ARGV[i + 1]) or 0), math.max(old[2] or 0, int(ARGV[i + 2]) or 0), old[3] or 0}
    local mn = int(ARGV[i + 3]) or 0
    if mn > 0 and (new[3] == 0 or mn < new[3]) then new[3] = mn end
    for k = 1, math.max(n, #old - 3) do
      local add = 0
      if k <= n then add = int(ARGV[i + 4 + k]) or 0 end
      new[3 + k] = (old[3 + k] or 0) + add
    end
    for k = 1, #new do new[k] = fmt(new[k]) end
    redis.call('HSET', rec, f, table.concat(new, ','))
    i = i + 5 + n
  end
end

local out = {fmt(cg), fmt(cs), fmt(cu), fmt(cp or 0), epoch, note}
local all = redis.call('HGETALL', rec)
for k = 1, #all, 2 do
  local f, v = all[k], all[k + 1]
  if string.sub(f, 1, 2) == 'b:' then
    local e = tonumber(string.match(v, '^[^,]*'))
    if e == nil or e < now then
      redis.call('HDEL', rec, f)
    else
      out[#out + 1] = string.sub(f, 3)
      out[#out + 1] = v
    end
  end
end
if cs == 0 then
  redis.call('ZREM', open, ARGV[1])
else
  redis.call('ZADD', open, cg, ARGV[1])
end
redis.call('PEXPIRE', rec, ttl)
redis.call('PEXPIRE', open, ttl)
return out
