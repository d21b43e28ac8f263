-- One fleet budget's round (redisstore): refill the bucket by the floor
-- since the last round, add the deposit, grant up to the tokens wanted.
-- Amounts are in millionths of a token.
--
-- KEYS[1]: the budget's record, a hash: t tokens, l last refill (ms)
-- ARGV: deposit, want, floor per second, max, ttl (ms)
-- Returns: granted, tokens left, note.
local rec, ttl = KEYS[1], tonumber(ARGV[5])
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
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local deposit, want = int(ARGV[1]) or 0, int(ARGV[2]) or 0
local floor, max = int(ARGV[3]) or 0, int(ARGV[4]) or 0

local cur = redis.call('HMGET', rec, 't', 'l')
local t, l = int(cur[1]), int(cur[2])
if t == nil or l == nil then
  if cur[1] or cur[2] then noted('replaced a bad bucket') end
  t, l = floor, now -- a new bucket holds one second of floor
end
if now > l then
  t = math.min(t + math.floor((now - l) * floor / 1000), max)
  l = now
end
t = math.min(t + deposit, max)
local grant = math.min(t, want)
t = t - grant
redis.call('HSET', rec, 't', fmt(t), 'l', fmt(l))
redis.call('PEXPIRE', rec, ttl)
return {fmt(grant), fmt(t), note}
