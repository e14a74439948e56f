#include "redis_writer.h"

#include "clock.h"
#include "contract.h"
#include "log.h"
#include "text.h"

#include "lease_lua.h"           // generated at build time from redis/lease.lua
#include "publish_round_lua.h"   // generated at build time from redis/publish_round.lua

#include <tune_hiredis.h>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tuneslot {

namespace {

using contract::channel_rounds;
using contract::key_fence;
using contract::key_generation;
using contract::key_leader;
using contract::key_snapshot;

std::string error_of(const redisContext* c);

// Waits until c's socket is ready for events or deadline passes; false on
// the deadline or a failed poll(), with why set.
bool wait_for(redisContext* c, short events, MonoClock::time_point deadline, std::string& why)
{
    for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - MonoClock::now());
        if (left.count() <= 0) {
            why = "timeout";
            return false;
        }
        pollfd p{c->fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR) {
            why = cat("poll: ", std::strerror(errno));
            return false;
        }
    }
}

// One command, binary-safe, on a non-blocking context: written and its
// reply read by the deadline.  Null with why set on a timeout or an I/O or
// protocol error (c->err then set too, as hiredis says).
RedisReplyPtr exchange(redisContext* c, int argc, const char** argv, const size_t* lens,
    MonoClock::time_point deadline, std::string& why)
{
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) {
        why = error_of(c);
        return nullptr;
    }
    for (int done = 0; !done;) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            why = error_of(c);
            return nullptr;
        }
        if (!done && !wait_for(c, POLLOUT, deadline, why))
            return nullptr;
    }
    for (;;) {
        void* reply = nullptr;
        if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
            why = error_of(c);
            return nullptr;
        }
        if (reply != nullptr)
            return RedisReplyPtr(static_cast<redisReply*>(reply));
        if (!wait_for(c, POLLIN, deadline, why))
            return nullptr;
        if (redisBufferRead(c) != REDIS_OK) {
            why = error_of(c);
            return nullptr;
        }
    }
}

RedisReplyPtr exchange(redisContext* c, const std::vector<std::string_view>& args,
    MonoClock::time_point deadline, std::string& why)
{
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (std::string_view a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    return exchange(c, static_cast<int>(argv.size()), argv.data(), lens.data(), deadline, why);
}

// A connection started without blocking, done by the deadline; false with
// why set
bool finish_connect(redisContext* c, MonoClock::time_point deadline, std::string& why)
{
    if (!wait_for(c, POLLOUT, deadline, why))
        return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        why = printable(std::strerror(err), 120);
        return false;
    }
    return true;
}

// The monotonic clock in ms, as tune_link reads time
std::int64_t now_ms() noexcept
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(MonoClock::now().time_since_epoch()).count();
}

// After a call Redis did not answer, calls fail at once (no I/O) until the
// next try: 250 ms, doubling with each failure up to 4 s.  So a hung Redis
// holds the loop for one budget at most every few seconds, not at every
// tick, while a Redis that is back is found within the backoff.
constexpr std::int64_t backoff_min_ms = 250;
constexpr std::int64_t backoff_max_ms = 4000;

// True when the connection failed because the server closed it.
bool closed_by_peer(const redisContext* c)
{
    if (c->err == REDIS_ERR_EOF)
        return true;
    std::string_view what = c->errstr;
    return c->err == REDIS_ERR_IO && (what == std::strerror(ECONNRESET) || what == std::strerror(EPIPE));
}

// The context's error for a log line (a timeout is wait_for()'s to say)
std::string error_of(const redisContext* c)
{
    return printable(c->errstr, 120);
}

// "7.0.15" from an INFO server reply, or "unknown".
std::string server_version(const redisReply* r)
{
    static constexpr std::string_view field = "redis_version:";
    if (r == nullptr || r->type != REDIS_REPLY_STRING)
        return "unknown";
    std::string_view info(r->str, r->len);
    size_t at = info.find(field);
    if (at == std::string_view::npos)
        return "unknown";
    std::string_view v = info.substr(at + field.size());
    v = v.substr(0, v.find_first_of("\r\n"));
    return printable(v, 32);
}

// Why a hello failed when Redis refused a command of it, in Redis's words
// (tune_link_why()) as tuneslotd's lines put them
std::string refusal(const RedisAddress& address, std::string_view step, const tune_link_t& link)
{
    std::string_view words = tune_link_why(&link);
    if (tune_link_refused(&link)) {
        if (words.ends_with('.'))
            words.remove_suffix(1);
        return cat("the credentials were refused",
            address.user.empty() ? std::string() : cat(" (user ", quote(address.user), ")"), ": ",
            printable(words, 160));
    }
    if (step == "SELECT")
        return cat("SELECT ", address.db, ": ", printable(words, 160));
    return cat(step, ": ", printable(words, 160));
}

}  // namespace

