#include "placement.h"

#include "text.h"

#include <tune_snapshot.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace tuneslot {

namespace {

constexpr std::size_t region_max = 64;

bool is_region(std::string_view r)
{
    if (r.empty() || r.size() > region_max)
        return false;
    return std::all_of(r.begin(), r.end(), [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
            || c == '-';
    });
}

// Plain decimal as the snapshot writes counts: no sign, no leading zeros
bool parse_count(std::string_view v, std::uint32_t& out)
{
    if (v.empty() || v.size() > 10 || (v.size() > 1 && v[0] == '0'))
        return false;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || n >= TUNE_UNLIMITED)
        return false;
    out = static_cast<std::uint32_t>(n);
    return true;
}

bool known(std::uint32_t capacity)
{
    return capacity != TUNE_UNLIMITED;
}

std::string regions_of(const std::vector<FleetBackend>& fleet)
{
    std::set<std::string> regions;
    for (const FleetBackend& b : fleet)
        if (!b.region.empty())
            regions.insert(b.region);
    if (regions.empty())
        return "no backend has a region";
    std::string out;
    for (const std::string& r : regions)
        out += cat(out.empty() ? "regions: " : ", ", r);
    return out;
}

}  // namespace

std::optional<PlaceQuery> parse_place_query(std::string_view query, std::string& why)
{
    PlaceQuery q;
    std::set<std::string_view> seen;
    for (bool more = !query.empty(); more;) {
        const size_t amp = query.find('&');
        std::string_view part = query.substr(0, amp);
        more = amp != std::string_view::npos;
        query = more ? query.substr(amp + 1) : std::string_view();
        const size_t eq = part.find('=');
        std::string_view key = part.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
        if (key != "listeners" && key != "region" && key != "format") {
            why = part.empty() ? std::string("an empty parameter") : cat("unknown parameter ", quote(key));
            return std::nullopt;
        }
        if (!seen.insert(key).second) {
            why = cat("parameter ", quote(key), " given twice");
            return std::nullopt;
        }
        if (key == "listeners" && !parse_count(value, q.listeners)) {
            why = cat("invalid listeners ", quote(value), ": a count, 0 to 4294967294");
            return std::nullopt;
        }
        if (key == "region") {
            if (!is_region(value)) {
                why = cat("invalid region ", quote(value), ": 1 to 64 bytes of A-Z a-z 0-9 . _ -");
                return std::nullopt;
            }
            q.region = value;
        }
        if (key == "format") {
            if (value != "text" && value != "json") {
                why = cat("invalid format ", quote(value), ": text or json");
                return std::nullopt;
            }
            q.text = value == "text";
        }
    }
    return q;
}

