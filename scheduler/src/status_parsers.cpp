#include "status_parsers.h"

#include "status_json.h"
#include "status_xml.h"
#include "text.h"

#include <tune_snapshot.h>

#include <algorithm>
#include <optional>
#include <set>

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


// body with every control byte other than TAB, LF and CR turned into a
// space.  Such bytes are never valid in JSON or XML 1.0, in a name or
// between tokens, so nothing else changes; servers that copy a publisher's
// stream name or title into their status page unescaped would otherwise let
// one publisher take the whole backend out of rotation.
std::string without_controls(std::string_view body)
{
    std::string text(body);
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r')
            c = ' ';
    return text;
}

// The one child element of n called name, or null when there is none;
// false with why set when there are several.
bool only_child(const xmlNode* n, std::string_view name, const xmlNode*& child, std::string& why)
{
    child = nullptr;
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (element_name(c) != name)
            continue;
        if (child != nullptr) {
            why = cat("<", name, "> appears twice");
            return false;
        }
        child = c;
    }
    return true;
}

// The text of the one child element called name: false with why set when it
// is absent, repeated or holds markup.
bool child_text(const xmlNode* n, std::string_view name, std::string& text, std::string& why)
{
    const xmlNode* c = nullptr;
    if (!only_child(n, name, c, why))
        return false;
    if (c == nullptr) {
        why = cat("no <", name, ">");
        return false;
    }
    if (!element_text(c, text)) {
        why = cat("<", name, ">: unexpected content");
        return false;
    }
    return true;
}

// The count in the one child element called name; present is false (and
// the call true) when there is no such child.
bool child_count(const xmlNode* n, std::string_view name, std::optional<std::uint32_t>& value, std::string& why)
{
    value.reset();
    const xmlNode* c = nullptr;
    if (!only_child(n, name, c, why))
        return false;
    if (c == nullptr)
        return true;
    std::string text;
    std::uint32_t v = 0;
    if (!element_text(c, text)) {
        why = cat("<", name, ">: unexpected content");
        return false;
    }
    if (!parse_count(text, v, why)) {
        why = cat("<", name, ">: ", why);
        return false;
    }
    value = v;
    return true;
}