RedisWriter::RedisWriter(RedisAddress address, std::chrono::milliseconds io_timeout)
    : address_(std::move(address)), io_timeout_(io_timeout)
{
    tune_link_conf_t& c = link_conf_;
    if (address_.unix_path.empty()) {
        c.host = address_.host.c_str();
        c.port = static_cast<unsigned>(address_.port);
    } else {
        c.path = address_.unix_path.c_str();
    }
    c.display = address_.text.c_str();
    if (!address_.password.empty()) {
        c.user = address_.user.data();
        c.user_len = address_.user.size();
        c.password = address_.password.data();
        c.password_len = address_.password.size();
    }
    c.db = static_cast<unsigned>(address_.db);
    if (!address_.sentinels.empty()) {
        for (const auto& [host, port] : address_.sentinels)
            sentinels_.push_back({host.c_str(), static_cast<unsigned>(port)});
        c.sentinels = sentinels_.data();
        c.nsentinels = static_cast<unsigned>(sentinels_.size());
        c.master_name = address_.master_name.data();
        c.master_name_len = address_.master_name.size();
        if (!address_.sentinel_password.empty()) {
            c.sentinel_user = address_.sentinel_user.data();
            c.sentinel_user_len = address_.sentinel_user.size();
            c.sentinel_password = address_.sentinel_password.data();
            c.sentinel_password_len = address_.sentinel_password.size();
        }
        // a Sentinel that does not answer at once is passed over: the
        // call's budget (io_timeout) must leave room for the next ones
        c.sentinel_timeout_ms = std::min<int64_t>(io_timeout_.count() / 4, 500);
        c.sentinel_directive = "redis_sentinel_password";
    }
    // no SCRIPT LOAD in the hello: the scripts go as EVALSHA, then EVAL
    c.script = nullptr;
    c.timeout_ms = io_timeout_.count();
    c.backoff_min_ms = backoff_min_ms;
    c.backoff_max_ms = backoff_max_ms;
    c.directive = "redis_password";
    c.effect = "rounds are not written until it is back";
    // the lines are this class's own (failed(), publish())
    c.quiet = 1;
    tune_link_init(&link_, &link_conf_);
}

