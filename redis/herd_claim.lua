-- herd_claim.lua: credits for tune-ins between poll rounds (SCHEMA.md,
-- "Herd control").
--
-- A front-end may send a listener to a slot only with a credit; each credit
-- granted is a reservation in the slot's key, in the bucket of the time it
-- was granted, counted against the slot until a poll of the slot taken at
-- least the window after that bucket is in the snapshot.
--
-- KEYS[i]  {tuneslot:v1}:herd:<stream>:<backend>, a hash: field "p" the
--          newest polled_ms seen for the slot, "f" its free count, "b<n>"
--          the reservations made in bucket n (unix ms / 100)
-- ARGV[1]  the caller's unix time in ms
-- ARGV[2]  the herd window in ms
-- ARGV[3]  the TTL of the keys in ms
-- ARGV[4]  the caller's front-end id: printable, no spaces, 1..128 bytes
--          (nginx: host name, ":" and the claiming process's pid)
-- then seven per key, for KEYS[i] from ARGV[5 + 7 * (i - 1)]:
--          polled_ms and free of the slot in the caller's snapshot,
--          credits wanted (0: a fair share, what is left of the slot
--          divided among the front-ends that claimed it within the window,
--          at most 4096, less the stock; more: a top-up, at most that
--          share without the 4096),
--          unspent credits returned, the bucket they were
--          granted in, tune-ins sent without a credit (recorded as they are),
--          and the credits the caller keeps in stock (a fair share is a
--          stock level: only what the stock lacks of it is granted)
--
-- Returns {granted_1, bucket_1, granted_2, bucket_2, ...}: the credits
-- granted for KEYS[i] and the bucket they were recorded in (to return them).

local BUCKET_MS = 100

local function number(v)
    if not v or not string.match(v, '^%d+$') or #v > 15 then
        return nil
    end
    return tonumber(v)
end

local FAIR_MAX = 4096

local now, window, ttl = number(ARGV[1]), number(ARGV[2]), number(ARGV[3])
local caller = ARGV[4]
if not now or not window or not ttl or ttl == 0 or #ARGV ~= 4 + 7 * #KEYS
    or not caller or #caller == 0 or #caller > 128 or string.find(caller, '[^%w%.%-_:]') then
    return redis.error_reply('ERR tuneslot: invalid herd claim')
end

local out = {}

for i, key in ipairs(KEYS) do
    local a = 4 + 7 * (i - 1)
    local polled, free, want = number(ARGV[a + 1]), number(ARGV[a + 2]), number(ARGV[a + 3])
    local back, back_bucket, debt = number(ARGV[a + 4]), number(ARGV[a + 5]), number(ARGV[a + 6])
    local stock = number(ARGV[a + 7])
    if not polled or not free or not want or not back or not back_bucket or not debt or not stock then
        return redis.error_reply('ERR tuneslot: invalid herd claim')
    end

    local fields = redis.call('HGETALL', key)
    local stored_polled, stored_free
    local buckets = {}
    -- the front-ends that claimed this slot within the window, the caller
    -- included ("n<id>" = the time of its last claim)
    local claimers = 1
    local me = 'n' .. caller
    for j = 1, #fields, 2 do
        local name, value = fields[j], tonumber(fields[j + 1])
        if name == 'p' then
            stored_polled = value
        elseif name == 'f' then
            stored_free = value
        elseif string.sub(name, 1, 1) == 'b' then
            buckets[name] = value
        elseif string.sub(name, 1, 1) == 'n' and name ~= me then
            if value and value > now - window then
                claimers = claimers + 1
            else
                redis.call('HDEL', key, name)
            end
        end
    end
    -- a share only given back (see below) leaves the slot to the others
    if want == 0 and stock >= FAIR_MAX then
        redis.call('HDEL', key, me)
    else
        redis.call('HSET', key, me, string.format('%d', now))
    end

    -- the newest poll any front-end has seen decides for all of them
    if stored_polled and stored_free and stored_polled >= polled then
        polled, free = stored_polled, stored_free
    else
        redis.call('HSET', key, 'p', string.format('%d', polled), 'f', string.format('%d', free))
    end

    if back > 0 then
        local field = 'b' .. string.format('%d', back_bucket)
        local left = (buckets[field] or 0) - back
        if buckets[field] then
            if left > 0 then
                redis.call('HSET', key, field, left)
                buckets[field] = left
            else
                redis.call('HDEL', key, field)
                buckets[field] = nil
            end
        end
    end

    -- a bucket counts while it may hold a reservation later than
    -- polled - window; older ones are reconciled and dropped
    local first = math.floor((polled - window - BUCKET_MS + 1) / BUCKET_MS) + 1
    local pending = 0
    for field, value in pairs(buckets) do
        if tonumber(string.sub(field, 2)) >= first then
            pending = pending + value
        else
            redis.call('HDEL', key, field)
        end
    end

    -- a caller whose clock is behind the poller's still records where
    -- the reservations count
    local bucket = math.max(math.floor(now / BUCKET_MS), first)
    local field = 'b' .. string.format('%d', bucket)

    -- want 0: a fair share, the stock an idle front-end keeps for bursts;
    -- a top-up is held to the caller's share of what is left, or the first
    -- front-end to claim after a dry spell would take the whole slot while
    -- the others, as busy, are refused (top-ups are not given back)
    local left = math.max(0, free - pending - debt)
    local share = math.floor(left / claimers)
    if want == 0 and stock >= FAIR_MAX then
        -- a stock no share can lack: the old share given back, none taken
        -- (a front-end letting the share of a slot gone idle lapse)
    elseif want == 0 then
        want = math.max(1, math.min(FAIR_MAX, share) - stock)
    else
        want = math.min(want, math.max(1, share))
    end
    local grant = math.min(want, left)
    if grant + debt > 0 then
        redis.call('HINCRBY', key, field, grant + debt)
    end
    redis.call('PEXPIRE', key, ttl)

    out[#out + 1] = grant
    out[#out + 1] = bucket
end

return out
