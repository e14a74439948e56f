-- publish_round.lua: replace the snapshot with a new poll round.
--
-- KEYS[1]  {tuneslot:v1}:snapshot    string, the round's text (SCHEMA.md)
-- KEYS[2]  {tuneslot:v1}:generation  integer, strictly increasing
-- KEYS[3]  {tuneslot:v1}:leader, the lease (lease.lua)
-- ARGV[1]  the snapshot text
-- ARGV[2]  the channel to announce the round on ({tuneslot:v1}:rounds)
-- ARGV[3]  optional: the least generation this round may get (the writer
--          passes the round's written_ms, so a generation is not reused
--          after a Redis restart or FLUSHALL has reset the counter)
-- ARGV[4]  the lease as the writer holds it, "<holder> <token>";
--          the round is refused unless KEYS[3] holds exactly that, so a
--          writer whose lease expired or was taken over (a stale fencing
--          token) can never overwrite the new leader's rounds
--
-- Returns the new generation, or the error "ERR tuneslot: stale lease".
-- A call without the lease is refused ("ERR tuneslot: no lease"): a round
-- that no fencing token guards could overwrite the leader's.  The script
-- runs atomically, so readers that MGET both keys always get a snapshot with
-- its own generation.

if #ARGV[1] == 0 then
    return redis.error_reply('ERR tuneslot: empty snapshot')
end

if KEYS[3] == nil or ARGV[4] == nil or ARGV[4] == '' then
    return redis.error_reply('ERR tuneslot: no lease')
end

if redis.call('GET', KEYS[3]) ~= ARGV[4] then
    return redis.error_reply('ERR tuneslot: stale lease')
end

local floor = 0
if ARGV[3] ~= nil and ARGV[3] ~= '' then
    if not string.match(ARGV[3], '^%d+$') or #ARGV[3] > 15 then
        return redis.error_reply('ERR tuneslot: invalid generation floor')
    end
    floor = tonumber(ARGV[3])
end

redis.call('SET', KEYS[1], ARGV[1])

local generation = redis.call('INCR', KEYS[2])
if generation < floor then
    redis.call('SET', KEYS[2], ARGV[3])
    generation = floor
end

redis.call('PUBLISH', ARGV[2], generation)

return generation
