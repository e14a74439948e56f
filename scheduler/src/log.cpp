#include "log.h"

#include <cerrno>
#include <ctime>
#include <unistd.h>

namespace tuneslot::log {

namespace {

void put2(char* p, int v)
{
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

std::string_view level_name(Level level) noexcept
{
    switch (level) {
    case Level::info: return "info";
    case Level::notice: return "notice";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::alert: return "alert";
    case Level::emerg: return "emerg";
    }
    return "unknown";
}

void line(Level level, std::string_view message) noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);

    // "YYYY-MM-DDTHH:MM:SS.mmmZ [level] message\n", built without allocating
    char buf[1024];
    char* p = buf;
    int year = t.tm_year + 1900;
    put2(p, year / 100);
    put2(p + 2, year % 100);
    p[4] = '-';
    put2(p + 5, t.tm_mon + 1);
    p[7] = '-';
    put2(p + 8, t.tm_mday);
    p[10] = 'T';
    put2(p + 11, t.tm_hour);
    p[13] = ':';
    put2(p + 14, t.tm_min);
    p[16] = ':';
    put2(p + 17, t.tm_sec);
    p[19] = '.';
    int ms = static_cast<int>(ts.tv_nsec / 1000000);
    p[20] = static_cast<char>('0' + ms / 100);
    put2(p + 21, ms % 100);
    p[23] = 'Z';
    p[24] = ' ';
    p[25] = '[';
    p += 26;

    std::string_view name = level_name(level);
    for (char c : name)
        *p++ = c;
    *p++ = ']';
    *p++ = ' ';

    char* const end = buf + sizeof buf - 1;
    for (char c : message) {
        if (p == end)
            break;
        // a message never spans lines: stray control bytes are shown as '?'
        *p++ = (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    }
    *p++ = '\n';

    const char* out = buf;
    size_t left = static_cast<size_t>(p - buf);
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, out, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        out += n;
        left -= static_cast<size_t>(n);
    }
}

}  // namespace tuneslot::log

