#pragma once

// Logging: one line per event on stderr,
//
//     2026-11-21T11:50:41.123Z [warn] backend ice-b: up -> down: timeout
//
// Timestamps are UTC with milliseconds.  Each line goes out with a single
// write(2), so it is never torn.  Called from the main thread; never throws.

#include "text.h"

#include <string_view>

namespace tuneslot::log {

// As nginx uses them: info for normal events, notice for noteworthy ones,
// warn for a degraded state (a backend or Redis away), error for a failed
// operation, alert for a broken invariant, emerg when the daemon cannot run.
enum class Level { info, notice, warn, error, alert, emerg };

// "info", "notice", ..., as printed between the brackets.
std::string_view level_name(Level level) noexcept;

void line(Level level, std::string_view message) noexcept;

template <class... Args>
void emit(Level level, const Args&... args) noexcept
{
    try {
        line(level, cat(args...));
    } catch (...) {
        line(level, "(log message lost: out of memory)");
    }
}

template <class... Args> void info(const Args&... a) noexcept { emit(Level::info, a...); }
template <class... Args> void notice(const Args&... a) noexcept { emit(Level::notice, a...); }
template <class... Args> void warn(const Args&... a) noexcept { emit(Level::warn, a...); }
template <class... Args> void error(const Args&... a) noexcept { emit(Level::error, a...); }
template <class... Args> void alert(const Args&... a) noexcept { emit(Level::alert, a...); }
template <class... Args> void emerg(const Args&... a) noexcept { emit(Level::emerg, a...); }

}  // namespace tuneslot::log