PlaceAnswer place(const std::vector<FleetBackend>& fleet, const PlaceQuery& query)
{
    PlaceAnswer a;
    if (fleet.empty()) {
        a.empty_because = "no backend is configured";
        return a;
    }
    if (!query.region.empty()
        && std::none_of(fleet.begin(), fleet.end(), [&](const FleetBackend& b) { return b.region == query.region; })) {
        a.empty_because = cat("no backend is in region ", quote(query.region), " (", regions_of(fleet), ")");
        return a;
    }

    unsigned down = 0, draining = 0, unpolled = 0, full = 0, weightless = 0;
    const FleetBackend* roomiest = nullptr;     // of those full for it
    std::uint64_t roomiest_spare = 0;
    for (const FleetBackend& b : fleet) {
        if (b.health == "unpolled") {
            ++unpolled;
            a.left_out.push_back({b.name, "not polled yet"});
            continue;
        }
        if (b.health == "draining") {
            ++draining;
            a.left_out.push_back({b.name, b.note.empty() ? std::string("draining") : cat("draining: ", b.note)});
            continue;
        }
        if (b.health != "up") {
            ++down;
            a.left_out.push_back({b.name, cat("down: ", b.reason)});
            continue;
        }
        // the operator's weight 0: no listener is ever sent there
        if (b.weight == 0) {
            ++weightless;
            a.left_out.push_back({b.name, "weight 0: it gets no listeners"});
            continue;
        }
        const std::uint64_t spare = known(b.capacity) && b.capacity > b.listeners ? b.capacity - b.listeners : 0;
        if (known(b.capacity) && spare < query.listeners) {
            ++full;
            a.left_out.push_back({b.name, cat("full for it: ", spare, " to spare, ", query.listeners, " wanted")});
            if (roomiest == nullptr || spare > roomiest_spare) {
                roomiest = &b;
                roomiest_spare = spare;
            }
            continue;
        }
        PlaceRank r;
        r.name = b.name;
        r.region = b.region;
        r.in_region = !query.region.empty() && b.region == query.region;
        r.listeners = b.listeners;
        r.capacity = b.capacity;
        r.spare_after = known(b.capacity) ? spare - query.listeners : 0;
        a.ranks.push_back(std::move(r));
    }

    std::sort(a.ranks.begin(), a.ranks.end(), [](const PlaceRank& x, const PlaceRank& y) {
        if (x.in_region != y.in_region)
            return x.in_region;
        if (known(x.capacity) != known(y.capacity))
            return known(x.capacity);
        if (x.spare_after != y.spare_after)
            return x.spare_after > y.spare_after;
        return x.name < y.name;
    });

    if (a.ranks.empty()) {
        const unsigned n = static_cast<unsigned>(fleet.size());
        if (down == n)
            a.empty_because = "every backend is down";
        else if (draining == n)
            a.empty_because = "every backend is draining";
        else if (unpolled == n)
            a.empty_because = "no backend has been polled yet";
        else {
            std::string parts;
            auto add = [&parts](unsigned count, std::string_view what) {
                if (count)
                    parts += cat(parts.empty() ? "" : ", ", count, " ", what);
            };
            add(down, "down");
            add(draining, "draining");
            add(full, "full for it");
            add(weightless, "of weight 0");
            add(unpolled, "not polled yet");
            a.empty_because = cat("no backend has room for ", query.listeners, " listeners: ", parts);
            if (roomiest)
                a.empty_because += cat(" (the most to spare: ", roomiest->name, ", ", roomiest_spare, ")");
        }
    }
    return a;
}

std::string place_json(const PlaceAnswer& answer, const PlaceQuery& query)
{
    std::string out = cat("{\"listeners\":", query.listeners, ",\"region\":",
        query.region.empty() ? std::string("null") : json_quote(query.region), ",\"ranks\":[");
    for (size_t i = 0; i < answer.ranks.size(); ++i) {
        const PlaceRank& r = answer.ranks[i];
        out += cat(i ? "," : "", "{\"rank\":", i + 1, ",\"name\":", json_quote(r.name),
            ",\"region\":", r.region.empty() ? std::string("null") : json_quote(r.region),
            ",\"in_region\":", r.in_region ? "true" : "false", ",\"listeners\":", r.listeners,
            ",\"capacity\":", json_count(r.capacity), ",\"spare_after\":",
            known(r.capacity) ? cat(r.spare_after) : std::string("null"), "}");
    }
    out += "],\"left_out\":[";
    for (size_t i = 0; i < answer.left_out.size(); ++i)
        out += cat(i ? "," : "", "{\"name\":", json_quote(answer.left_out[i].name), ",\"why\":",
            json_quote(answer.left_out[i].why), "}");
    out += cat("],\"empty_because\":",
        answer.ranks.empty() ? json_quote(answer.empty_because) : std::string("null"), "}\n");
    return out;
}

std::string place_text(const PlaceAnswer& answer, const PlaceQuery& query)
{
    std::string out = cat("a station of ", query.listeners, " listeners",
        query.region.empty() ? std::string() : cat(", region ", query.region, " first"), ":\n");
    if (answer.ranks.empty())
        out += cat("no place: ", answer.empty_because, "\n");
    for (size_t i = 0; i < answer.ranks.size(); ++i) {
        const PlaceRank& r = answer.ranks[i];
        out += cat("  ", i + 1, ". ", r.name, r.region.empty() ? std::string() : cat("  region ", r.region),
            "  listeners ", r.listeners,
            known(r.capacity) ? cat(" of ", r.capacity, ", ", r.spare_after, " to spare after it")
                              : std::string(", capacity not known"),
            "\n");
    }
    if (!answer.left_out.empty()) {
        out += "left out:\n";
        for (const PlaceLeftOut& l : answer.left_out)
            out += cat("  ", l.name, ": ", l.why, "\n");
    }
    return out;
}

}  // namespace tuneslot
