#pragma once

// The names of the Redis contract (redis/SCHEMA.md) as tuneslotd uses them.
// They are spelled once, in core/include/tune_contract.h, for the
// front-ends, tuneslotd and the tests alike; this only gives them C++'s
// type.

#include <tune_contract.h>

#include <string_view>

namespace tuneslot::contract {

inline constexpr std::string_view key_snapshot = TUNE_KEY_SNAPSHOT;
inline constexpr std::string_view key_generation = TUNE_KEY_GENERATION;
inline constexpr std::string_view key_drain = TUNE_KEY_DRAIN;
inline constexpr std::string_view key_leader = TUNE_KEY_LEADER;
inline constexpr std::string_view key_fence = TUNE_KEY_FENCE;
inline constexpr std::string_view key_instances = TUNE_KEY_INSTANCES;
inline constexpr std::string_view channel_rounds = TUNE_CHANNEL_ROUNDS;

}  // namespace tuneslot::contract
