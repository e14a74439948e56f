#include "status_parsers.h"

#include "status_json.h"
#include "status_xml.h"
#include "text.h"

#include <tune_snapshot.h>

#include <optional>

namespace tuneslot {

namespace {

constexpr std::uint32_t count_max = TUNE_UNLIMITED - 1;
constexpr std::string_view unlimited = "unlimited";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

// A count or "unlimited" (returned as TUNE_UNLIMITED).
bool parse_limit(std::string_view text, std::uint32_t& value, std::string& why)
{
    if (trim(text) == unlimited) {
        value = TUNE_UNLIMITED;
        return true;
    }
    return parse_count(text, value, why);
}

ParseResult fail(std::string why)
{
    ParseResult r;
    r.error = std::move(why);
    return r;
}

std::string what_mount(std::string_view mount) { return cat("mount ", quote(printable(mount, 100))); }

std::uint32_t free_of(std::uint32_t capacity, std::uint32_t listeners)
{
    if (capacity == TUNE_UNLIMITED)
        return TUNE_UNLIMITED;
    return listeners >= capacity ? 0 : capacity - listeners;
}

// Checks the root element's name; the message helps when a URL or format
// was mixed up.
bool check_root(const xmlDoc* doc, std::string_view expected, std::string& why)
{
    const xmlNode* root = xmlDocGetRootElement(doc);
    std::string_view name = element_name(root);
    if (name == expected)
        return true;
    why = cat("root element is <", printable(name.empty() ? "?" : name, 40), ">, expected <", expected,
        "> (check the backend's status URL and format)");
    return false;
}

// A count from a JSON member: a number, or a string of decimal digits (some
// SHOUTcast builds quote their numbers).
bool json_count(const JsonObject& o, std::string_view key, std::uint32_t& value, std::string& why)
{
    auto it = o.members.find(key);
    if (it == o.members.end()) {
        why = cat("no \"", key, "\"");
        return false;
    }
    const JsonValue& v = it->second;
    if (v.kind != JsonValue::Kind::number && v.kind != JsonValue::Kind::string) {
        why = cat("\"", key, "\" is not a number");
        return false;
    }
    if (!parse_count(v.text, value, why)) {
        why = cat("\"", key, "\": ", why);
        return false;
    }
    return true;
}

bool json_string(const JsonObject& o, std::string_view key, std::string& value, std::string& why)
{
    auto it = o.members.find(key);
    if (it == o.members.end() || it->second.kind != JsonValue::Kind::string) {
        why = cat(it == o.members.end() ? "no \"" : "not a string: \"", key, "\"");
        return false;
    }
    value = it->second.text;
    return true;
}

const JsonObject* json_find(const std::vector<JsonObject>& objects, std::string_view path)
{
    for (const JsonObject& o : objects)
        if (o.path == path)
            return &o;
    return nullptr;
}

// The path of an absolute URL ("http://host:8000/demo" -> "/demo"; no path
// -> "/"), without query or fragment.  "" when url is not absolute.
std::string_view url_path(std::string_view url)
{
    size_t scheme = url.find("://");
    if (scheme == url.npos || scheme == 0)
        return {};
    std::string_view rest = url.substr(scheme + 3);
    size_t slash = rest.find('/');
    if (slash == rest.npos)
        return "/";
    rest.remove_prefix(slash);
    return rest.substr(0, rest.find_first_of("?#"));
}

}  // namespace

bool parse_count(std::string_view text, std::uint32_t& value, std::string& why)
{
    std::string_view s = trim(text);
    if (s.empty()) {
        why = "empty number";
        return false;
    }
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            why = cat(quote(printable(s, 40)), " is not a whole number >= 0");
            return false;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (v > count_max) {
            why = cat(quote(printable(s, 40)), " is out of range 0..", count_max);
            return false;
        }
    }
    value = static_cast<std::uint32_t>(v);
    return true;
}