bool RedisWriter::connect(std::string& why)
{
    refused_ = false;
    RedisContextPtr ctx;
    std::string step;           // the hello's command last sent, for why
    bool error = false;         // ... and Redis refused it
    tune_action_t act;
    bool ready = false;
    // this attempt's connection goes, and the link is told why
    auto dropped = [&] {
        ctx.reset();
        tune_link_dropped(&link_, now_ms(), why.c_str());
        return false;
    };
    // with Sentinels a connection that failed is one Sentinel (or one
    // node they named) of several: the link goes on to the next within
    // the same call, and says WAIT when a round of them failed
    const bool sentinels = !address_.sentinels.empty();
    // a Sentinel is given its own short time within the call's budget, so
    // that one that hangs leaves time for the next
    auto step_deadline = [&] {
        if (link_.state != TUNE_LINK_ASKING)
            return deadline_;
        return std::min(deadline_, MonoClock::now() + std::chrono::milliseconds(link_conf_.sentinel_timeout_ms));
    };

    // ctx_ is held exactly while the link is ready (drop() tells it when
    // ctx_ goes): the link starts from a failure or from idle here
    tune_link_start(&link_, now_ms());

    // tune_link's hello, carried out within the call's budget (which ends
    // before the machine's deadlines would), until the link is ready
    while (!ready) {
        switch (tune_link_next(&link_, now_ms(), &act)) {

        case TUNE_DO_CONNECT:
            // not blocking, so the budget bounds the connect too (a name
            // is resolved before, by the system's resolver)
            ctx.reset(act.port != 0 ? redisConnectNonBlock(act.host, static_cast<int>(act.port))
                                    : redisConnectUnixNonBlock(act.path));
            if (!ctx) {
                why = "connect: out of memory";
            } else if (ctx->err != 0) {
                why = cat("connect: ", error_of(ctx.get()));
            } else if (!finish_connect(ctx.get(), step_deadline(), why)) {
                why = cat("connect: ", why);
            } else {
                if (act.port != 0)
                    redisEnableKeepAlive(ctx.get());
                tune_link_connected(&link_, now_ms());
                break;
            }
            if (sentinels) {
                dropped();
                break;
            }
            return dropped();

        case TUNE_DO_SEND: {
            // the hello: AUTH [user] password, SELECT db; the password goes
            // into no message (a refusal quotes Redis's error, which never
            // echoes it)
            step.assign(act.argv[0], act.argvlen[0]);
            RedisReplyPtr r = exchange(ctx.get(), act.argc, act.argv, act.argvlen, step_deadline(), why);
            if (!r) {
                why = cat(step, ": ", why);
                if (sentinels) {
                    dropped();
                    break;
                }
                return dropped();
            }
            // the Sentinel's answer (host, port) and ROLE's are arrays:
            // their first elements are what the link reads (a replica's
            // ROLE has five)
            tune_reply_t reply, elements[8];
            tune_hiredis_reply(r.get(), &reply, elements, std::size(elements));
            error = reply.type == TUNE_REPLY_ERROR;
            tune_link_reply(&link_, now_ms(), &reply);
            break;
        }

        case TUNE_DO_CLOSE:
            if (!ctx)
                break;          // nothing of this attempt's is open
            ctx.reset();
            if (sentinels && !tune_link_refused(&link_)) {
                // a Sentinel answered (the master's connection is next),
                // or failed, or the node it named is not the master: the
                // link says what comes next
                break;
            }
            // the hello failed: Redis refused a command of it, or (not
            // with this budget, which ends first) a deadline passed
            refused_ = tune_link_refused(&link_) != 0;
            why = error ? refusal(address_, step, link_)
                        : cat(step, ": ", printable(tune_link_why(&link_), 160));
            return false;

        case TUNE_DO_WAIT:
            ready = tune_link_ready(&link_) && ctx;
            if (!ready) {
                // the link waits for its backoff after a failure: no try
                // now, the call fails at once with the failure's reason
                why = printable(tune_link_why(&link_), 160);
                return false;
            }
            break;

        default:
            // LOG and STATE: the lines are this class's own
            break;
        }
    }

    // tuneslotd's own first command: the server's version for its lines
    RedisReplyPtr info = exchange(ctx.get(), {"INFO", "server"}, deadline_, why);
    if (!info) {
        why = cat("INFO: ", why);
        return dropped();
    }
    server_version_ = server_version(info.get());
    // where the Sentinels put the master: at start, and after a failover
    if (sentinels && master_logged_ != tune_link_master(&link_)) {
        master_logged_ = tune_link_master(&link_);
        log::notice("redis master \"", address_.master_name, "\" is at ", master_logged_,
            " (Redis Sentinel)");
    }
    // the backoff starts again only once a command of the call's own is
    // answered (call_argv()): a Redis that takes the hello but not the
    // command in time keeps backing off
    ctx_ = std::move(ctx);
    return true;
}

void RedisWriter::drop(const std::string& why)
{
    ctx_.reset();
    tune_link_dropped(&link_, now_ms(), why.c_str());
}

void RedisWriter::failed(const std::string& why)
{
    // Once per outage; but credentials refused after Redis was away for
    // another reason (restarted with a new password) are worth a line of
    // their own: they will not go away by themselves.
    if (refused_) {
        if (state_ == State::refused)
            return;
        log::error("redis ", address_.text, ": ", why, "; rounds are not written until it is back");
        state_ = State::refused;
        return;
    }
    if (state_ == State::down || state_ == State::refused)
        return;
    log::warn("redis ", address_.text, ": ", why, "; rounds are not written until it is back");
    state_ = State::down;
}

void RedisWriter::try_now()
{
    if (!ctx_)
        tune_link_stop(&link_);
}

void RedisWriter::begin_call()
{
    deadline_ = MonoClock::now() + io_timeout_;
}

RedisReplyPtr RedisWriter::call(std::initializer_list<std::string_view> args, std::string& why)
{
    begin_call();
    std::vector<std::string_view> argv(args);
    return call_argv(argv, argv.empty() ? std::string_view() : argv[0], why);
}

RedisReplyPtr RedisWriter::call_argv(const std::vector<std::string_view>& args, std::string_view what,
    std::string& why)
{
    bool fresh = false;
    if (!ctx_) {
        if (!connect(why)) {
            answering_ = false;
            return nullptr;
        }
        fresh = true;
    }
    RedisReplyPtr r = exchange(ctx_.get(), args, deadline_, why);
    if (!r && !fresh && closed_by_peer(ctx_.get())) {
        // Redis closed the connection of an earlier call (restart, client
        // timeout): once more on a new one, at once (no backoff: nothing
        // failed), within what is left of the call's budget.  Not after a
        // timeout, so a hung Redis costs one budget per call, not two.
        ctx_.reset();
        tune_link_stop(&link_);
        if (!connect(why)) {
            answering_ = false;
            return nullptr;
        }
        r = exchange(ctx_.get(), args, deadline_, why);
    }
    if (!r) {
        why = cat(what, ": ", why);
        drop(why);
        answering_ = false;
        return nullptr;
    }
    tune_link_answered(&link_, now_ms());
    answering_ = true;
    return r;
}

