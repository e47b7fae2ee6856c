// Lua run atomically inside Redis. Every state change of a task is one script, so a worker that dies
// at any point leaves each task either in its queue, in a lease, or in the delayed set — never nowhere.
//
// Shared layout of KEYS for the queue scripts: 1 queue list, 2 leases (token → deadline), 3 inflight
// (token → "<attempt>:<body>"), 4 attempts (sha1(body) → deliveries so far), 5 a staging list
// (claim/settle) or the consumers set (reap). Lease deadlines use the Redis server's clock (TIME), so
// clock skew between worker hosts cannot expire a lease early. Delayed-task scores are the producer's
// clock in Unix nanoseconds, as Go Machinery writes them.
//
// Priorities (option maxPriority > 0): a task of priority p ≥ 1 waits in its own list, and the queue
// scripts get those lists as extra KEYS after their fixed ones, highest priority first — so with L
// levels the list of priority p is KEYS[#KEYS + 1 - p]. Priority 0 stays on the queue list, Go's key.
// Without priorities there are no extra KEYS and every loop over them runs zero times. A task leased
// from a priority list is recorded in inflight as "<attempt>/<priority>:<body>", so a requeue, a delay
// or an expired lease puts it back on the list it came from.

const NOW_MS = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// A requeued body keeps its delivery count under its SHA-1: the next claim of the same body continues
// from it. The hash expires a week after its last write, so counts of bodies that a Go worker consumed
// (and never reported back) do not pile up forever.
// "<attempt>[/<priority>]:<body>" → attempt, priority (0 for the queue list), body.
const INFLIGHT = `
local function inflight(v)
  local p = string.find(v, ':', 1, true)
  local head = string.sub(v, 1, p - 1)
  local s = string.find(head, '/', 1, true)
  if s then
    return tonumber(string.sub(head, 1, s - 1)), tonumber(string.sub(head, s + 1)), string.sub(v, p + 1)
  end
  return tonumber(head), 0, string.sub(v, p + 1)
end

-- The list a task of priority prio waits in, given that the priority lists start at KEYS[first]
-- (highest first); a priority above the highest level is the highest level, as in RabbitMQ.
local function listOf(prio, first)
  local levels = #KEYS - first + 1
  if prio <= 0 or levels <= 0 then return KEYS[1] end
  if prio > levels then prio = levels end
  return KEYS[#KEYS + 1 - prio]
end
`;

const REMEMBER = `
local function remember(body, attempt)
  if attempt > 0 then
    redis.call('HSET', KEYS[4], redis.sha1hex(body), attempt)
    redis.call('EXPIRE', KEYS[4], 604800)
  end
end
`;

