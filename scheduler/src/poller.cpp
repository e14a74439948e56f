#include "poller.h"

#include "clock.h"
#include "log.h"
#include "text.h"

#include <tune_snapshot.h>

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace tuneslot {

namespace {

struct EasyCleanup {
    void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
};

struct ShareCleanup {
    void operator()(CURLSH* s) const noexcept { curl_share_cleanup(s); }
};

// Why a transfer failed, in the words of the snapshot's reason field.
std::string failure_reason(CURL* easy, CURLcode rc, const char* errbuf, bool too_large)
{
    std::string detail = errbuf[0] != '\0' ? printable(errbuf, 150) : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        if (curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0)
            return cat("connect: ", std::strerror(static_cast<int>(os_errno)));
        return cat("connect: ", detail);
    }
    case CURLE_COULDNT_RESOLVE_HOST:
        return cat("resolve: ", detail);
    case CURLE_FILESIZE_EXCEEDED:
        return cat("body larger than ", body_max, " bytes");
    case CURLE_WRITE_ERROR:
        return too_large ? cat("body larger than ", body_max, " bytes") : cat("write: ", detail);
    case CURLE_GOT_NOTHING:
        return "empty reply";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return cat("tls: ", detail);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return cat("network: ", detail);
    default:
        return cat("curl: ", detail);
    }
}

}  // namespace

// ---- CurlLibrary -------------------------------------------------------------

CurlLibrary::CurlLibrary()
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        throw std::runtime_error("curl_global_init failed");
}

CurlLibrary::~CurlLibrary() { curl_global_cleanup(); }

// ---- Transfer ----------------------------------------------------------------

// One backend's status request: its easy handle, options set once, and the
// body of the current round.
class Transfer final {
public:
    // index: the backend's index in the config, for the Poller's tables
    Transfer(size_t index, const BackendConfig& backend, std::chrono::milliseconds timeout);
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    CURL* easy() const noexcept { return easy_.get(); }
    size_t index() const noexcept { return index_; }

    void begin() noexcept
    {
        body_.clear();
        too_large_ = false;
        errbuf_[0] = '\0';
    }

    PollOutcome finish(CURLcode rc);

private:
    static size_t on_body(char* data, size_t size, size_t count, void* self) noexcept;

    size_t index_;
    // The transfer's own DNS and connection caches.  The caches libcurl
    // keeps for the whole multi handle are walked in full at every resolve
    // (a sweep of expired DNS entries) and at every curl_multi_remove_handle
    // (a walk over all cached connections): with thousands of backends that
    // is quadratic and costs more than the polls themselves.  One backend,
    // one host, one connection: caches of its own hold one entry each.
    // Declared before easy_, so it outlives it.
    std::unique_ptr<CURLSH, ShareCleanup> caches_;
    std::unique_ptr<CURL, EasyCleanup> easy_;
    std::string body_;
    bool too_large_ = false;
    char errbuf_[CURL_ERROR_SIZE] = {};
};

Transfer::Transfer(size_t index, const BackendConfig& backend, std::chrono::milliseconds timeout)
    : index_(index), caches_(curl_share_init()), easy_(curl_easy_init())
{
    if (!easy_ || !caches_)
        throw std::runtime_error("curl_easy_init failed");
    if (curl_share_setopt(caches_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK
        || curl_share_setopt(caches_.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK)
        throw std::runtime_error("libcurl refused caches of the transfer's own");

    CURL* e = easy_.get();
    static const std::string user_agent = cat("tuneslotd/", TUNESLOT_VERSION);
    const long timeout_ms = static_cast<long>(timeout.count());

    bool ok = curl_easy_setopt(e, CURLOPT_URL, backend.status.c_str()) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_SHARE, caches_.get()) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(body_max)) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent.c_str()) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_body) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_WRITEDATA, this) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf_) == CURLE_OK
        && curl_easy_setopt(e, CURLOPT_PRIVATE, this) == CURLE_OK;
    if (ok && uses_credentials(backend.format)) {
        // basic alone: sent with the first request.  Basic and digest: libcurl
        // asks without credentials first and answers with the safest method
        // the server offers, so digest wins whenever it is offered.  Never
        // CURLAUTH_ANY: NTLM and Negotiate are not what these servers speak.
        const unsigned long methods =
            offers_digest(backend.format) ? CURLAUTH_BASIC | CURLAUTH_DIGEST : CURLAUTH_BASIC;
        ok = curl_easy_setopt(e, CURLOPT_HTTPAUTH, static_cast<long>(methods)) == CURLE_OK
            && curl_easy_setopt(e, CURLOPT_USERNAME, backend.username.c_str()) == CURLE_OK
            && curl_easy_setopt(e, CURLOPT_PASSWORD, backend.password.c_str()) == CURLE_OK;
    }
    if (!ok)
        throw std::runtime_error(cat("libcurl refused an option for backend ", backend.name));
}

