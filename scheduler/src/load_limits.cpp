#include "load_limits.h"

#include <tune_snapshot.h>

#include <algorithm>

namespace tuneslot {

namespace {

std::uint32_t free_of(std::uint32_t capacity, std::uint64_t listeners)
{
    if (capacity == TUNE_UNLIMITED)
        return TUNE_UNLIMITED;
    return listeners >= capacity ? 0 : static_cast<std::uint32_t>(capacity - listeners);
}

}  // namespace

ServerStats apply_limits(ParseResult& result, std::uint32_t max_listeners, std::uint32_t max_clients)
{
    std::uint64_t listeners_total = 0;
    for (auto& [mount, m] : result.mounts) {
        m.capacity = std::min(m.capacity, max_listeners);
        m.free = std::min(m.free, free_of(m.capacity, m.listeners));
        listeners_total += m.listeners;
    }

    std::uint32_t server_capacity = max_clients;
    if (result.server) {
        server_capacity = std::min(server_capacity, result.server->capacity);
        listeners_total = result.server->listeners;
    }
    const ServerStats server{
        static_cast<std::uint32_t>(std::min<std::uint64_t>(listeners_total, TUNE_UNLIMITED - 1)), server_capacity};
    if (server_capacity == TUNE_UNLIMITED)
        return server;
    const std::uint32_t server_free = free_of(server_capacity, listeners_total);
    for (auto& [mount, m] : result.mounts)
        m.free = std::min(m.free, server_free);
    return server;
}

}  // namespace tuneslot
