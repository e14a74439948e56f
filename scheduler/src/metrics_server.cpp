#include "metrics_server.h"

#include "text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// The answer to a complete request head
std::string answer(std::string_view in, const std::function<std::string()>& render, const HttpRoutes& routes)
{
    // the request line ends at the first LF, as the head may end at a bare
    // one; a CR before it is the line's end too
    std::string_view line = in.substr(0, in.find('\n'));
    if (line.ends_with('\r'))
        line.remove_suffix(1);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos)
        return response("400 Bad Request", "text/plain", "bad request\n");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const size_t mark = target.find('?');
    const std::string_view path = target.substr(0, mark);
    const std::string_view query = mark == std::string_view::npos ? std::string_view() : target.substr(mark + 1);
    std::string out;
    std::optional<HttpAnswer> routed;
    if (method != "GET" && method != "HEAD")
        out = response("405 Method Not Allowed", "text/plain", "only GET\n");
    else if (path == "/metrics")
        out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
    else if (routes && (routed = routes(path, query)))
        out = response(routed->status, routed->type, routed->body, routed->headers);
    else
        out = response("404 Not Found", "text/plain", routes ? "try /, /metrics, /status.json, /history.json or /place\n" : "try /metrics\n");
    if (method == "HEAD")
        out.resize(out.find("\r\n\r\n") + 4);
    return out;
}

}  // namespace

std::optional<std::string> metrics_reply(std::string_view in, const std::function<std::string()>& render,
    const HttpRoutes& routes)
{
    if (in.find("\r\n\r\n") != std::string_view::npos || in.find("\n\n") != std::string_view::npos)
        return answer(in, render, routes);
    if (in.size() > MetricsServer::request_max)
        return response("431 Request Header Fields Too Large", "text/plain", "request too large\n");
    return std::nullopt;
}

MetricsServer::MetricsServer(const std::string& host, int port, std::function<std::string()> render,
    HttpRoutes routes)
    : render_(std::move(render)), routes_(std::move(routes))
{
    const bool v6 = host.find(':') != std::string::npos;
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<std::uint16_t>(port));
        inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(static_cast<std::uint16_t>(port));
        inet_pton(AF_INET, host.c_str(), &a->sin_addr);
        len = sizeof *a;
    }
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
        fds.push_back({c.fd.get(), static_cast<short>(c.answering ? POLLOUT : POLLIN), 0});
}

void MetricsServer::accept_all()
{
    for (;;) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
        c.deadline = std::chrono::steady_clock::now() + client_timeout;
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
        if (std::optional<std::string> out = metrics_reply(c.in, render_, routes_)) {
            c.out = std::move(*out);
            c.answering = true;
            c.sent = 0;
            return on_writable(c);
        }
    }
}

bool MetricsServer::on_writable(Client& c)
{
    while (c.sent < c.out.size()) {
        ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        c.sent += static_cast<size_t>(n);
    }
    return false;   // all sent: close
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
        bool keep = it->answering ? on_writable(*it) : on_readable(*it);
        if (!keep || (p.revents & (POLLERR | POLLNVAL)) != 0)
            clients_.erase(it);
    }
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(clients_, [&](const Client& c) { return now >= c.deadline; });
}

}  // namespace tuneslot