size_t Transfer::on_body(char* data, size_t size, size_t count, void* self) noexcept
{
    auto* t = static_cast<Transfer*>(self);
    size_t n = size * count;
    if (n > body_max - t->body_.size()) {
        t->too_large_ = true;
        return 0;   // != n: libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    try {
        t->body_.append(data, n);
    } catch (...) {
        return 0;
    }
    return n;
}

PollOutcome Transfer::finish(CURLcode rc)
{
    PollOutcome out;
    out.polled_ms = wall_clock_ms();
    curl_off_t us = 0;
    if (curl_easy_getinfo(easy(), CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
        out.seconds = static_cast<double>(us) / 1e6;
    if (rc != CURLE_OK) {
        out.reason = failure_reason(easy(), rc, errbuf_, too_large_);
        return out;
    }
    long status = 0;
    curl_easy_getinfo(easy(), CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        out.reason = cat("HTTP ", status);
        return out;
    }
    out.ok = true;
    out.body = std::move(body_);
    body_.clear();
    return out;
}

// ---- Poller ------------------------------------------------------------------

Poller::Poller(const Config& config)
    : multi_(curl_multi_init()), epoll_(::epoll_create1(EPOLL_CLOEXEC))
{
    if (!multi_)
        throw std::runtime_error("curl_multi_init failed");
    if (!epoll_)
        throw std::system_error(errno, std::generic_category(), "epoll_create1");
    if (curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &Poller::on_socket) != CURLM_OK
        || curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this) != CURLM_OK
        || curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &Poller::on_timer) != CURLM_OK
        || curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this) != CURLM_OK)
        throw std::runtime_error("libcurl refused the socket callbacks");
    for (size_t i = 0; i < config.backends.size(); ++i)
        transfers_.push_back(std::make_unique<Transfer>(i, config.backends[i], config.timeout));
    active_.assign(transfers_.size(), false);
    outcomes_.resize(transfers_.size());
}

Poller::~Poller()
{
    // easy handles must leave the multi handle before either is cleaned up
    for (size_t i = 0; i < transfers_.size(); ++i)
        if (active_[i])
            curl_multi_remove_handle(multi_.get(), transfers_[i]->easy());
}

void Poller::start()
{
    for (size_t i = 0; i < transfers_.size(); ++i) {
        if (active_[i]) {
            curl_multi_remove_handle(multi_.get(), transfers_[i]->easy());
            active_[i] = false;
        }
        outcomes_[i] = PollOutcome{};
        transfers_[i]->begin();
        CURLMcode mc = curl_multi_add_handle(multi_.get(), transfers_[i]->easy());
        if (mc != CURLM_OK) {
            outcomes_[i].polled_ms = wall_clock_ms();
            outcomes_[i].reason = cat("curl: ", curl_multi_strerror(mc));
            continue;
        }
        active_[i] = true;
    }
    running_ = 0;
    for (bool a : active_)
        running_ += a ? 1 : 0;
}