ParseResult parse_load_xsl(std::string_view body)
{
    std::string why;
    XmlDocPtr doc = parse_untrusted_xml(body, why);
    if (!doc)
        return fail(std::move(why));
    if (!check_root(doc.get(), "load", why))
        return fail(std::move(why));

    ParseResult result;
    std::string mount;
    std::string text;
    for (const xmlNode* n = xmlDocGetRootElement(doc.get())->children; n != nullptr; n = n->next) {
        if (element_name(n) != "mount")
            continue;   // whitespace, comments, elements of later versions
        if (!attribute(n, "name", mount) || mount.empty())
            return fail("<mount> without a name");
        std::string what = what_mount(mount);
        if (result.mounts.contains(mount))
            return fail(cat(what, " appears twice"));
        if (!element_text(n, text))
            return fail(cat(what, ": unexpected content"));

        std::uint32_t free = 0;
        if (!parse_limit(text, free, why))
            return fail(cat(what, ": free slots: ", why));

        std::optional<std::uint32_t> listeners;
        std::optional<std::uint32_t> max;
        std::string attr;
        if (attribute(n, "listeners", attr)) {
            std::uint32_t v = 0;
            if (!parse_count(attr, v, why))
                return fail(cat(what, ": listeners: ", why));
            listeners = v;
        }
        if (attribute(n, "max", attr)) {
            std::uint32_t v = 0;
            if (!parse_limit(attr, v, why))
                return fail(cat(what, ": max: ", why));
            max = v;
        }

        MountStats m;
        if (listeners && max) {
            m.listeners = *listeners;
            m.capacity = *max;
            m.free = free_of(m.capacity, m.listeners);
        } else if (listeners) {
            m.listeners = *listeners;
            if (free == TUNE_UNLIMITED) {
                m.capacity = TUNE_UNLIMITED;
            } else if (std::uint64_t{*listeners} + free > count_max) {
                return fail(cat(what, ": listeners + free slots is out of range"));
            } else {
                m.capacity = *listeners + free;
            }
            m.free = free;
        } else if (max) {
            m.capacity = *max;
            m.free = free;
            if (*max == TUNE_UNLIMITED) {
                m.free = TUNE_UNLIMITED;
            } else if (free == TUNE_UNLIMITED || free > *max) {
                return fail(cat(what, ": more free slots than max"));
            } else {
                m.listeners = *max - free;
            }
        } else {
            m.capacity = free;
            m.free = free;
        }
        result.mounts.emplace(mount, m);
    }
    result.ok = true;
    return result;
}

ParseResult parse_icecast_admin(std::string_view body)
{
    std::string why;
    XmlDocPtr doc = parse_untrusted_xml(body, why);
    if (!doc)
        return fail(std::move(why));
    if (!check_root(doc.get(), "icestats", why))
        return fail(std::move(why));

    ParseResult result;
    std::string mount;
    std::string text;
    for (const xmlNode* n = xmlDocGetRootElement(doc.get())->children; n != nullptr; n = n->next) {
        if (element_name(n) != "source")
            continue;   // server-wide counters
        if (!attribute(n, "mount", mount) || mount.empty())
            return fail("<source> without a mount");
        std::string what = what_mount(mount);
        if (result.mounts.contains(mount))
            return fail(cat(what, " appears twice"));

        std::optional<std::uint32_t> listeners;
        std::optional<std::uint32_t> max;
        for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
            std::string_view name = element_name(c);
            if (name != "listeners" && name != "max_listeners")
                continue;
            std::optional<std::uint32_t>& slot = name == "listeners" ? listeners : max;
            if (slot)
                return fail(cat(what, ": <", name, "> appears twice"));
            std::uint32_t v = 0;
            if (!element_text(c, text))
                return fail(cat(what, ": <", name, ">: unexpected content"));
            bool ok = name == "listeners" ? parse_count(text, v, why) : parse_limit(text, v, why);
            if (!ok)
                return fail(cat(what, ": <", name, ">: ", why));
            slot = v;
        }
        if (!listeners)
            return fail(cat(what, ": no <listeners>"));
        if (!max)
            return fail(cat(what, ": no <max_listeners>"));

        MountStats m;
        m.listeners = *listeners;
        m.capacity = *max;
        m.free = free_of(m.capacity, m.listeners);
        result.mounts.emplace(mount, m);
    }
    result.ok = true;
    return result;
}

