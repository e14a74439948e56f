#include "status_json.h"

#include "text.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <new>

namespace tuneslot {

namespace {

using json = nlohmann::json;

// nlohmann's SAX interface (json::sax_parse).  Every callback returns false
// to stop the parser at once; why_ then says why.
class Collector final {
public:
    explicit Collector(std::vector<JsonObject>& objects) : objects_(objects) {}
    Collector(const Collector&) = delete;
    Collector& operator=(const Collector&) = delete;

    const std::string& why() const noexcept { return why_; }

    bool null() { return scalar(JsonValue::Kind::null, {}); }
    bool boolean(bool v) { return scalar(JsonValue::Kind::boolean, v ? "true" : "false"); }
    bool number_integer(json::number_integer_t v) { return number(v); }
    bool number_unsigned(json::number_unsigned_t v) { return number(v); }
    bool number_float(json::number_float_t, const json::string_t& as_written)
    {
        return scalar(JsonValue::Kind::number, as_written);
    }
    bool string(json::string_t& v) { return scalar(JsonValue::Kind::string, std::move(v)); }
    bool binary(json::binary_t&) { return stop("binary value"); }   // JSON has none

    bool start_object(std::size_t)
    {
        if (!enter(JsonValue::Kind::object))
            return false;
        if (objects_.size() >= json_objects_max)
            return stop(cat("more than ", json_objects_max, " objects"));
        std::string path = child_path();
        objects_.push_back(JsonObject{path, {}});
        frames_.push_back({objects_.size() - 1, std::move(path), {}});
        return true;
    }

    bool end_object()
    {
        frames_.pop_back();
        return true;
    }

    bool start_array(std::size_t)
    {
        if (!enter(JsonValue::Kind::array))
            return false;
        Frame f{no_object, child_path(), {}};
        if (!frames_.empty() && frames_.back().object != no_object) {
            f.owner = frames_.back().object;
            f.key = frames_.back().key;
        }
        frames_.push_back(std::move(f));
        return true;
    }

    bool end_array()
    {
        const Frame& f = frames_.back();
        if (f.owner != no_object) {
            char buf[24];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f.elements);
            (void) ec;  // 24 bytes hold any 64-bit count
            objects_[f.owner].members[f.key].text.assign(buf, end);
        }
        frames_.pop_back();
        return true;
    }

    bool key(json::string_t& k)
    {
        frames_.back().key = std::move(k);
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e)
    {
        // "[json.exception.parse_error.101] parse error at line 1, column 9:
        // syntax error ..." without the bracketed id
        std::string_view what = e.what();
        if (size_t close = what.find("] "); what.starts_with("[json.exception.") && close != what.npos)
            what.remove_prefix(close + 2);
        return stop(std::string(what));
    }

private:
    static constexpr std::size_t no_object = static_cast<std::size_t>(-1);

    // Keys longer than this are not names any format looks for; in paths
    // they become "?", so a hostile key is not copied into every path below
    // it.  Paths stop growing at path_max bytes, far beyond any path a
    // format looks for, so 10000 objects cost at most that much each.
    static constexpr std::size_t path_key_max = 64;
    static constexpr std::size_t path_max = 256;

    struct Frame {
        std::size_t object;     // index in objects_, or no_object for an array
        std::string path;       // as in JsonObject::path
        std::string key;        // object: its member being read; array: its
                                // own name in its owner
        std::size_t owner = no_object;  // array: the object it is a member of
        std::size_t elements = 0;       // array: elements so far
    };

    bool stop(std::string why)
    {
        if (why_.empty())
            why_ = std::move(why);
        return false;
    }

    // A container starts: recorded as a member of its parent, depth checked.
    bool enter(JsonValue::Kind kind)
    {
        if (frames_.size() >= json_depth_max)
            return stop(cat("nested deeper than ", json_depth_max, " levels"));
        return scalar(kind, {});
    }

    // The path of a container that starts now.
    std::string child_path() const
    {
        if (frames_.empty())
            return {};
        const Frame& f = frames_.back();
        if (f.path.size() >= path_max)
            return f.path;
        if (f.object == no_object)
            return cat(f.path, "[]");
        std::string_view k = f.key.size() <= path_key_max ? std::string_view(f.key) : "?";
        return f.path.empty() ? std::string(k) : cat(f.path, ".", k);
    }

    template <class Integer>
    bool number(Integer v)
    {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        (void) ec;  // 24 bytes hold any 64-bit integer
        return scalar(JsonValue::Kind::number, std::string(buf, end));
    }

    // A value: stored when it is a member of an object; array elements that
    // are not objects are only counted.
    bool scalar(JsonValue::Kind kind, std::string text)
    {
        if (frames_.empty())
            return true;
        if (frames_.back().object == no_object) {
            ++frames_.back().elements;
            return true;
        }
        Frame& f = frames_.back();
        auto [it, fresh] = objects_[f.object].members.try_emplace(f.key, JsonValue{kind, std::move(text)});
        if (!fresh)
            return stop(cat("key ", quote(printable(f.key, 60)), " appears twice in one object"));
        return true;
    }

    std::vector<JsonObject>& objects_;
    std::vector<Frame> frames_;
    std::string why_;
};

}  // namespace

bool read_untrusted_json(std::string_view body, std::vector<JsonObject>& objects, std::string& error)
{
    objects.clear();
    if (body.empty()) {
        error = "empty document";
        return false;
    }
    Collector collector(objects);
    bool ok = false;
    try {
        ok = json::sax_parse(body.begin(), body.end(), &collector);
    } catch (const std::bad_alloc&) {
        error = "out of memory";
        objects.clear();
        return false;
    } catch (const std::exception& e) {
        error = printable(e.what(), 160);
        objects.clear();
        return false;
    }
    if (!ok) {
        error = collector.why().empty() ? "not well-formed JSON" : printable(collector.why(), 160);
        objects.clear();
        return false;
    }
    return true;
}

}  // namespace tuneslot