int Poller::on_socket(CURL*, curl_socket_t s, int what, void* self, void*) noexcept
{
    auto* p = static_cast<Poller*>(self);
    if (what == CURL_POLL_REMOVE) {
        // may fail when libcurl already closed the socket: epoll forgot it then
        ::epoll_ctl(p->epoll_.get(), EPOLL_CTL_DEL, s, nullptr);
        return 0;
    }
    epoll_event ev{};
    ev.events = ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (::epoll_ctl(p->epoll_.get(), EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT
        && ::epoll_ctl(p->epoll_.get(), EPOLL_CTL_ADD, s, &ev) != 0)
        return -1;      // libcurl fails the transfer
    return 0;
}

int Poller::on_timer(CURLM*, long timeout_ms, void* self) noexcept
{
    auto* p = static_cast<Poller*>(self);
    if (timeout_ms < 0)
        p->timer_.reset();
    else
        p->timer_ = MonoClock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
}

void Poller::socket_action(curl_socket_t s, int mask)
{
    int still = 0;
    CURLMcode mc = curl_multi_socket_action(multi_.get(), s, mask, &still);
    if (mc != CURLM_OK) {
        log::alert("curl_multi_socket_action: ", curl_multi_strerror(mc));
        abort(cat("curl: ", curl_multi_strerror(mc)));
    }
}

void Poller::step(std::chrono::milliseconds wait, std::vector<pollfd>& extra)
{
    std::vector<pollfd> fds;
    fds.reserve(extra.size() + 1);
    fds.push_back({epoll_.get(), POLLIN, 0});
    fds.insert(fds.end(), extra.begin(), extra.end());
    if (timer_) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(*timer_ - MonoClock::now());
        wait = std::min(wait, std::max(left, std::chrono::milliseconds(0)));
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(wait.count(), 0)));
    if (n < 0 && errno != EINTR) {
        log::alert("poll: ", std::strerror(errno));
        abort(cat("poll: ", std::strerror(errno)));
        return;
    }
    for (size_t i = 0; i < extra.size(); ++i)
        extra[i].revents = n > 0 ? fds[i + 1].revents : 0;

    if (n > 0 && fds[0].revents != 0) {
        epoll_event events[256];
        int ready = 0;
        do {
            ready = ::epoll_wait(epoll_.get(), events, 256, 0);
            for (int i = 0; i < ready; ++i) {
                const std::uint32_t e = events[i].events;
                int mask = ((e & EPOLLIN) != 0 ? CURL_CSELECT_IN : 0) | ((e & EPOLLOUT) != 0 ? CURL_CSELECT_OUT : 0)
                    | ((e & (EPOLLERR | EPOLLHUP)) != 0 ? CURL_CSELECT_ERR : 0);
                socket_action(events[i].data.fd, mask);
            }
        } while (ready == 256);
    }
    if (timer_ && MonoClock::now() >= *timer_) {
        timer_.reset();
        socket_action(CURL_SOCKET_TIMEOUT, 0);
    }
    collect();
}

void Poller::collect()
{
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL* easy = msg->easy_handle;
        CURLcode result = msg->data.result;   // msg is invalid after remove_handle
        char* priv = nullptr;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || priv == nullptr)
            continue;
        const size_t i = reinterpret_cast<Transfer*>(priv)->index();
        if (i >= transfers_.size() || transfers_[i]->easy() != easy || !active_[i])
            continue;
        outcomes_[i] = transfers_[i]->finish(result);
        curl_multi_remove_handle(multi_.get(), easy);
        active_[i] = false;
        --running_;
    }
}

void Poller::abort(const std::string& reason)
{
    for (size_t i = 0; i < transfers_.size(); ++i) {
        if (!active_[i])
            continue;
        curl_multi_remove_handle(multi_.get(), transfers_[i]->easy());
        active_[i] = false;
        outcomes_[i] = PollOutcome{};
        outcomes_[i].polled_ms = wall_clock_ms();
        outcomes_[i].reason = reason;
    }
    running_ = 0;
}

}  // namespace tuneslot
