// Lua run atomically inside Redis. Values are Go Machinery's JSON, read here only by pattern (Go's
// field order) with a full decode as the fallback for values written in another order.

/**
 * Writes a batch of task states, each with `SET … EX` in one step. A keeping write (`k`) keeps
 * `TaskName` (when the new one is empty) and `CreatedAt` of the previous value; a replacing write (`r`,
 * PENDING, as Go writes it) does not. A completed state is also published to its channel.
 * KEYS: one state key per entry. ARGV: ttlSeconds, then per entry: mode, core's `TaskStateParts` (head,
 * name as JSON, middle, createdAt as JSON, tail), channel ('' = none); the value stored is
 * `head .. name .. middle .. createdAt .. tail`.
 * The earlier values are read with one `MGET` for the whole batch (a key of another type is told apart
 * from a missing one with `EXISTS`, only where the value came back missing).
 * Returns one entry per key: 1, or the error text of that entry's write (the others still apply).
 *
 * Second layout, for states that replace what is stored and are published nowhere (a producer's
 * PENDING): ARGV: ttlSeconds, `=`, then the whole value per key. Returns the number of keys; a failed
 * `SET` ends the call with its error. One script for both layouts: were a call of another script
 * sent after a write of this one, a `NOSCRIPT` retry of the earlier call could land after it.
 */
export const SET_STATES = String.raw`
if ARGV[2] == '=' then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], ARGV[i + 2], 'EX', ARGV[1])
  end
  return #KEYS
end
local function earlier(old, name, created)
  if not old then return name, created end
  local oc = string.match(old, '"CreatedAt":("[^"\\]*"),"TTL":[-%d.eE+]*}$')
  local on = string.match(old, '^{"TaskUUID":"[^"\\]*","TaskName":("[^"\\]*")')
  if not oc or (name == '""' and not on) then
    local ok, st = pcall(cjson.decode, old)
    if ok and type(st) == 'table' then
      if not oc and type(st.CreatedAt) == 'string' then oc = cjson.encode(st.CreatedAt) end
      if not on and type(st.TaskName) == 'string' then on = cjson.encode(st.TaskName) end
    end
  end
  if oc then created = oc end
  if name == '""' and on then name = on end
  return name, created
end
local function failed(r) return type(r) == 'table' and r.err end
-- The earlier values of every keeping write, read with one MGET (not one GET per task).
local keep = {}
for i = 1, #KEYS do
  if ARGV[2 + (i - 1) * 7] == 'k' then keep[#keep + 1] = KEYS[i] end
end
local read = {}
if #keep > 0 then
  local values = redis.call('MGET', unpack(keep))
  for j = 1, #keep do read[keep[j]] = values[j] end
end
-- What this call already wrote (a PENDING and a later state of one task can share a batch).
local written = {}
local out = {}
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 7
  local name, created = ARGV[a + 2], ARGV[a + 4]
  local err = nil
  if ARGV[a] == 'k' then
    local old = written[KEYS[i]]
    if old == nil then old = read[KEYS[i]] end
    if not old and redis.call('EXISTS', KEYS[i]) == 1 then
      -- MGET reads a key of another type as missing; GET names the error.
      local r = redis.pcall('GET', KEYS[i])
      if failed(r) then err = r.err end
    end
    if not err then name, created = earlier(old, name, created) end
  end
  if not err then
    local value = ARGV[a + 1] .. name .. ARGV[a + 3] .. created .. ARGV[a + 5]
    local r = redis.pcall('SET', KEYS[i], value, 'EX', ARGV[1])
    if failed(r) then
      err = r.err
    else
      written[KEYS[i]] = value
      if ARGV[a + 6] ~= '' then redis.call('PUBLISH', ARGV[a + 6], value) end
    end
  end
  out[i] = err or 1
end
return out
`;

/**
 * Marks a group's chord as triggered, once: sets `ChordTriggered` in the GroupMeta JSON (what Go
 * readers check). Waits (returns -2) while Go Machinery's global chord mutex is held, so a Go worker's
 * read-modify-write cannot interleave. The winner's token is kept beside the group: a replay of the
 * winning call (ioredis resends a command whose reply a broken connection lost) wins again instead of
 * finding the chord triggered and dropping its callback.
 * KEYS: group meta, Go mutex, trigger token. ARGV: ttlSeconds, token.
 * Returns 1 (this caller triggers), 0 (already triggered), -1 (no group), -2 (mutex held), -3 (no flag).
 */
export const TRIGGER_CHORD = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
local meta = redis.call('GET', KEYS[1])
if not meta then return -1 end
if string.find(meta, '"ChordTriggered"%s*:%s*true') then
  if redis.call('GET', KEYS[3]) == ARGV[2] then return 1 end
  return 0
