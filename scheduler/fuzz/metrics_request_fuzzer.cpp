// libFuzzer target: what a client of the /metrics endpoint sends, which
// anyone who reaches the port may send (metrics_reply(), metrics_server.h).
//
// The input's first byte sets how many bytes each read brings (1..256);
// the rest arrives read by read, as the server appends what recv() gives,
// and is answered once metrics_reply() says so.  Besides "no crash" it
// checks what the header promises: no answer while the head is incomplete
// and within request_max; then exactly one answer, an HTTP/1.0 status line
// of 200, 400, 404, 405, 421 (a Host naming no address: DNS rebinding) or
// 431, and only the server's own header lines (no
// byte of the request reflected into the head); a 200 exactly for a GET or
// HEAD of /metrics (a query allowed), the only case that renders the body;
// Content-Length that of the body, which a HEAD leaves out.

#include "metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view body = "tuneslotd_rounds_written_total 7\n";

bool head_complete(std::string_view in)
{
    return in.find("\r\n\r\n") != std::string_view::npos || in.find("\n\n") != std::string_view::npos;
}

// The first Host header's value, trimmed ("" when none): a line of the
// head whose name is Host in any case
std::string_view host_of(std::string_view in)
{
    // the head with each line's own end: up to the CR LF or LF before the
    // empty line that ends it
    const std::size_t crlf = in.find("\r\n\r\n");
    const std::size_t lf = in.find("\n\n");
    std::string_view head = in.substr(0, crlf < lf ? crlf + 2 : lf + 1);
    for (std::size_t at = head.find('\n'); at != std::string_view::npos; at = head.find('\n', at + 1)) {
        std::string_view line = head.substr(at + 1, head.find('\n', at + 1) - at - 1);
        if (line.size() < 5)
            continue;
        bool host = true;
        for (std::size_t i = 0; i < 4; ++i)
            host = host && (line[i] | 0x20) == "host"[i];
        if (!host || line[4] != ':')
            continue;
        // the line's own CR ends it; whitespace around the value is not
        // part of it (RFC 9110, 5.5), any other byte is
        std::string_view v = line.substr(5);
        if (!v.empty() && v.back() == '\r')
            v.remove_suffix(1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
            v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
            v.remove_suffix(1);
        return v;
    }
    return {};
}

// whether the listener takes a request with this Host (docs/tuneslotd.md,
// "metrics"): none, an IPv4 literal, an [IPv6] literal or localhost, each
// with a port or without
bool host_allowed(std::string_view host)
{
    if (host.empty())
        return true;
    if (host.front() == '[') {
        const std::size_t close = host.find(']');
        if (close == std::string_view::npos)
            return false;
        in6_addr a6{};
        const std::string_view rest = host.substr(close + 1);
        return inet_pton(AF_INET6, std::string(host.substr(1, close - 1)).c_str(), &a6) == 1
            && (rest.empty() || rest.front() == ':');
    }
    const std::string_view name = host.substr(0, host.find(':'));
    std::string lower;
    for (char c : name)
        lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c));
    in_addr a4{};
    return lower == "localhost" || inet_pton(AF_INET, lower.c_str(), &a4) == 1;
}

// the status a request head deserves, by RFC 9112's request line (a bare
// LF ends a line too)
int expected_status(std::string_view in)
{
    std::string_view line = in.substr(0, in.find('\n'));
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos)
        return 400;
    const std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
        return 400;
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (method != "GET" && method != "HEAD")
        return 405;
    // a Host that names a host rather than an address: 421 (DNS rebinding)
    if (!host_allowed(host_of(in)))
        return 421;
    if (target != "/metrics" && target.substr(0, 9) != "/metrics?")
        return 404;
    return 200;
}

void check_answer(std::string_view in, std::string_view out, int renders)
{
    if (out.substr(0, 9) != "HTTP/1.0 " || out.size() < 12)
        std::abort();
    const int status = std::atoi(std::string(out.substr(9, 3)).c_str());
    const int want = head_complete(in) ? expected_status(in) : 431;
    if (status != want || (renders != 0) != (status == 200))
        std::abort();

    const std::size_t end = out.find("\r\n\r\n");
    if (end == std::string_view::npos)
        std::abort();
    const std::string_view head = out.substr(0, end + 2);
    const std::string_view got = out.substr(end + 4);

    // every header line is one of the server's own
    std::size_t length = std::string_view::npos;
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
        const std::size_t eol = head.find("\r\n", pos);
        const std::string_view h = head.substr(pos, eol - pos);
        if (h.starts_with("Content-Length: "))
            length = std::strtoul(std::string(h.substr(16)).c_str(), nullptr, 10);
        else if (h != "Connection: close" && h != "Content-Type: text/plain"
                 && h != "Content-Type: text/plain; version=0.0.4; charset=utf-8")
            std::abort();
        pos = eol + 2;
    }
    for (unsigned char c : head)
        if ((c < 0x20 || c > 0x7e) && c != '\r' && c != '\n')
            std::abort();

    const bool is_head = in.starts_with("HEAD ") && status != 400 && status != 431;
    if (length == std::string_view::npos || (is_head ? !got.empty() : got.size() != length))
        std::abort();
    if (status == 200 && !is_head && got != body)
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    const std::size_t chunk = 1 + data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    int renders = 0;
    auto render = [&renders] {
        ++renders;
        return std::string(body);
    };

    std::string in;
    for (std::size_t at = 0; at < input.size(); at += chunk) {
        in.append(input.substr(at, chunk));
        std::optional<std::string> out = tuneslot::metrics_reply(in, render);
        if (!out) {
            if (head_complete(in) || in.size() > tuneslot::MetricsServer::request_max || renders != 0)
                std::abort();
            continue;
        }
        check_answer(in, *out, renders);
        return 0;   // the server answers once, then only writes
    }
    return 0;
}