ParseResult parse_icecast_json(std::string_view body)
{
    // Icecast 2.4.4's status-json.xsl copies control characters of a stream
    // title (the source client sets it) into the JSON string unescaped, which
    // makes the whole page invalid (seen with a real Icecast): one DJ's
    // metadata would take the backend out of rotation.  Such bytes are never
    // valid JSON, in a string or between tokens, so a space changes nothing
    // else; TAB, LF and CR are whitespace and stay.
    std::string text(body);
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
            c = ' ';

    std::vector<JsonObject> objects;
    std::string why;
    if (!read_untrusted_json(text, objects, why))
        return fail(std::move(why));
    if (json_find(objects, "icestats") == nullptr)
        return fail("no \"icestats\" object (check the backend's status URL and format)");

    ParseResult result;
    std::string url;
    for (const JsonObject& source : objects) {
        if (source.path != "icestats.source" && source.path != "icestats.source[]")
            continue;
        if (!json_string(source, "listenurl", url, why))
            return fail(cat("source: ", why));
        std::string_view mount = url_path(url);
        if (mount.empty())
            return fail(cat("source: listenurl ", quote(printable(url, 100)), " is not an absolute URL"));
        std::string what = what_mount(mount);
        if (result.mounts.contains(mount))
            return fail(cat(what, " appears twice"));
        MountStats m;
        if (!json_count(source, "listeners", m.listeners, why))
            return fail(cat(what, ": ", why));
        m.capacity = TUNE_UNLIMITED;   // hidden by Icecast; the backend's max_listeners caps it
        m.free = TUNE_UNLIMITED;
        result.mounts.emplace(mount, m);
    }
    result.ok = true;
    return result;
}

ParseResult parse_shoutcast2(std::string_view body)
{
    std::vector<JsonObject> objects;
    std::string why;
    if (!read_untrusted_json(body, objects, why))
        return fail(std::move(why));
    const JsonObject* root = json_find(objects, "");
    bool has_streams = false;
    if (root != nullptr) {
        auto it = root->members.find("streams");
        has_streams = it != root->members.end() && it->second.kind == JsonValue::Kind::array;
    }
    if (!has_streams)
        return fail("no \"streams\" array (check the backend's status URL and format)");

    ParseResult result;
    ServerStats server;
    if (!json_count(*root, "currentlisteners", server.listeners, why)
        || !json_count(*root, "maxlisteners", server.capacity, why))
        return fail(cat("server: ", why));
    result.server = server;

    std::string path;
    for (const JsonObject& stream : objects) {
        if (stream.path != "streams[]")
            continue;
        if (!json_string(stream, "streampath", path, why))
            return fail(cat("stream: ", why));
        if (!path.starts_with('/'))
            return fail(cat("stream: streampath ", quote(printable(path, 100)), " does not start with '/'"));
        std::string what = what_mount(path);
        std::uint32_t status = 0;
        MountStats m;
        if (!json_count(stream, "streamstatus", status, why) || !json_count(stream, "currentlisteners", m.listeners, why)
            || !json_count(stream, "maxlisteners", m.capacity, why))
            return fail(cat(what, ": ", why));
        if (result.mounts.contains(path))
            return fail(cat(what, " appears twice"));
        if (status == 0)
            continue;   // configured, no source connected
        m.free = free_of(m.capacity, m.listeners);
        result.mounts.emplace(path, m);
    }
    result.ok = true;
    return result;
}

ParseResult parse_shoutcast1(std::string_view body)
{
    std::string why;
    XmlDocPtr doc = parse_untrusted_xml(body, why, "ISO-8859-1");
    if (!doc)
        return fail(std::move(why));
    if (!check_root(doc.get(), "SHOUTCASTSERVER", why))
        return fail(std::move(why));

    std::optional<std::uint32_t> listeners;
    std::optional<std::uint32_t> max;
    std::optional<std::uint32_t> status;
    std::string text;
    for (const xmlNode* n = xmlDocGetRootElement(doc.get())->children; n != nullptr; n = n->next) {
        std::string_view name = element_name(n);
        std::optional<std::uint32_t>* slot = nullptr;
        if (name == "CURRENTLISTENERS")
            slot = &listeners;
        else if (name == "MAXLISTENERS")
            slot = &max;
        else if (name == "STREAMSTATUS")
            slot = &status;
        else
            continue;   // titles, listener lists, song history
        if (*slot)
            return fail(cat("<", name, "> appears twice"));
        std::uint32_t v = 0;
        if (!element_text(n, text))
            return fail(cat("<", name, ">: unexpected content"));
        if (!parse_count(text, v, why))
            return fail(cat("<", name, ">: ", why));
        *slot = v;
    }
    if (!listeners)
        return fail("no <CURRENTLISTENERS>");
    if (!max)
        return fail("no <MAXLISTENERS>");
    if (!status)
        return fail("no <STREAMSTATUS>");

    ParseResult result;
    if (*status != 0) {
        MountStats m;
        m.listeners = *listeners;
        m.capacity = *max;
        m.free = free_of(m.capacity, m.listeners);
        result.mounts.emplace(shoutcast1_mount, m);
    }
    result.ok = true;
    return result;
}

}  // namespace tuneslot