RedisReplyPtr RedisWriter::run_script(std::string_view what, std::string_view sha, std::string_view script,
    std::initializer_list<std::string_view> keys_and_args, int nkeys, std::string& why)
{
    // one budget for EVALSHA and, after NOSCRIPT, EVAL
    begin_call();
    const std::string n = cat(nkeys);
    std::vector<std::string_view> args{"EVALSHA", sha, n};
    args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
    RedisReplyPtr r = call_argv(args, what, why);
    if (r && r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
        args[0] = "EVAL";
        args[1] = script;
        r = call_argv(args, what, why);
    }
    return r;
}

std::optional<long long> RedisWriter::publish(std::string_view snapshot, std::int64_t written_ms,
    std::string_view lease, bool& stale)
{
    stale = false;
    const std::string floor = cat(written_ms);
    std::string why;
    RedisReplyPtr r = run_script("write", generated::publish_round_lua_sha1, generated::publish_round_lua,
        {key_snapshot, key_generation, key_leader, snapshot, channel_rounds, floor, lease}, 3, why);
    if (!r) {
        ++failed_rounds_;
        failed(why);
        return std::nullopt;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        std::string_view what(r->str, r->len);
        if (what.find("stale lease") != std::string_view::npos) {
            stale = true;
            return std::nullopt;
        }
        ++failed_rounds_;
        failed(cat("publish_round.lua: ", printable(what, 160)));
        return std::nullopt;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
        ++failed_rounds_;
        failed("publish_round.lua: the reply is not an integer");
        return std::nullopt;
    }

    if (state_ == State::unknown)
        log::info("redis ", address_.text, ": connected (Redis ", server_version_, "), writing rounds");
    else if (state_ == State::down || state_ == State::refused)
        log::notice("redis ", address_.text, ": back (Redis ", server_version_, ") after ", failed_rounds_,
            " rounds not written");
    state_ = State::up;
    failed_rounds_ = 0;
    return r->integer;
}

std::optional<RedisWriter::LeaseReply> RedisWriter::lease(std::string_view instance,
    std::chrono::milliseconds ttl, std::int64_t token_floor)
{
    const std::string ttl_text = cat(ttl.count());
    const std::string floor = cat(token_floor);
    std::string why;
    RedisReplyPtr r = run_script("lease", generated::lease_lua_sha1, generated::lease_lua,
        {key_leader, key_fence, instance, ttl_text, floor}, 2, why);
    if (!r) {
        failed(why);
        return std::nullopt;
    }
    LeaseReply out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_STRING) {
        out.error = r->type == REDIS_REPLY_ERROR ? printable(std::string_view(r->str, r->len), 160)
                                                 : std::string("unexpected reply");
        // every tick fails alike until an operator acts: once, and once
        // more when the words change
        if (out.error != lease_error_)
            log::error("redis ", address_.text, ": lease.lua: ", out.error);
        lease_error_ = out.error;
        return out;
    }
    if (!lease_error_.empty()) {
        log::notice("redis ", address_.text, ": lease.lua works again");
        lease_error_.clear();
    }
    out.token = r->element[0]->integer;
    out.lease.assign(r->element[1]->str, r->element[1]->len);
    return out;
}

std::optional<long long> RedisWriter::wait_for_replicas(int replicas, std::chrono::milliseconds timeout,
    std::string& refused)
{
    std::string why;
    refused.clear();
    const std::string n = cat(replicas);
    const std::string ms = cat(timeout.count());
    RedisReplyPtr r = call({"WAIT", n, ms}, why);
    if (!r) {
        failed(why);
        return std::nullopt;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
        refused = r->type == REDIS_REPLY_ERROR ? printable(std::string_view(r->str, r->len), 160)
                                               : std::string("not an integer");
        return std::nullopt;
    }
    return r->integer;
}

std::optional<std::vector<std::pair<std::string, std::string>>> RedisWriter::hgetall(std::string_view key,
    std::string& refused)
{
    std::string why;
    refused.clear();
    RedisReplyPtr r = call({"HGETALL", key}, why);
    if (!r) {
        failed(why);
        return std::nullopt;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        refused = printable(std::string_view(r->str, r->len), 160);
        return std::nullopt;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        refused = "not a field/value list";
        return std::nullopt;
    }
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply* f = r->element[i];
        const redisReply* v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            refused = "not a field/value list";
            return std::nullopt;
        }
        out.emplace_back(std::string(f->str, f->len), std::string(v->str, v->len));
    }
    return out;
}

}  // namespace tuneslot
