#pragma once

// The two clocks of the daemon: the monotonic one paces rounds, the wall
// clock stamps what goes into the snapshot (unix milliseconds).

#include <chrono>
#include <cstdint>

namespace tuneslot {

using MonoClock = std::chrono::steady_clock;

inline std::int64_t wall_clock_ms() noexcept
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace tuneslot
