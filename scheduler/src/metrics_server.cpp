#include "metrics_server.h"

#include "text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

namespace tuneslot {

namespace {

std::string response(std::string_view status, std::string_view type, std::string_view body,
    std::string_view headers = {})
{
    return cat("HTTP/1.0 ", status, "\r\nContent-Type: ", type, "\r\nContent-Length: ", body.size(),
        "\r\nConnection: close\r\n", headers, "\r\n", body);
}

// Header name comparison: ASCII, any case
bool same_name(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

// The value of header name among the head's lines, "" when absent
std::string_view header(std::string_view head, std::string_view name)
{
    while (!head.empty()) {
        const size_t eol = head.find('\n');
        std::string_view line = head.substr(0, eol);
        head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos || !same_name(line.substr(0, colon), name))
            continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
            value.remove_suffix(1);
        return value;
    }
    return {};
}

// RFC 4648 base64 as basic auth sends it (padded); nullopt when malformed
std::optional<std::string> from_base64(std::string_view in)
{
    if (in.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    unsigned bits = 0, have = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        unsigned v;
        if (c >= 'A' && c <= 'Z')
            v = static_cast<unsigned>(c - 'A');
        else if (c >= 'a' && c <= 'z')
            v = static_cast<unsigned>(c - 'a' + 26);
        else if (c >= '0' && c <= '9')
            v = static_cast<unsigned>(c - '0' + 52);
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=' && i + 2 >= in.size() && (i + 1 == in.size() || in[i + 1] == '='))
            break;
        else
            return std::nullopt;
        bits = ((bits << 6) | v) & 0xffffff;
        have += 6;
        if (have >= 8) {
            have -= 8;
            out.push_back(static_cast<char>((bits >> have) & 0xff));
        }
    }
    return out;
}

// Whether an Authorization header carries token; user gets basic auth's user name
bool authorized(std::string_view authorization, std::string_view token, std::string& user)
{
    if (authorization.size() > 7 && same_name(authorization.substr(0, 7), "Bearer "))
        return same_secret(authorization.substr(7), token);
    if (authorization.size() > 6 && same_name(authorization.substr(0, 6), "Basic ")) {
        std::optional<std::string> pair = from_base64(authorization.substr(6));
        const size_t colon = pair ? pair->find(':') : std::string::npos;
        if (colon == std::string::npos || !same_secret(std::string_view(*pair).substr(colon + 1), token))
            return false;
        user = printable(pair->substr(0, colon), 64);
        return true;
    }
    return false;
}

// Whether a Host header names the listener by address, not by a name: an
// IPv4 or [IPv6] literal, or localhost, each with a port or without.  A
// page of another site whose name an attacker re-points at 127.0.0.1 (DNS
// rebinding) sends its own name, which this refuses.
bool host_is_address(std::string_view host)
{
    std::string_view name = host;
    if (name.starts_with('[')) {
        const size_t close = name.find(']');
        if (close == std::string_view::npos)
            return false;
        in6_addr a6{};
        const std::string literal(name.substr(1, close - 1));
        const std::string_view rest = name.substr(close + 1);
        return inet_pton(AF_INET6, literal.c_str(), &a6) == 1 && (rest.empty() || rest.starts_with(':'));
    }
    name = name.substr(0, name.find(':'));
    in_addr a4{};
    return same_name(name, "localhost") || inet_pton(AF_INET, std::string(name).c_str(), &a4) == 1;
}

// Where the head ends (the index of the body's first byte), or npos
size_t head_end(std::string_view in)
{
    const size_t crlf = in.find("\r\n\r\n");
    const size_t lf = in.find("\n\n");
    if (crlf == std::string_view::npos && lf == std::string_view::npos)
        return std::string_view::npos;
    return crlf < lf ? crlf + 4 : lf + 2;
}

// The answer to a complete request: the head up to body_at, then a POST's body
std::string answer(std::string_view in, size_t body_at, const std::function<std::string()>& render,
    const HttpRoutes& routes, std::string_view token, std::string_view peer)
{
    // the request line ends at the first LF, as the head may end at a bare
    // one; a CR before it is the line's end too
    const size_t first_eol = std::min(in.find('\n'), body_at);
    std::string_view line = in.substr(0, first_eol);
    const std::string_view head = in.substr(first_eol, body_at - first_eol);
    if (line.ends_with('\r'))
        line.remove_suffix(1);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
        return response("400 Bad Request", "text/plain", "bad request\n");
    HttpRequest r;
    r.method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const size_t mark = target.find('?');
    r.path = target.substr(0, mark);
    r.query = mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
    r.body = in.substr(body_at);
    r.origin = header(head, "Origin");
    r.host = header(head, "Host");
    r.admin = header(head, "X-Tuneslot-Admin");
    r.peer = std::string(peer);
    std::string out;
    std::optional<HttpAnswer> routed;
    if (r.method != "GET" && r.method != "HEAD" && !(r.method == "POST" && routes))
        out = response("405 Method Not Allowed", "text/plain", routes ? "only GET and POST\n" : "only GET\n");
    else if (token.empty() && !r.host.empty() && !host_is_address(r.host))
        out = response("421 Misdirected Request", "text/plain",
            "this listener answers by its address (or localhost) only; give it http_token to use a host name\n");
    else if (!token.empty() && !authorized(header(head, "Authorization"), token, r.user))
        out = response("401 Unauthorized", "text/plain", "this listener wants its token\n",
            "WWW-Authenticate: Basic realm=\"tuneslotd\", charset=\"UTF-8\"\r\n");
    else if (r.path == "/metrics" && r.method != "POST")
        out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
    else if (routes && (routed = routes(r)))
        out = response(routed->status, routed->type, routed->body, routed->headers);
    else
        out = response("404 Not Found", "text/plain",
            routes ? "try /, /metrics, /status.json, /history.json or /place\n" : "try /metrics\n");
    if (r.method == "HEAD")
        out.resize(out.find("\r\n\r\n") + 4);
    return out;
}

// "127.0.0.1:40000", "[::1]:40000": who asked, for the log
std::string peer_name(const sockaddr_storage& from)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (from.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&from);
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        return cat(text, ":", ntohs(a->sin_port));
    }
    if (from.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&from);
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
        return cat("[", text, "]:", ntohs(a->sin6_port));
    }
    return "?";
}

}  // namespace

