// libFuzzer target: what a client of the HTTP listener sends when it
// guards its routes with a token (http_token) and takes POSTs (the status
// page's drains): metrics_reply() with routes and a token, read by read as
// the server reads it (the first byte sets the size of each read, 1..256).
//
// Besides "no crash": no answer while the request is within request_max and
// incomplete; then one HTTP/1.0 answer of a status the listener gives, with
// only its own header lines (no request byte reflected into the head); and
// nothing but 400, 401, 405, 411, 413 or 431 unless the request carried the
// token, as a Bearer token or as basic auth's password (an oracle of its
// own, not the server's parser); a route is asked only for a request that
// did.

#include "metrics_server.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view token = "fuzz-token-0123456789";

// every base64 run after "Basic " decoded, to find the token as a password
bool carries_token(std::string_view in)
{
    if (in.find(token) != std::string_view::npos)
        return true;
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // the scheme's name in any case (RFC 9110, 11.1)
    std::string lower(in);
    for (char& c : lower)
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    for (std::size_t at = lower.find("asic "); at != std::string::npos; at = lower.find("asic ", at + 1)) {
        std::string out;
        unsigned bits = 0, have = 0;
        for (std::size_t i = at + 5; i < in.size(); ++i) {
            const std::size_t v = alphabet.find(in[i]);
            if (v == std::string_view::npos)
                break;
            bits = ((bits << 6) | static_cast<unsigned>(v)) & 0xffffff;
            have += 6;
            if (have >= 8) {
                have -= 8;
                out.push_back(static_cast<char>((bits >> have) & 0xff));
            }
        }
        if (out.find(std::string(":") + std::string(token)) != std::string::npos)
            return true;
    }
    return false;
}

void check_answer(std::string_view in, std::string_view out, int routed)
{
    if (out.substr(0, 9) != "HTTP/1.0 " || out.size() < 12)
        std::abort();
    const int status = std::atoi(std::string(out.substr(9, 3)).c_str());
    switch (status) {
    case 200: case 400: case 401: case 404: case 405: case 411: case 413: case 431:
        break;
    default:
        std::abort();
    }
    if ((status == 200 || status == 404 || routed != 0) && !carries_token(in))
        std::abort();
    if (routed != 0 && status != 200 && status != 404)
        std::abort();

    const std::size_t end = out.find("\r\n\r\n");
    if (end == std::string_view::npos)
        std::abort();
    const std::string_view head = out.substr(0, end + 2);
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size()) {
        const std::size_t eol = head.find("\r\n", pos);
        const std::string_view h = head.substr(pos, eol - pos);
        if (!h.starts_with("Content-Length: ") && h != "Connection: close" && !h.starts_with("Content-Type: text/plain")
            && h != "Content-Type: application/json"
            && h != "WWW-Authenticate: Basic realm=\"tuneslotd\", charset=\"UTF-8\"")
            std::abort();
        pos = eol + 2;
    }
    for (unsigned char c : head)
        if ((c < 0x20 || c > 0x7e) && c != '\r' && c != '\n')
            std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    const std::size_t chunk = 1 + data[0];
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    int routed = 0;
    auto render = [] { return std::string("tuneslotd_up 1\n"); };
    tuneslot::HttpRoutes routes = [&routed](const tuneslot::HttpRequest& r) -> std::optional<tuneslot::HttpAnswer> {
        ++routed;
        if (r.path != "/r")
            return std::nullopt;
        // what a route sees is within what was sent
        if (r.body.size() > tuneslot::MetricsServer::request_max)
            std::abort();
        return tuneslot::HttpAnswer{"200 OK", "application/json", "{}\n"};
    };

    std::string in;
    for (std::size_t at = 0; at < input.size(); at += chunk) {
        in.append(input.substr(at, chunk));
        std::optional<std::string> out = tuneslot::metrics_reply(in, render, routes, token, "127.0.0.1:1");
        if (!out) {
            if (in.size() > tuneslot::MetricsServer::request_max || routed != 0)
                std::abort();
            continue;
        }
        check_answer(in, *out, routed);
        return 0;
    }
    return 0;
}