end
local s, e = string.find(meta, '"ChordTriggered"%s*:%s*false')
if not s then return -3 end
redis.call('SET', KEYS[1], string.sub(meta, 1, s - 1) .. '"ChordTriggered":true' .. string.sub(meta, e + 1), 'EX', ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[1])
return 1
`;

/**
 * Takes a lock for a token unless another token holds it. A replay of the call that took it (a resend
 * after a lost reply) finds its own token and still succeeds. KEYS: lock. ARGV: token, ttlMs.
 * Returns 1 (taken) or 0 (held by another).
 */
export const ACQUIRE_LOCK = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return 1 end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Deletes a lock only while it still holds the caller's token. KEYS: lock. ARGV: token. */
export const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

// Flow control. Times come from the Redis server's clock (TIME), so that workers on hosts with skewed
// clocks share one pace. Writes after TIME are replicated as effects (the default since Redis 5).
const NOW_MS = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`;

/**
 * A sliding-window rate limit with a paced wait line, for the asks of one tick on one limit key (one
 * call answers them all, in order, as if made one after the other). KEYS: the key's log of starts (a
 * sorted set by time), the end of its wait line, then each ask's wake-up time. ARGV: max, perMs, graceMs
 * (how long a wake-up time outlives itself), then per ask: uuid, startWithinMs, withdrawMs (or '').
 * Returns one wait per ask. A task asking before its wake-up time gets the ms left. Otherwise starts
 * older than the window are dropped, and with withdrawMs the task's latest start admitted within it (one
 * it did not use) too; with fewer than max left the start is logged at the latest moment it may begin
 * (now + startWithinMs) and 0 is its answer; else the task is given the later of the time the window has
 * room and the end of the line, the line moves on by (perMs + startWithinMs) / max, and the ms until
 * then are its answer.
 */
export const ACQUIRE_RATE = `${NOW_MS}
local max = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local waits = {}
local trimmed = false
local logged = false
for i = 1, #KEYS - 2 do
  local wake_key = KEYS[2 + i]
  local uuid = ARGV[3 * i + 1]
  local margin = tonumber(ARGV[3 * i + 2])
  local withdraw = ARGV[3 * i + 3]
  local wake = redis.call('GET', wake_key)
  if wake and now < tonumber(wake) then
    waits[i] = math.ceil(tonumber(wake) - now)
  else
    if not trimmed then
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.3f', now - per))
      trimmed = true
    end
    if withdraw ~= '' then
      local recent = redis.call('ZRANGEBYSCORE', KEYS[1], string.format('%.3f', now - tonumber(withdraw)), '+inf')
      local suffix = ':' .. uuid
      for j = #recent, 1, -1 do
        if string.sub(recent[j], -#suffix) == suffix then
          redis.call('ZREM', KEYS[1], recent[j])
          break
        end
      end
    end
    if redis.call('ZCARD', KEYS[1]) < max then
      local at = string.format('%.3f', now + margin)
      redis.call('ZADD', KEYS[1], at, at .. ':' .. uuid)
      if wake then redis.call('DEL', wake_key) end
      logged = true
      waits[i] = 0
    else
      local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
      local at = tonumber(oldest[2]) + per
      local line = tonumber(redis.call('GET', KEYS[2]) or '0')
      if line > at then at = line end
      local next_line = at + (per + margin) / max
      redis.call('SET', KEYS[2], string.format('%.3f', next_line), 'PX', math.ceil(next_line - now) + 1000)
      redis.call('SET', wake_key, string.format('%.3f', at), 'PX', math.ceil(at - now + grace))
      local wait = math.ceil(at - now)
      if wait < 1 then wait = 1 end
      waits[i] = wait
    end
  end
end
if logged then
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(last[2]) - now + per) + 1000)
end
return waits
`;

/**
 * Takes a concurrency slot. KEYS: the key's holders (a sorted set by lease deadline). ARGV: holder,
 * max, leaseMs. Expired holders are dropped first; a holder that holds a slot keeps it. The set expires
 * with its last lease. Returns 1 (taken) or 0 (every slot held).
 */
export const ACQUIRE_SLOT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(last[2]) - now) + 1000)
return 1
`;

/**
 * Extends a holder's lease. KEYS: the key's holders. ARGV: holder, leaseMs. Returns 1, or 0 when the
 * holder's lease had lapsed (its slot may be someone else's now).
 */
export const RENEW_SLOT = `${NOW_MS}
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline or tonumber(deadline) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(last[2]) - now) + 1000)
return 1
`;

/**
 * Claims a unique key. KEYS: the claim. ARGV: uuid, ttlMs. Returns the UUID holding the claim (the
 * caller's when it was free; a replay of the call that took it finds its own UUID).
 */
export const CLAIM_UNIQUE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1])
`;

/** Drops a unique claim only while the caller's UUID holds it. KEYS: the claim. ARGV: uuid. */
export const RELEASE_UNIQUE = RELEASE_LOCK;