socklen_t numeric_sockaddr(const std::string& host, int port, sockaddr_storage& ss)
{
    ss = sockaddr_storage{};
    if (host.find(':') != std::string::npos) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<std::uint16_t>(port));
        inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
        return sizeof *a;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    return sizeof *a;
}

bool same_secret(std::string_view given, std::string_view secret)
{
    unsigned char diff = given.size() == secret.size() ? 0 : 1;
    for (size_t i = 0; i < given.size() && !secret.empty(); ++i)
        diff |= static_cast<unsigned char>(given[i] ^ secret[i % secret.size()]);
    return diff == 0 && !secret.empty();
}

std::optional<std::map<std::string, std::string>> parse_form(std::string_view body, std::string& why)
{
    auto decode = [&why](std::string_view in, std::string& out) {
        for (size_t i = 0; i < in.size(); ++i) {
            if (in[i] == '+') {
                out.push_back(' ');
            } else if (in[i] == '%') {
                unsigned v = 0;
                if (i + 2 >= in.size()
                    || std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16).ptr != in.data() + i + 3) {
                    why = "a malformed %-escape";
                    return false;
                }
                out.push_back(static_cast<char>(v));
                i += 2;
            } else {
                out.push_back(in[i]);
            }
        }
        return true;
    };
    std::map<std::string, std::string> form;
    while (!body.empty()) {
        const size_t amp = body.find('&');
        const std::string_view part = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
        const size_t eq = part.find('=');
        std::string name, value;
        if (!decode(part.substr(0, eq), name)
            || !decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), value))
            return std::nullopt;
        if (!form.emplace(std::move(name), std::move(value)).second) {
            why = "a field given twice";
            return std::nullopt;
        }
    }
    return form;
}

std::optional<std::string> metrics_reply(std::string_view in, const std::function<std::string()>& render,
    const HttpRoutes& routes, std::string_view token, std::string_view peer)
{
    const size_t body_at = head_end(in);
    if (body_at == std::string_view::npos) {
        if (in.size() > MetricsServer::request_max)
            return response("431 Request Header Fields Too Large", "text/plain", "request too large\n");
        return std::nullopt;
    }
    // a POST the routes may take: its body too, Content-Length bytes, the
    // whole within request_max
    if (routes && in.starts_with("POST ")) {
        const std::string_view length = header(in.substr(0, body_at), "Content-Length");
        size_t n = 0;
        auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
        if (length.empty() || ec != std::errc() || end != length.data() + length.size())
            return response("411 Length Required", "text/plain", "a POST needs its Content-Length\n");
        if (n > MetricsServer::request_max || body_at + n > MetricsServer::request_max)
            return response("413 Content Too Large", "text/plain", "request too large\n");
        if (in.size() < body_at + n)
            return std::nullopt;
        return answer(in.substr(0, body_at + n), body_at, render, routes, token, peer);
    }
    return answer(in.substr(0, body_at), body_at, render, routes, token, peer);
}