// Takes up to n bodies — first from this consumer's staging list (what its blocking BLMOVE moved),
// then from the queue head — and leases each under a fresh token (prefix .. start + i - 1). Returns
// {index, attempt, body, …}, index counting from start. With onlyStaged, nothing is taken unless the
// staging list holds something (after a BLMOVE that timed out or was interrupted).
//
// A claim can run twice: ioredis resends a command whose reply a broken connection lost, and the
// client only ever sees the second run's reply. Leasing new bodies under the same tokens would
// overwrite the first run's and lose them; so when a token of the range is already leased, this is
// a replay, and it hands back what the first run leased (still under its tokens) instead.
const CLAIM_FN = `
local function claim(n, leaseMs, prefix, start, onlyStaged, firstLevel)
  local out = {}
  if n <= 0 then return out end
  local tokens = {}
  for i = 1, n do tokens[i] = prefix .. (start + i - 1) end
  local before = redis.call('HMGET', KEYS[3], unpack(tokens))
  for i = 1, n do
    local v = before[i]
    if v then
      local attempt, _, body = inflight(v)
      out[#out + 1] = i - 1
      out[#out + 1] = attempt
      out[#out + 1] = body
    end
  end
  if #out > 0 then return out end
  local items = {}
  local prios = nil
  if firstLevel <= #KEYS then
    -- Strict priority: the priority lists, highest first, then what BLMOVE staged (a priority-0
    -- task), then the queue. A staged task a full batch leaves behind stays staged for the next claim.
    if onlyStaged and redis.call('LLEN', KEYS[5]) == 0 then return out end
    prios = {}
    for k = firstLevel, #KEYS do
      local want = n - #items
      if want <= 0 then break end
      local popped = redis.call('LPOP', KEYS[k], want)
      if popped then
        for i = 1, #popped do
          items[#items + 1] = popped[i]
          prios[#items] = #KEYS + 1 - k
        end
      end
    end
    if n > #items then
      local staged = redis.call('LPOP', KEYS[5], n - #items)
      if staged then
        for i = 1, #staged do items[#items + 1] = staged[i] end
      end
    end
  else
    local staged = redis.call('LPOP', KEYS[5], n)
    if staged then
      items = staged
    elseif onlyStaged then
      return out
    end
  end
  local more = n - #items
  if more > 0 then
    local popped = redis.call('LPOP', KEYS[1], more)
    if popped then
      for i = 1, #popped do items[#items + 1] = popped[i] end
    end
  end
  if #items == 0 then return out end
  local deadline = nowMs() + leaseMs
  local counted = redis.call('EXISTS', KEYS[4]) == 1
  local fields, scores = {}, {}
  for i = 1, #items do
    local body = items[i]
    local attempt = 1
    if counted then
      local h = redis.sha1hex(body)
      local c = redis.call('HGET', KEYS[4], h)
      if c then
        attempt = tonumber(c) + 1
        redis.call('HDEL', KEYS[4], h)
      end
    end
    fields[2 * i - 1] = tokens[i]
    local prio = prios and prios[i]
    if prio then
      fields[2 * i] = attempt .. '/' .. prio .. ':' .. body
    else
      fields[2 * i] = attempt .. ':' .. body
    end
    scores[2 * i - 1] = deadline
    scores[2 * i] = tokens[i]
    out[3 * i - 2] = i - 1
    out[3 * i - 1] = attempt
    out[3 * i] = body
  end
  redis.call('HSET', KEYS[3], unpack(fields))
  redis.call('ZADD', KEYS[2], unpack(scores))
  return out
end
`;

/**
 * Claims up to `n` tasks. KEYS: queue, leases, inflight, attempts, staging, priority lists (highest
 * first)…. ARGV: n, leaseMs, tokenPrefix, tokenStart, onlyStaged ('1' | '0'). Returns `{index, attempt, body, …}`.
 */
export const CLAIM = `${NOW_MS}${INFLIGHT}${CLAIM_FN}
return claim(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1', 6)
`;

/**
 * Settles a batch of deliveries and claims the next tasks in the same round trip.
 * KEYS: queue, leases, inflight, attempts, staging, delayed, dead, priority lists (highest first)….
 * ARGV: nOps, queueName, then per op (kind, token, detail), then claimN, leaseMs, tokenPrefix,
 * tokenStart, and with priority lists the channel to ring when a task goes back on one of them.
 * Kinds (the consumer's `Settlement`s): `a` ack; `r` requeue at the head; `l` release (requeue at the
 * head, not counted as a delivery); `d` delay (detail = score in Unix ns); `x` dead-letter (detail =
 * reason). An op applies only while its
 * token still holds the lease — a stale worker's settle is refused (fencing), and a replayed settle
 * applies nothing twice. From three operations on, leases are looked up with one `ZMSCORE` and
 * acknowledgements removed with one `ZREM` and one `HDEL`: three commands per call, not two per task. Returns `{{ok, …}, {index, attempt, body, …}}`.
 */
