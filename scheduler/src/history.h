#pragma once

// Listeners over the last hour, per stream and per backend, for the status
// page's charts: a ring of points, one per step (10 s), each holding the
// last round's counts within it, so its memory is bounded by the series
// (streams and backends of the configuration, both pruned when a reload
// removes them) times the points (360), whatever the interval.  Main
// thread only; pure (the times are given).

#include "fleet_view.h"

#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace tuneslot {

class ListenerHistory final {
public:
    static constexpr std::int64_t step_ms = 10'000;
    static constexpr std::size_t points = 360;      // an hour of steps

    // The counts of the round of view (at its round_ms): up and draining
    // backends' listeners as a whole, every stream's over its slots.  A
    // backend down has no point (a gap in its line); a name the view no
    // longer has loses its series.  A clock stepped back by more than a
    // step starts the history again.
    void record(const FleetView& view);

    // {"step_ms":10000,"t":[unix ms of each point],"streams":{"demo":[L or
    // null, ...]},"backends":{...}}, oldest first
    std::string json() const;

    std::size_t size() const noexcept { return times_.size(); }

private:
    using Series = std::deque<std::int64_t>;    // -1: no point
    void set(std::map<std::string, Series, std::less<>>& all, const std::string& name, std::int64_t value);

    std::deque<std::int64_t> times_;            // each point's step, as unix ms
    std::map<std::string, Series, std::less<>> streams_;
    std::map<std::string, Series, std::less<>> backends_;
};

}  // namespace tuneslot
