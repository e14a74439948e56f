#include "drain.h"

#include "log.h"
#include "text.h"

#include <tune_snapshot.h>

namespace tuneslot {

namespace {

// A note goes into log lines and into the snapshot's reason field.
constexpr size_t note_max = 160;

}  // namespace

std::string drain_field(std::string_view backend, std::string_view mount)
{
    return cat(backend, mount);
}

DrainSet parse_drains(const Config& config, const std::vector<std::pair<std::string, std::string>>& pairs,
    std::vector<std::string>& ignored)
{
    DrainSet out;
    for (const auto& [field, value] : pairs) {
        // names never hold '/', and a mount always starts with one
        const size_t slash = field.find('/');
        const std::string backend = field.substr(0, slash);
        const std::string mount = slash == std::string::npos ? std::string() : field.substr(slash);
        bool known_backend = false;
        for (const BackendConfig& b : config.backends)
            known_backend = known_backend || b.name == backend;
        bool known_mount = mount.empty();
        for (const StreamConfig& s : config.streams)
            known_mount = known_mount || s.mount == mount;
        if (!known_backend || !known_mount) {
            ignored.push_back(field);
            continue;
        }
        std::string note = printable(value, note_max);
        if (mount.empty())
            out.backends.emplace(backend, std::move(note));
        else
            out.mounts.emplace(std::make_pair(backend, mount), std::move(note));
    }
    return out;
}

void apply_drains(const Config& config, const DrainSet& drains, std::vector<BackendRound>& rounds)
{
    for (size_t i = 0; i < config.backends.size(); ++i) {
        const std::string& name = config.backends[i].name;
        BackendRound& r = rounds[i];
        if (r.health != TUNE_HEALTH_UP)
            continue;
        if (auto it = drains.backends.find(name); it != drains.backends.end()) {
            r.health = TUNE_HEALTH_DRAINING;
            r.reason = it->second.empty() ? std::string("drain") : cat("drain: ", it->second);
        }
        for (auto it = drains.mounts.lower_bound({name, ""}); it != drains.mounts.end() && it->first.first == name;
             ++it)
            r.drained_mounts.insert(it->first.second);
    }
}

void log_drain_changes(const DrainSet& before, const DrainSet& now)
{
    auto note = [](const std::string& n) { return n.empty() ? std::string() : cat(" (", n, ")"); };
    for (const auto& [name, n] : now.backends)
        if (!before.backends.contains(name))
            log::notice("backend ", name, ": draining", note(n));
    for (const auto& [name, n] : before.backends)
        if (!now.backends.contains(name))
            log::notice("backend ", name, ": draining ended");
    for (const auto& [key, n] : now.mounts)
        if (!before.mounts.contains(key))
            log::notice("backend ", key.first, ": mount ", key.second, " draining", note(n));
    for (const auto& [key, n] : before.mounts)
        if (!now.mounts.contains(key))
            log::notice("backend ", key.first, ": mount ", key.second, " draining ended");
}

std::string check_drain_request(const Config& config, std::string_view backend, std::string_view mount,
    std::string_view note)
{
    bool known = false;
    for (const BackendConfig& b : config.backends)
        known = known || b.name == backend;
    if (!known)
        return cat("no backend ", quote(backend), " in ", config.path);
    if (!mount.empty()) {
        bool used = false;
        for (const StreamConfig& s : config.streams)
            used = used || s.mount == mount;
        if (!used)
            return cat("no stream of ", config.path, " uses the mount ", quote(mount));
    }
    // what parse_drains() keeps of a note, so nothing is cut or changed
    // between what the operator wrote and what the logs and page show
    for (unsigned char ch : note)
        if (ch < 0x20 || ch > 0x7e)
            return "the note must be printable ASCII (no control characters, no other bytes)";
    if (note.size() > note_max)
        return cat("the note is longer than ", note_max, " bytes");
    return {};
}

}  // namespace tuneslot
