// libFuzzer target: the helpers that clean foreign text before it reaches
// a log line, a config error or a snapshot field (text.h), and the count
// parser every status format uses (parse_count(), status_parsers.h).
//
// The input's first byte is printable()'s max, the rest is the text.
// Besides "no crash" it checks: printable() gives printable ASCII only,
// no space at either end, no two in a row, at most max bytes, and is
// idempotent; quote() gives printable ASCII between quotes that unquotes
// back to the input, byte for byte; parse_count() accepts exactly the
// plain decimals 0..4294967294 between optional whitespace, and a value
// it accepts, printed, parses back to itself.

#include "status_parsers.h"
#include "text.h"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

bool printable_byte(unsigned char c) { return c >= 0x20 && c <= 0x7e; }

void check_printable(std::string_view s, std::size_t max)
{
    const std::string out = tuneslot::printable(s, max);
    if (out.size() > max)
        std::abort();
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (!printable_byte(static_cast<unsigned char>(out[i])))
            std::abort();
        if (out[i] == ' ' && (i == 0 || i + 1 == out.size() || out[i + 1] == ' '))
            std::abort();
    }
    if (tuneslot::printable(out, max) != out)
        std::abort();
}

// \" \\ \xNN back to bytes; the whole string must be one quoted run
std::string unquote(std::string_view q)
{
    if (q.size() < 2 || q.front() != '"' || q.back() != '"')
        std::abort();
    q = q.substr(1, q.size() - 2);
    std::string out;
    for (std::size_t i = 0; i < q.size(); ++i) {
        if (q[i] == '"')
            std::abort();   // an unescaped quote inside
        if (q[i] != '\\') {
            out.push_back(q[i]);
            continue;
        }
        if (i + 1 >= q.size())
            std::abort();
        if (q[i + 1] == '"' || q[i + 1] == '\\') {
            out.push_back(q[++i]);
            continue;
        }
        unsigned v = 0;
        if (q[i + 1] != 'x' || i + 3 >= q.size()
            || std::from_chars(q.data() + i + 2, q.data() + i + 4, v, 16).ptr != q.data() + i + 4)
            std::abort();
        out.push_back(static_cast<char>(v));
        i += 3;
    }
    return out;
}

void check_quote(std::string_view s)
{
    const std::string q = tuneslot::quote(s);
    for (unsigned char c : q)
        if (!printable_byte(c))
            std::abort();
    if (unquote(q) != s)
        std::abort();
}

bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void check_count(std::string_view s)
{
    std::uint32_t v = 12345;
    std::string why;
    const bool ok = tuneslot::parse_count(s, v, why);

    // the model: trimmed, 1..n digits, value <= 4294967294
    std::string_view t = s;
    while (!t.empty() && space(t.front()))
        t.remove_prefix(1);
    while (!t.empty() && space(t.back()))
        t.remove_suffix(1);
    bool digits = !t.empty();
    std::uint64_t value = 0;
    for (char c : t) {
        digits = digits && c >= '0' && c <= '9';
        if (digits && value <= UINT32_MAX)
            value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    const bool model = digits && value <= UINT32_MAX - 1;

    if (ok != model || (ok && v != value) || (!ok && why.empty()))
        std::abort();
    if (!ok)
        return;

    char buf[16];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    std::uint32_t back = 0;
    if (ec != std::errc() || !tuneslot::parse_count(std::string_view(buf, end - buf), back, why) || back != v)
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    const std::string_view s(reinterpret_cast<const char*>(data + 1), size - 1);
    check_printable(s, data[0]);
    check_quote(s);
    check_count(s);
    return 0;
}
