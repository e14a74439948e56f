-- lease.lua: take, keep or give back the writer's lease.
--
-- Several tuneslotd may run with the same configuration; only the holder of
-- the lease writes rounds.  The lease is a string with a TTL holding
-- "<holder> <token>" (holder: the instance id, "#", a per-process nonce),
-- where token is a fencing token: it comes from a
-- counter that only grows, and publish_round.lua refuses a round whose lease
-- is not the current one.
--
-- KEYS[1]  {tuneslot:v1}:leader  string "<holder> <token>", PX ttl
-- KEYS[2]  {tuneslot:v1}:fence   integer, the last token handed out
-- ARGV[1]  the holder: instance id, "#", nonce (printable ASCII, no spaces)
-- ARGV[2]  the TTL in ms; "0" gives the lease back (if held) instead
-- ARGV[3]  the least token a new lease may get (the caller's unix time in
--          ms), so a token is never reused after a Redis restart or
--          FLUSHALL has reset the counter
--
-- Returns {token, lease}: token > 0 when ARGV[1] holds the lease after the
-- call (renewed, or just taken), else 0; lease is the value of KEYS[1]
-- after the call ("" when none), which names the holder.

local id = ARGV[1]
if id == nil or id == '' or string.find(id, '[%s]') then
    return redis.error_reply('ERR tuneslot: invalid instance id')
end
if not string.match(ARGV[2] or '', '^%d+$') or not string.match(ARGV[3] or '', '^%d+$') or #ARGV[3] > 15 then
    return redis.error_reply('ERR tuneslot: invalid ttl or token floor')
end
local ttl = tonumber(ARGV[2])
local floor = tonumber(ARGV[3])

local current = redis.call('GET', KEYS[1])
local holder, token
if current then
    holder, token = string.match(current, '^(%S+) (%d+)$')
end

if ttl == 0 then
    if holder == id then
        redis.call('DEL', KEYS[1])
        return {0, ''}
    end
    return {0, current or ''}
end

if current then
    if holder == id then
        redis.call('PEXPIRE', KEYS[1], ttl)
        return {tonumber(token), current}
    end
    return {0, current}
end

local next = redis.call('INCR', KEYS[2])
if next < floor then
    redis.call('SET', KEYS[2], ARGV[3])
    next = floor
end
local lease = id .. ' ' .. string.format('%d', next)
redis.call('SET', KEYS[1], lease, 'PX', ttl)
return {next, lease}