bool has_child(const xmlNode* n, std::string_view name)
{
    for (const xmlNode* c = n->children; c != nullptr; c = c->next)
        if (element_name(c) == name)
            return true;
    return false;
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
    std::string text = without_controls(body);

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

ParseResult parse_nginx_rtmp(std::string_view body)
{
    // stream names are the publishers' choice; the module escapes markup in
    // them but copies control bytes as they came
    std::string text = without_controls(body);
    std::string why;
    XmlDocPtr doc = parse_untrusted_xml(text, why);
    if (!doc)
        return fail(std::move(why));
    if (!check_root(doc.get(), "rtmp", why))
        return fail(std::move(why));

    ParseResult result;
    std::set<std::string, std::less<>> seen;  // mounts with or without a source
    std::string app;
    std::string name;
    for (const xmlNode* server = xmlDocGetRootElement(doc.get())->children; server != nullptr; server = server->next) {
        if (element_name(server) != "server")
            continue;   // version, pid, uptime, byte counters
        for (const xmlNode* a = server->children; a != nullptr; a = a->next) {
            if (element_name(a) != "application")
                continue;
            if (!child_text(a, "name", app, why))
                return fail(cat("application: ", why));
            if (app.empty())
                return fail("application: empty <name>");
            for (const xmlNode* live = a->children; live != nullptr; live = live->next) {
                if (element_name(live) != "live")
                    continue;   // <play>: files played on demand, no publisher
                for (const xmlNode* st = live->children; st != nullptr; st = st->next) {
                    if (element_name(st) != "stream")
                        continue;   // the application's <nclients>
                    if (!child_text(st, "name", name, why))
                        return fail(cat("application ", quote(printable(app, 100)), ": stream: ", why));
                    if (name.empty())
                        continue;   // a publisher's choice, never a configured mount
                    std::string mount = cat("/", app, "/", name);
                    std::string what = what_mount(mount);
                    if (!seen.insert(mount).second)
                        return fail(cat(what, " appears twice"));

                    std::optional<std::uint32_t> nclients;
                    if (!child_count(st, "nclients", nclients, why))
                        return fail(cat(what, ": ", why));
                    if (!nclients)
                        return fail(cat(what, ": no <nclients>"));
                    // nclients counts every session of the stream, its
                    // publisher too; with rtmp_stat all each one is also a
                    // <client>, the publisher's with <publishing/>
                    std::uint32_t clients = 0;
                    std::uint32_t publishers = 0;
                    for (const xmlNode* c = st->children; c != nullptr; c = c->next) {
                        if (element_name(c) != "client")
                            continue;
                        ++clients;
                        if (has_child(c, "publishing"))
                            ++publishers;
                    }
                    const bool source = has_child(st, "publishing");
                    if (clients == 0)
                        publishers = source ? 1 : 0;
                    else if (clients != *nclients)
                        return fail(cat(what, ": <nclients> is ", *nclients, " but there are ", clients, " <client>"));
                    if (publishers > *nclients)
                        return fail(cat(what, ": more publishers than <nclients>"));
                    if (!source)
                        continue;   // players waiting for a publisher
                    MountStats m;
                    m.listeners = *nclients - publishers;
                    m.capacity = TUNE_UNLIMITED;   // nginx-rtmp has no limit; max_listeners sets it
                    m.free = TUNE_UNLIMITED;
                    result.mounts.emplace(std::move(mount), m);
                }
            }
        }
    }
    result.ok = true;
    return result;
}

namespace {

constexpr std::string_view wowza_default_instance = "_definst_";

// Per-protocol session counts of a Wowza stream, suffixes of "Sessions"
// (nested) and "sessions" (flat).
constexpr std::string_view wowza_protocols[] = {"Flash", "Cupertino", "SanJose", "Smooth", "RTSP", "MPEGDash"};

// "/APP/STREAM", or "/APP/INSTANCE/STREAM" for an instance other than the
// default one.
std::string wowza_mount(std::string_view app, std::string_view instance, std::string_view stream)
{
    if (instance == wowza_default_instance)
        return cat("/", app, "/", stream);
    return cat("/", app, "/", instance, "/", stream);
}

// The listeners of one stream: SessionsTotal, or when the document has none
// the sum of the per-protocol counts.  get(suffix, value) reads one count
// (false with why set on a bad one; value empty when absent).
template <class Get>
bool wowza_listeners(Get get, std::uint32_t& listeners, std::string& why)
{
    std::optional<std::uint32_t> total;
    if (!get("Total", total))
        return false;
    if (total) {
        listeners = *total;
        return true;
    }
    std::uint64_t sum = 0;
    bool any = false;
    for (std::string_view protocol : wowza_protocols) {
        std::optional<std::uint32_t> v;
        if (!get(protocol, v))
            return false;
        if (v) {
            sum += *v;
            any = true;
        }
    }
    if (!any) {
        why = "no session counts";
        return false;
    }
    if (sum > count_max) {
        why = cat("sessions add up to ", sum, ", out of range 0..", count_max);
        return false;
    }
    listeners = static_cast<std::uint32_t>(sum);
    return true;
}

// Adds one stream to result; false with why set on a mount seen before.
bool wowza_add(ParseResult& result, std::string mount, std::uint32_t listeners, std::string& why)
{
    if (result.mounts.contains(mount)) {
        why = cat(what_mount(mount), " appears twice");
        return false;
    }
    MountStats m;
    m.listeners = listeners;
    m.capacity = TUNE_UNLIMITED;   // per stream, Wowza has no limit
    m.free = TUNE_UNLIMITED;
    result.mounts.emplace(std::move(mount), m);
    return true;
}

// One <Stream vhostName= applicationName= appInstanceName= streamName=
// sessionsFlash= ... sessionsTotal=/> of the ?flat shape.
bool wowza_flat_stream(const xmlNode* n, ParseResult& result, std::string& why)
{
    std::string app;
    std::string instance;
    std::string stream;
    if (!attribute(n, "applicationName", app) || app.empty()) {
        why = "<Stream> without an applicationName";
        return false;
    }
    if (!attribute(n, "appInstanceName", instance) || instance.empty())
        instance = wowza_default_instance;
    if (!attribute(n, "streamName", stream))
        stream.clear();
    if (stream.empty())
        return true;    // a publisher's choice, never a configured mount
    std::string mount = wowza_mount(app, instance, stream);
    std::string text;
    auto get = [&](std::string_view protocol, std::optional<std::uint32_t>& v) {
        v.reset();
        std::string key = cat("sessions", protocol);
        if (!attribute(n, key, text))
            return true;
        std::uint32_t count = 0;
        if (!parse_count(text, count, why)) {
            why = cat(key, ": ", why);
            return false;
        }
        v = count;
        return true;
    };
    std::uint32_t listeners = 0;
    if (!wowza_listeners(get, listeners, why)) {
        why = cat(what_mount(mount), ": ", why);
        return false;
    }
    return wowza_add(result, std::move(mount), listeners, why);
}

// The server-wide figures of the nested shape, over all <VHost>s.
struct WowzaServer {
    bool limited = false;           // some VHost has a <ConnectionsLimit>
    bool unlimited = false;         // some VHost's limit is 0: none
    std::uint64_t capacity = 0;
    std::uint64_t connections = 0;
};

// One <VHost> of the nested shape: its streams into result, its limit into
// server.
bool wowza_vhost(const xmlNode* vhost, ParseResult& result, WowzaServer& server, std::string& why)
{
    std::optional<std::uint32_t> limit;
    std::optional<std::uint32_t> current;
    if (!child_count(vhost, "ConnectionsLimit", limit, why)
        || !child_count(vhost, "ConnectionsCurrent", current, why)) {
        why = cat("VHost: ", why);
        return false;
    }
    if (limit) {
        if (!current) {
            why = "VHost: <ConnectionsLimit> without <ConnectionsCurrent>";
            return false;
        }
        server.limited = true;
        server.unlimited = server.unlimited || *limit == 0;
        server.capacity += *limit;
        server.connections += *current;
    }

    std::string app;
    std::string instance;
    std::string stream;
    for (const xmlNode* a = vhost->children; a != nullptr; a = a->next) {
        if (element_name(a) != "Application")
            continue;
        if (!child_text(a, "Name", app, why)) {
            why = cat("Application: ", why);
            return false;
        }
        if (app.empty()) {
            why = "Application: empty <Name>";
            return false;
        }
        for (const xmlNode* i = a->children; i != nullptr; i = i->next) {
            if (element_name(i) != "ApplicationInstance")
                continue;
            if (!child_text(i, "Name", instance, why)) {
                why = cat("application ", quote(printable(app, 100)), ": ApplicationInstance: ", why);
                return false;
            }
            if (instance.empty())
                instance = wowza_default_instance;
            for (const xmlNode* s = i->children; s != nullptr; s = s->next) {
                if (element_name(s) != "Stream")
                    continue;
                if (!child_text(s, "Name", stream, why)) {
                    why = cat("application ", quote(printable(app, 100)), ": Stream: ", why);
                    return false;
                }
                if (stream.empty())
                    continue;   // a publisher's choice, never a configured mount
                std::string mount = wowza_mount(app, instance, stream);
                auto get = [&](std::string_view protocol, std::optional<std::uint32_t>& v) {
                    return child_count(s, cat("Sessions", protocol), v, why);
                };
                std::uint32_t listeners = 0;
                if (!wowza_listeners(get, listeners, why)) {
                    why = cat(what_mount(mount), ": ", why);
                    return false;
                }
                if (!wowza_add(result, std::move(mount), listeners, why))
                    return false;
            }
        }
    }
    return true;
}

}  // namespace

ParseResult parse_wowza(std::string_view body)
{
    std::string text = without_controls(body);
    std::string why;
    XmlDocPtr doc = parse_untrusted_xml(text, why);
    if (!doc)
        return fail(std::move(why));
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    // "WowzaMediaServer" before Wowza Streaming Engine 4
    if (element_name(root) != "WowzaMediaServer" && !check_root(doc.get(), "WowzaStreamingEngine", why))
        return fail(std::move(why));

    ParseResult result;
    WowzaServer server;
    for (const xmlNode* n = root->children; n != nullptr; n = n->next) {
        std::string_view name = element_name(n);
        bool ok = true;
        if (name == "VHost")
            ok = wowza_vhost(n, result, server, why);
        else if (name == "Stream")
            ok = wowza_flat_stream(n, result, why);
        if (!ok)
            return fail(std::move(why));
    }
    if (server.limited) {
        ServerStats s;
        // several VHosts may add up past the range: the sum is capped there
        s.capacity = server.unlimited ? TUNE_UNLIMITED
                                      : static_cast<std::uint32_t>(std::min<std::uint64_t>(server.capacity, count_max));
        s.listeners = static_cast<std::uint32_t>(std::min<std::uint64_t>(server.connections, count_max));
        result.server = s;
    }
    result.ok = true;
    return result;
}

ParseResult parse_mediamtx(std::string_view body)
{
    std::vector<JsonObject> objects;
    std::string why;
    if (!read_untrusted_json(body, objects, why))
        return fail(std::move(why));
    const JsonObject* root = json_find(objects, "");
    const JsonValue* items = nullptr;
    if (root != nullptr) {
        auto it = root->members.find("items");
        if (it != root->members.end() && it->second.kind == JsonValue::Kind::array)
            items = &it->second;
    }
    if (items == nullptr)
        return fail("no \"items\" array (check the backend's status URL and format)");

    // A list longer than a page says so; reading only the first page would
    // call every path on the next ones "no source".
    std::uint32_t count = 0;
    std::uint32_t in_page = 0;
    if (!parse_count(items->text, in_page, why))
        return fail(cat("\"items\": ", why));
    if (root->members.contains("pageCount")) {
        if (!json_count(*root, "pageCount", count, why))
            return fail(why);
        if (count > 1)
            return fail(cat("\"pageCount\" is ", count, ": only the first page of paths was read; add ?itemsPerPage=",
                "N to the status URL with N at least the number of paths"));
    }
    if (root->members.contains("itemCount")) {
        if (!json_count(*root, "itemCount", count, why))
            return fail(why);
        if (count > in_page)
            return fail(cat("\"itemCount\" is ", count, " but the page holds ", in_page,
                " paths: add ?itemsPerPage=N to the status URL with N at least ", count));
    }

    ParseResult result;
    std::string name;
    for (const JsonObject& path : objects) {
        if (path.path != "items[]")
            continue;
        if (!json_string(path, "name", name, why))
            return fail(cat("path: ", why));
        if (name.empty())
            return fail("path: empty \"name\"");
        std::string mount = cat("/", name);
        std::string what = what_mount(mount);
        if (result.mounts.contains(mount))
            return fail(cat(what, " appears twice"));

        auto ready = path.members.find("ready");
        if (ready == path.members.end() || ready->second.kind != JsonValue::Kind::boolean)
            return fail(cat(what, ": ", ready == path.members.end() ? "no" : "not a boolean:", " \"ready\""));
        auto readers = path.members.find("readers");
        if (readers == path.members.end() || readers->second.kind != JsonValue::Kind::array)
            return fail(cat(what, ": ", readers == path.members.end() ? "no" : "not an array:", " \"readers\""));
        auto source = path.members.find("source");
        const bool has_source = source != path.members.end() && source->second.kind == JsonValue::Kind::object;
        if (source != path.members.end() && !has_source && source->second.kind != JsonValue::Kind::null)
            return fail(cat(what, ": \"source\" is neither an object nor null"));

        MountStats m;
        if (!parse_count(readers->second.text, m.listeners, why))
            return fail(cat(what, ": \"readers\": ", why));
        if (ready->second.text != "true" || !has_source)
            continue;   // configured or on demand, nothing published yet
        m.capacity = TUNE_UNLIMITED;   // MediaMTX has no limit; max_listeners sets it
        m.free = TUNE_UNLIMITED;
        result.mounts.emplace(std::move(mount), m);
    }
    result.ok = true;
    return result;
}

}  // namespace tuneslot