export const SETTLE = `${NOW_MS}${INFLIGHT}${REMEMBER}${CLAIM_FN}
local nOps = tonumber(ARGV[1])
local flags = {}
local at = nil
-- From three operations on, one ZMSCORE, ZREM and HDEL for the batch cost fewer commands than a ZREM
-- and an HDEL each.
local batched = nOps > 2
local held = {}
if batched then
  local tokens = {}
  for i = 0, nOps - 1 do tokens[i + 1] = ARGV[4 + 3 * i] end
  held = redis.call('ZMSCORE', KEYS[2], unpack(tokens))
end
local acked = {}
local ring = false
for i = 0, nOps - 1 do
  local kind, token, detail = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i]
  local ok = 0
  local holds
  if batched then holds = held[i + 1] else holds = redis.call('ZREM', KEYS[2], token) == 1 end
  if holds then
    ok = 1
    if kind == 'a' then
      acked[#acked + 1] = token
    else
      if batched then redis.call('ZREM', KEYS[2], token) end
      local v = redis.call('HGET', KEYS[3], token)
      redis.call('HDEL', KEYS[3], token)
      if v then
        local attempt, prio, body = inflight(v)
        if kind == 'r' or kind == 'l' then
          redis.call('LPUSH', listOf(prio, 8), body)
          if kind == 'r' then remember(body, attempt) else remember(body, attempt - 1) end
          if prio > 0 then ring = true end
        elseif kind == 'd' then
          redis.call('ZADD', KEYS[6], detail, body)
          remember(body, attempt)
        else
          at = at or nowMs()
          redis.call('RPUSH', KEYS[7], cjson.encode({queue = ARGV[2], reason = detail, at = at, body = body}))
        end
      end
    end
  end
  flags[i + 1] = ok
end
if #acked > 0 then
  if batched then redis.call('ZREM', KEYS[2], unpack(acked)) end
  redis.call('HDEL', KEYS[3], unpack(acked))
end
local base = 3 + 3 * nOps
if ring then redis.call('PUBLISH', ARGV[base + 4], '1') end
local claimed = claim(tonumber(ARGV[base]), tonumber(ARGV[base + 1]), ARGV[base + 2], tonumber(ARGV[base + 3]), false, 8)
return {flags, claimed}
`;

/**
 * Extends every lease a consumer holds (never shortens one) and refreshes its heartbeat.
 * KEYS: leases, consumers. ARGV: leaseMs, consumerId, token…
 */
export const RENEW = `${NOW_MS}
local deadline = nowMs() + tonumber(ARGV[1])
redis.call('ZADD', KEYS[2], deadline, ARGV[2])
local i = 3
while i <= #ARGV do
  local last = math.min(#ARGV, i + 999)
  local args = {'XX', 'GT'}
  for j = i, last do
    args[#args + 1] = deadline
    args[#args + 1] = ARGV[j]
  end
  redis.call('ZADD', KEYS[1], unpack(args))
  i = last + 1
end
return 1
`;

/** Extends one lease if its token still holds it. KEYS: leases. ARGV: ms, token. Returns 1 or 0. */
export const EXTEND = `${NOW_MS}
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', 'GT', nowMs() + tonumber(ARGV[1]), ARGV[2])
return 1
`;

/**
 * Returns expired leases to the head of their queue (their delivery count kept), and the staging
 * lists of consumers whose heartbeat stopped. Safe to run from every consumer at once.
 * KEYS: queue, leases, inflight, attempts, consumers, priority lists (highest first)….
 * ARGV: limit, stagingPrefix, and with priority lists the channel to ring when a task goes back on one.
 * Returns `{reaped, earliestDeadline | -1, now}`.
 */
export const REAP = `${NOW_MS}${INFLIGHT}${REMEMBER}
local now = nowMs()
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local ring = false
for i = #expired, 1, -1 do
  local token = expired[i]
  local v = redis.call('HGET', KEYS[3], token)
  if v then
    local attempt, prio, body = inflight(v)
    redis.call('LPUSH', listOf(prio, 6), body)
    remember(body, attempt)
    if prio > 0 then ring = true end
  end
  redis.call('ZREM', KEYS[2], token)
  redis.call('HDEL', KEYS[3], token)
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  local staging = ARGV[2] .. dead[i]
  while redis.call('LMOVE', staging, KEYS[1], 'RIGHT', 'LEFT') do end
  redis.call('ZREM', KEYS[5], dead[i])
end
if ring then redis.call('PUBLISH', ARGV[3], '1') end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {#expired, first[2] or -1, now}
`;

