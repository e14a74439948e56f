#include "metrics.h"

#include "text.h"

#include <tune_snapshot.h>

#include <cstdio>

namespace tuneslot {

namespace {

void help(std::string& out, std::string_view name, std::string_view type, std::string_view text)
{
    out += cat("# HELP ", name, " ", text, "\n# TYPE ", name, " ", type, "\n");
}

std::string number(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string count(std::uint32_t v)
{
    return v == TUNE_UNLIMITED ? std::string("+Inf") : cat(v);
}

}  // namespace

std::string_view poll_error_class(std::string_view reason) noexcept
{
    static constexpr std::pair<std::string_view, std::string_view> prefixes[] = {
        {"timeout", "timeout"}, {"connect:", "connect"}, {"resolve:", "resolve"}, {"HTTP ", "http"},
        {"tls:", "tls"}, {"network:", "network"}, {"body larger", "body_too_large"},
        {"empty reply", "empty_reply"}, {"parse:", "parse"},
    };
    for (const auto& [prefix, name] : prefixes)
        if (reason.starts_with(prefix))
            return name;
    return "other";
}

void Metrics::round(const Config& config, const std::vector<PollOutcome>& outcomes,
    const std::vector<BackendRound>& polls, const std::vector<BackendRound>& shown)
{
    ++rounds_;
    std::map<std::string, unsigned> failing_now;    // forgets backends a reload removed
    backends_.clear();
    backends_.reserve(config.backends.size());
    for (size_t i = 0; i < config.backends.size(); ++i) {
        const BackendConfig& b = config.backends[i];
        Backend m;
        m.name = b.name;
        m.up = shown[i].health == TUNE_HEALTH_UP || shown[i].health == TUNE_HEALTH_DRAINING;
        m.draining = shown[i].health == TUNE_HEALTH_DRAINING;
        m.latency_s = outcomes[i].seconds;
        m.weight = shown[i].weight;
        unsigned& failing = failing_now[b.name] = failing_[b.name];
        if (polls[i].health != TUNE_HEALTH_UP) {
            ++poll_errors_[{b.name, std::string(poll_error_class(polls[i].reason))}];
            ++failing;
        } else {
            failing = 0;
        }
        m.failing = failing;
        for (const StreamConfig& s : config.streams) {
            SlotState st = slot_state(s, shown[i]);
            m.slots.push_back({s.name, tune_health_name(st.health), st.stats.listeners, st.stats.capacity,
                st.stats.free});
        }
        backends_.push_back(std::move(m));
    }
    failing_ = std::move(failing_now);
    // a backend a reload removed has no series left (a counter that
    // reappears with the backend starts again from 0, which Prometheus's
    // rate() takes as a reset)
    std::erase_if(poll_errors_, [&](const auto& entry) { return !failing_.contains(entry.first.first); });
}

std::string Metrics::text() const
{
    std::string out;
    out.reserve(256 + backends_.size() * (300 + 400 * (backends_.empty() ? 0 : backends_[0].slots.size())));

    help(out, "tuneslotd_leader", "gauge", "1 while this instance holds the writer's lease");
    out += cat("tuneslotd_leader ", leader_ ? 1 : 0, "\n");
    help(out, "tuneslotd_redis_up", "gauge", "1 when Redis answered the last command");
    out += cat("tuneslotd_redis_up ", redis_up_ ? 1 : 0, "\n");
    help(out, "tuneslotd_rounds_total", "counter", "poll rounds completed");
    out += cat("tuneslotd_rounds_total ", rounds_, "\n");
    help(out, "tuneslotd_rounds_written_total", "counter", "rounds this instance wrote to Redis");
    out += cat("tuneslotd_rounds_written_total ", rounds_written_, "\n");

    help(out, "tuneslotd_backend_up", "gauge", "1 when the backend is up (draining included) in the snapshot");
    for (const Backend& b : backends_)
        out += cat("tuneslotd_backend_up{backend=\"", b.name, "\"} ", b.up ? 1 : 0, "\n");
    help(out, "tuneslotd_backend_draining", "gauge", "1 while the operator drains the whole backend");
    for (const Backend& b : backends_)
        out += cat("tuneslotd_backend_draining{backend=\"", b.name, "\"} ", b.draining ? 1 : 0, "\n");
    help(out, "tuneslotd_backend_weight", "gauge", "the weight written to the backend's slots (slow start lowers it)");
    for (const Backend& b : backends_)
        out += cat("tuneslotd_backend_weight{backend=\"", b.name, "\"} ", b.weight, "\n");
    help(out, "tuneslotd_backend_failed_polls", "gauge",
        "failed polls in a row (an up backend is down at fail_after; alert before that)");
    for (const Backend& b : backends_)
        out += cat("tuneslotd_backend_failed_polls{backend=\"", b.name, "\"} ", b.failing, "\n");
    help(out, "tuneslotd_poll_seconds", "gauge", "how long the last poll of the backend took");
    for (const Backend& b : backends_)
        out += cat("tuneslotd_poll_seconds{backend=\"", b.name, "\"} ", number(b.latency_s), "\n");
    help(out, "tuneslotd_poll_errors_total", "counter", "failed polls by backend and reason");
    for (const auto& [key, n] : poll_errors_)
        out += cat("tuneslotd_poll_errors_total{backend=\"", key.first, "\",reason=\"", key.second, "\"} ", n, "\n");

    struct Series {
        std::string_view name;
        std::string_view help;
        std::uint32_t Slot::*field;
    };
    static constexpr Series series[] = {
        {"tuneslotd_slot_listeners", "listeners of the stream on the backend", &Slot::listeners},
        {"tuneslotd_slot_capacity", "most listeners the stream may have on the backend (+Inf: no limit)",
            &Slot::capacity},
        {"tuneslotd_slot_free", "free listener slots of the stream on the backend (+Inf: no limit)", &Slot::free},
    };
    for (const Series& m : series) {
        help(out, m.name, "gauge", m.help);
        for (const Backend& b : backends_)
            for (const Slot& s : b.slots)
                out += cat(m.name, "{backend=\"", b.name, "\",stream=\"", s.stream, "\"} ",
                    m.field == &Slot::listeners ? cat(s.*m.field) : count(s.*m.field), "\n");
    }
    return out;
}

}  // namespace tuneslot
