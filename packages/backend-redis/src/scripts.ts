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
 */
export const SET_STATES = String.raw`
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
