#include "text.h"

namespace tuneslot {

namespace {

bool is_printable(unsigned char c) { return c >= 0x20 && c < 0x7f; }

}  // namespace

std::string printable(std::string_view s, std::size_t max)
{
    std::string out;
    out.reserve(s.size() < max ? s.size() : max);
    for (unsigned char c : s) {
        char ch = is_printable(c) ? static_cast<char>(c) : (c == '\t' || c == '\n' || c == '\r') ? ' ' : '?';
        if (ch == ' ' && (out.empty() || out.back() == ' '))
            continue;
        if (out.size() == max)
            break;
        out.push_back(ch);
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

std::string quote(std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (is_printable(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        }
    }
    out.push_back('"');
    return out;
}

std::string json_quote(std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
        } else if (c >= 0x20 && c < 0x7f) {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\u00";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xf]);
        }
    }
    out.push_back('"');
    return out;
}

std::string json_count(std::uint32_t v)
{
    return v == UINT32_MAX ? std::string("null") : cat(v);
}

}  // namespace tuneslot
