#pragma once

// Small string helpers shared by the daemon's files: building messages
// without iostreams, and cleaning foreign text (curl errors, parser
// messages) before it goes into a log line or a snapshot reason.

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tuneslot {

namespace detail {

inline void append(std::string& out, std::string_view s) { out.append(s); }
inline void append(std::string& out, const char* s) { out.append(s ? s : "(null)"); }
inline void append(std::string& out, const std::string& s) { out.append(s); }
inline void append(std::string& out, char c) { out.push_back(c); }

template <std::integral T>
    requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void append(std::string& out, T value)
{
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    (void) ec;  // 24 bytes hold any 64-bit integer
    out.append(buf, end);
}

}  // namespace detail

// cat("backend ", name, ": HTTP ", 500) -> "backend ice-a: HTTP 500"
template <class... Args>
std::string cat(const Args&... args)
{
    std::string out;
    (detail::append(out, args), ...);
    return out;
}

// Returns s made safe for one log line or snapshot field: TAB, CR and LF
// become spaces, any other byte outside printable ASCII becomes '?', runs of
// spaces collapse to one, the ends are trimmed, and the result is cut to at
// most max bytes.
std::string printable(std::string_view s, std::size_t max);

// "quoted" with any non-printable byte shown as \xNN: for config errors that
// echo a value the user wrote.
std::string quote(std::string_view s);

// A JSON string: "quoted", with '"', '\\' and control bytes escaped
// (\u00XX) and bytes outside ASCII shown as \u00XX too (the texts given
// are names, reasons and notes: printable ASCII already).
std::string json_quote(std::string_view s);

// A count as JSON: the number, or null for UINT32_MAX (TUNE_UNLIMITED: no
// limit, none known)
std::string json_count(std::uint32_t v);

}  // namespace tuneslot