MetricsServer::MetricsServer(const std::string& host, int port, std::function<std::string()> render,
    HttpRoutes routes, std::string token)
    : render_(std::move(render)), routes_(std::move(routes)), token_(std::move(token))
{
    const bool v6 = host.find(':') != std::string::npos;
    sockaddr_storage ss{};
    const socklen_t len = numeric_sockaddr(host, port, ss);
    const std::string where = v6 ? cat("[", host, "]:", port) : cat(host, ":", port);
    listen_.reset(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listen_)
        throw std::system_error(errno, std::generic_category(), cat("metrics ", where, ": socket"));
    int one = 1;
    setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        throw std::system_error(errno, std::generic_category(), cat("metrics ", where, ": bind"));
    if (::listen(listen_.get(), 16) != 0)
        throw std::system_error(errno, std::generic_category(), cat("metrics ", where, ": listen"));
}

void MetricsServer::add_fds(std::vector<pollfd>& fds) const
{
    if (std::chrono::steady_clock::now() >= accept_paused_until_)
        fds.push_back({listen_.get(), POLLIN, 0});
    for (const Client& c : clients_)
        fds.push_back({c.fd.get(), static_cast<short>(c.answering && !c.closing ? POLLOUT : POLLIN), 0});
}

void MetricsServer::accept_all()
{
    for (;;) {
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        int fd = ::accept4(listen_.get(), reinterpret_cast<sockaddr*>(&from), &from_len,
            SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_paused_until_ = std::chrono::steady_clock::now() + accept_pause;
            return;     // EAGAIN, or a failure a later wake-up retries
        }
        UniqueFd owned(fd);
        if (clients_.size() >= max_clients)
            continue;   // closed at once: a scraper retries, a flood gets nothing
        Client c;
        c.fd = std::move(owned);
        c.peer = peer_name(from);
        c.accepted = std::chrono::steady_clock::now();
        c.deadline = c.accepted + client_timeout;
        clients_.push_back(std::move(c));
    }
}

bool MetricsServer::on_readable(Client& c)
{
    char buf[1024];
    for (;;) {
        ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.in.append(buf, static_cast<size_t>(n));
        if (std::optional<std::string> out = metrics_reply(c.in, render_, routes_, token_, c.peer)) {
            c.out = std::move(*out);
            c.answering = true;
            c.sent = 0;
            return on_writable(c);
        }
    }
}

bool MetricsServer::on_writable(Client& c)
{
    const auto now = std::chrono::steady_clock::now();
    while (c.sent < c.out.size()) {
        ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.sent += static_cast<size_t>(n);
        // a large answer to a slow reader: client_timeout is for each
        // stretch without progress, within send_limit of the accept
        c.deadline = std::min(now + client_timeout, c.accepted + send_limit);
    }
    // All sent.  Unread bytes at close() would make the kernel reset the
    // connection, which may throw the answer away before the client reads
    // it (a body sent with a refused POST, a GET's): say we are done and
    // read until the client closes too, briefly.
    ::shutdown(c.fd.get(), SHUT_WR);
    c.closing = true;
    c.deadline = std::min(c.deadline, now + linger);
    return true;
}

bool MetricsServer::on_closing(Client& c)
{
    char buf[1024];
    for (;;) {
        ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    }
}

void MetricsServer::handle(const std::vector<pollfd>& fds)
{
    for (const pollfd& p : fds) {
        if (p.revents == 0)
            continue;
        if (p.fd == listen_.get()) {
            accept_all();
            continue;
        }
        auto it = std::find_if(clients_.begin(), clients_.end(), [&](const Client& c) { return c.fd.get() == p.fd; });
        if (it == clients_.end())
            continue;
        bool keep = it->closing ? on_closing(*it) : it->answering ? on_writable(*it) : on_readable(*it);
        if (!keep || (p.revents & (POLLERR | POLLNVAL)) != 0)
            clients_.erase(it);
    }
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(clients_, [&](const Client& c) { return now >= c.deadline; });
}

}  // namespace tuneslot
