#include "history.h"

#include "text.h"

#include <set>

namespace tuneslot {

namespace {

void series_json(std::string& out, const std::map<std::string, std::deque<std::int64_t>, std::less<>>& all)
{
    out += "{";
    bool first = true;
    for (const auto& [name, values] : all) {
        out += cat(first ? "" : ",", json_quote(name), ":[");
        for (size_t i = 0; i < values.size(); ++i)
            out += cat(i ? "," : "", values[i] < 0 ? std::string("null") : cat(values[i]));
        out += "]";
        first = false;
    }
    out += "}";
}

}  // namespace

void ListenerHistory::set(std::map<std::string, Series, std::less<>>& all, const std::string& name,
    std::int64_t value)
{
    Series& s = all[name];
    // a new series: no points before this one
    if (s.size() < times_.size())
        s.insert(s.begin(), times_.size() - s.size(), -1);
    s.back() = value;
}

void ListenerHistory::record(const FleetView& view)
{
    const std::int64_t step = view.round_ms - view.round_ms % step_ms;
    if (times_.empty() || times_.back() < step) {
        times_.push_back(step);
        for (auto* all : {&streams_, &backends_})
            for (auto& [name, s] : *all)
                s.push_back(-1);
        if (times_.size() > points) {
            times_.pop_front();
            for (auto* all : {&streams_, &backends_})
                for (auto& [name, s] : *all)
                    s.pop_front();
        }
    } else if (times_.back() > step) {
        // the clock stepped back: within a step, the points there stand;
        // further (a clock set ahead, then corrected), they are of a time
        // that never was, and the chart starts again from now
        if (times_.back() - step <= step_ms)
            return;
        times_.clear();
        streams_.clear();
        backends_.clear();
        times_.push_back(step);
    }

    std::set<std::string, std::less<>> seen;
    for (const FleetBackend& b : view.backends) {
        seen.insert(b.name);
        set(backends_, b.name,
            b.health == "up" || b.health == "draining" ? static_cast<std::int64_t>(b.listeners) : std::int64_t{-1});
    }
    std::erase_if(backends_, [&](const auto& e) { return !seen.contains(e.first); });
    seen.clear();
    for (const FleetStream& s : view.streams) {
        seen.insert(s.name);
        set(streams_, s.name, static_cast<std::int64_t>(s.listeners));
    }
    std::erase_if(streams_, [&](const auto& e) { return !seen.contains(e.first); });
}

std::string ListenerHistory::json() const
{
    std::string out = cat("{\"step_ms\":", step_ms, ",\"t\":[");
    for (size_t i = 0; i < times_.size(); ++i)
        out += cat(i ? "," : "", times_[i]);
    out += "],\"streams\":";
    series_json(out, streams_);
    out += ",\"backends\":";
    series_json(out, backends_);
    out += "}\n";
    return out;
}

}  // namespace tuneslot
