#pragma once

// The HTTP listener (`metrics`): a tiny HTTP/1.0 server inside the main
// loop, so it needs no thread and can never block polling.  Everything is
// non-blocking and bounded: at most max_clients connections (more are
// closed at once), a request of at most request_max bytes, client_timeout
// for the whole request and then for each stretch of the answer without
// progress (send_limit in all); a slow or silent client is dropped, never
// waited for.  GET /metrics is answered, and what the daemon routes (the
// status page, /place, the page's POSTs); with a token, nothing without it
// (401); without one, nothing that names the listener by a host name (421:
// DNS rebinding); anything else gets 404, 405 or 400.
//
// The daemon adds the server's fds to the set it waits on (add_fds) and
// hands back the ready ones (handle); the body is rendered only when a
// complete request asks for it.  Main thread only.

#include "unique_fd.h"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tuneslot {

// An answer of the listener besides /metrics.
struct HttpAnswer {
    std::string status;     // "200 OK"
    std::string type;       // its Content-Type
    std::string body;
    std::string headers = {};   // more header lines, each ending in CR LF
};

// A request as the routes see it: every view points into the request
// read, which outlives the call.
struct HttpRequest {
    std::string_view method;        // GET, HEAD or POST
    std::string_view path;          // the target up to '?'
    std::string_view query;         // after it, "" when none
    std::string_view body;          // POST: Content-Length bytes
    std::string_view origin;        // the Origin header, "" when none
    std::string_view host;          // the Host header, "" when none
    std::string_view admin;         // the X-Tuneslot-Admin header, "" when none
    std::string user;               // basic auth's user name, "" when none
    std::string peer;               // the client's address, "ADDR:PORT"
};

// The answer to a request for a path other than /metrics (authenticated
// when the listener has a token); nullopt: 404.  HEAD is answered as GET
// without the body.
using HttpRoutes = std::function<std::optional<HttpAnswer>(const HttpRequest& request)>;

// The socket address of a numeric host (IPv4, or IPv6 without brackets)
// and port, as `metrics` gives them; its length.
socklen_t numeric_sockaddr(const std::string& host, int port, sockaddr_storage& ss);

// Whether a secret given matches the secret, in a time that depends on the
// lengths only; never for an empty secret.
bool same_secret(std::string_view given, std::string_view secret);

// An application/x-www-form-urlencoded body ("a=1&b=x%20y"): name -> value,
// decoded; nullopt with why set for a malformed one or a name given twice.
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body, std::string& why);

// The answer to what a client sent so far (in), or nothing while more is
// needed: once in holds the end of a request head (an empty line, CR LF or
// a bare LF) and, for a POST the routes may take, its body, the answer to
// it; past request_max bytes without one, 431.  With a token, a request
// that does not carry it (Authorization: Bearer, or basic auth's password)
// is answered 401.  render is called only for a 200 of /metrics, routes
// (when given) for any other path.  A pure function of its input, so it is
// fuzzed on its own (fuzz_metrics_request).
std::optional<std::string> metrics_reply(std::string_view in, const std::function<std::string()>& render,
    const HttpRoutes& routes = nullptr, std::string_view token = {}, std::string_view peer = {});

class MetricsServer final {
public:
    static constexpr std::size_t max_clients = 16;
    static constexpr std::size_t request_max = 4096;
    // to send a request, and then for each stretch of the answer's sending
    // without progress, within send_limit in all
    static constexpr std::chrono::milliseconds client_timeout{2000};
    static constexpr std::chrono::milliseconds send_limit{30000};
    // how long, once the answer is sent, the client's unread bytes are read
    // away until it closes (so that closing does not reset the answer)
    static constexpr std::chrono::milliseconds linger{500};
    // how long accepting pauses when the process is out of descriptors
    static constexpr std::chrono::milliseconds accept_pause{100};

    // Listens on host (numeric) and port; throws std::system_error naming
    // the address when it cannot.
    MetricsServer(const std::string& host, int port, std::function<std::string()> render,
        HttpRoutes routes = nullptr, std::string token = {});
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // A new token after a reload (the same address: no new socket); "" for none
    void set_token(std::string token) { token_ = std::move(token); }

    // Appends the fds to wait on, with the events wanted.
    void add_fds(std::vector<pollfd>& fds) const;

    // Acts on the ready fds among fds (others are ignored), then drops
    // clients past their deadline.
    void handle(const std::vector<pollfd>& fds);

private:
    struct Client {
        UniqueFd fd;
        std::string peer;   // "ADDR:PORT"
        std::string in;
        std::string out;
        std::size_t sent = 0;
        std::chrono::steady_clock::time_point accepted;
        std::chrono::steady_clock::time_point deadline;
        bool answering = false;
        bool closing = false;   // all sent: reading until the client closes
    };

    void accept_all();
    // false when the client is done (closed or failed)
    bool on_readable(Client& c);
    bool on_writable(Client& c);
    bool on_closing(Client& c);

    UniqueFd listen_;
    std::function<std::string()> render_;
    HttpRoutes routes_;
    std::string token_;
    std::vector<Client> clients_;
    // Out of file descriptors: the pending connection stays in the backlog
    // and the listening socket stays readable, so it is left out of the
    // wait set for a moment instead of being polled in a busy loop.
    std::chrono::steady_clock::time_point accept_paused_until_{};
};

}  // namespace tuneslot