/** A stopping consumer hands back its staging list and leaves. KEYS: queue, consumers, staging. ARGV: consumerId. */
export const UNSTAGE = `
while redis.call('LMOVE', KEYS[3], KEYS[1], 'RIGHT', 'LEFT') do end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

// The RoutingKey of a task message: read from Go's field order by pattern (cheap), else by decoding
// the JSON; '' when it is empty or null, nil when the body is not a Machinery message.
const ROUTING_KEY = String.raw`
local function routingKey(body)
  local rk = string.match(body, '^{"UUID":"[^"\\]*","Name":"[^"\\]*","RoutingKey":"([^"\\]*)"')
  if rk then return rk end
  local ok, msg = pcall(cjson.decode, body)
  if ok and type(msg) == 'table' then
    local r = msg['RoutingKey']
    if type(r) == 'string' then return r end
    if r == nil or r == cjson.null then return '' end
  end
  return nil
end
`;

// Where a task body goes on the queue named `list` (prefix included): with maxPriority > 0 and a
// Priority of 1 or more in the body, the list of its priority (at most maxPriority) — the names are
// keys.ts's — and the channel to ring; otherwise the queue list itself and no channel. Only brokers
// with priorities pay for decoding the JSON.
const TARGET = `
local function target(list, body, maxPriority)
  if maxPriority > 0 then
    local ok, msg = pcall(cjson.decode, body)
    if ok and type(msg) == 'table' and type(msg['Priority']) == 'number' and msg['Priority'] >= 1 then
      return list .. ':priority:' .. math.min(math.floor(msg['Priority']), maxPriority), list .. ':bell'
    end
  end
  return list, nil
end
`;

/**
 * Moves every due delayed task (up to `limit` per call) to the list of its own RoutingKey — or of its
 * priority, with `maxPriority` > 0 — in ETA order. The RoutingKey is read from Go's field order by
 * pattern, else by decoding the JSON; a member that is not a Machinery message is dead-lettered
 * rather than left to block the set.
 * KEYS: delayed, dead. ARGV: nowNs, prefix, defaultQueue, limit, maxPriority.
 * Returns `{moved, earliestScore | -1}`.
 */
export const MOVE_DUE = `${NOW_MS}${ROUTING_KEY}${TARGET}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local maxPriority = tonumber(ARGV[5] or '0')
local at = nil
local bells = {}
for i = 1, #due do
  local body = due[i]
  local rk = routingKey(body)
  if rk then
    if rk == '' then rk = ARGV[3] end
    local list, bell = target(ARGV[2] .. rk, body, maxPriority)
    redis.call('RPUSH', list, body)
    if bell then bells[bell] = true end
  else
    at = at or nowMs()
    redis.call('RPUSH', KEYS[2], cjson.encode({queue = ARGV[3], at = at, body = body,
      reason = 'Delayed member is not a Machinery task message (no readable RoutingKey)'}))
  end
end
local i = 1
while i <= #due do
  local last = math.min(#due, i + 999)
  redis.call('ZREM', KEYS[1], unpack(due, i, last))
  i = last + 1
end
for bell in pairs(bells) do redis.call('PUBLISH', bell, '1') end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, first[2] or -1}
`;

/**
 * Publishes a batch all-or-none: checks every key's type first, then pushes. KEYS: delayed, list…
 * (a queue or one of its priority lists). ARGV: count per list…, nDelayed, bodies of list 1…, bodies
 * of list 2…, …, (score, body)…, then the channels to ring (those of priority lists).
 */
export const PUBLISH_MANY = `
for i = 1, #KEYS do
  local t = redis.call('TYPE', KEYS[i])['ok']
  local want = 'list'
  if i == 1 then want = 'zset' end
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds a ' .. t .. ', not a ' .. want .. '; nothing was published')
  end
end
local nq = #KEYS - 1
local pos = nq + 2
for q = 1, nq do
  local last = pos + tonumber(ARGV[q]) - 1
  while pos <= last do
    local stop = math.min(last, pos + 3999)
    redis.call('RPUSH', KEYS[q + 1], unpack(ARGV, pos, stop))
    pos = stop + 1
  end
end
local last = pos + 2 * tonumber(ARGV[nq + 1]) - 1
while pos <= last do
  local stop = math.min(last, pos + 3999)
  redis.call('ZADD', KEYS[1], unpack(ARGV, pos, stop))
  pos = stop + 1
