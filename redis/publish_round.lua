-- publish_round.lua: replace the snapshot with a new poll round.
--
-- KEYS[1]  {tuneslot:v1}:snapshot    string, the round's text (SCHEMA.md)
-- KEYS[2]  {tuneslot:v1}:generation  integer, bumped once per round
-- ARGV[1]  the snapshot text
-- ARGV[2]  the channel to announce the round on ({tuneslot:v1}:rounds)
--
-- Returns the new generation.  The script runs atomically, so readers that
-- MGET both keys always get a snapshot with its own generation.

if #ARGV[1] == 0 then
    return redis.error_reply('ERR tuneslot: empty snapshot')
end

redis.call('SET', KEYS[1], ARGV[1])
local generation = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], generation)

return generation