end
for i = last + 1, #ARGV do redis.call('PUBLISH', ARGV[i], '1') end
return 1
`;

/**
 * Appends tasks to a priority list and rings its queue's channel, so that an idle consumer blocked
 * on the queue list hears of them. KEYS: list. ARGV: channel, body….
 */
export const PUSH_RING = `
for i = 2, #ARGV, 4000 do
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(#ARGV, i + 3999)))
end
redis.call('PUBLISH', ARGV[1], '1')
return 1
`;

/**
 * Moves dead letters back to the tail of their queues (of their priority lists, with `maxPriority` >
 * 0), oldest first. KEYS: dead. ARGV: limit, prefix, defaultQueue, maxPriority. An entry that is not
 * ours is kept at the end of the list. Returns how many moved.
 */
export const REQUEUE_DEAD = `${TARGET}
local limit = math.min(tonumber(ARGV[1]), redis.call('LLEN', KEYS[1]))
local maxPriority = tonumber(ARGV[4] or '0')
local bells = {}
local moved = 0
for i = 1, limit do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then break end
  local ok, d = pcall(cjson.decode, entry)
  if ok and type(d) == 'table' and type(d.body) == 'string' then
    local q = d.queue
    if type(q) ~= 'string' or q == '' then q = ARGV[3] end
    local list, bell = target(ARGV[2] .. q, d.body, maxPriority)
    redis.call('RPUSH', list, d.body)
    if bell then bells[bell] = true end
    moved = moved + 1
  else
    redis.call('RPUSH', KEYS[1], entry)
  end
end
for bell in pairs(bells) do redis.call('PUBLISH', bell, '1') end
return moved
`;

/**
 * Removes, from one queue, its waiting tasks (the list), its delayed tasks (members of the delayed
 * set whose RoutingKey names it; empty means the default queue) and its dead letters, as selected.
 * Leased and staged tasks live under other keys and stay. One script: atomic, and O(delayed set +
 * dead letters) when those parts are asked for.
 * KEYS: queue, delayed, dead, priority lists…. ARGV: pending, delayed, dead ('1' | '0'), queue name,
 * defaultQueue. Returns `{pending, delayed, deadLetters}` removed.
 */
export const PURGE = `${ROUTING_KEY}
local queue, defaultQueue = ARGV[4], ARGV[5]
local pending, delayed, dead = 0, 0, 0
if ARGV[1] == '1' then
  for k = 1, #KEYS do
    if k == 1 or k > 3 then
      local n = redis.call('LLEN', KEYS[k])
      if n > 0 then redis.call('DEL', KEYS[k]) end
      pending = pending + n
    end
  end
end
if ARGV[2] == '1' then
  local n = redis.call('ZCARD', KEYS[2])
  local gone = {}
  for i = 0, n - 1, 1000 do
    local members = redis.call('ZRANGE', KEYS[2], i, i + 999)
    for j = 1, #members do
      local rk = routingKey(members[j])
      if rk == '' then rk = defaultQueue end
      if rk == queue then gone[#gone + 1] = members[j] end
    end
  end
  for i = 1, #gone, 1000 do
    redis.call('ZREM', KEYS[2], unpack(gone, i, math.min(#gone, i + 999)))
  end
  delayed = #gone
end
if ARGV[3] == '1' then
  local entries = redis.call('LRANGE', KEYS[3], 0, -1)
  local kept = {}
  for i = 1, #entries do
    local ok, d = pcall(cjson.decode, entries[i])
    local q = nil
    if ok and type(d) == 'table' and type(d.body) == 'string' then
      q = d.queue
      if type(q) ~= 'string' or q == '' then q = defaultQueue end
    end
    if q == queue then dead = dead + 1 else kept[#kept + 1] = entries[i] end
  end
  if dead > 0 then
    redis.call('DEL', KEYS[3])
    for i = 1, #kept, 1000 do
      redis.call('RPUSH', KEYS[3], unpack(kept, i, math.min(#kept, i + 999)))
    end
  end
end
return {pending, delayed, dead}
`;
