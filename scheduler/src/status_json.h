#pragma once

// Reading JSON that comes from machines we do not control (backend status
// pages) with nlohmann's SAX parser (Debian: nlohmann-json3-dev).
//
// No DOM is built: a DOM of a hostile document costs memory per node and is
// freed recursively, so JSON nested 10,000 deep would blow the stack on
// destruction.  nlohmann's SAX parser keeps its own nesting stack on the
// heap; this reader stops it at json_depth_max and keeps only what the
// status formats need: every object's scalar members, and the kind of its
// other members, flattened into a list.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tuneslot {

inline constexpr std::size_t json_depth_max = 32;
inline constexpr std::size_t json_objects_max = 10000;

struct JsonValue {
    enum class Kind { string, number, boolean, null, object, array };
    Kind kind = Kind::null;
    // string: its UTF-8 text; number: as written in the document ("12",
    // "-1", "1.5e3"); boolean: "true" or "false"; array: its number of
    // elements, whatever their kind ("0" for []); others: empty
    std::string text;
};

struct JsonObject {
    // Where the object is: member names joined by '.', "[]" for an array
    // element: "" is the root, "icestats.source" a member,
    // "icestats.source[]" any element of that array.
    std::string path;
    std::map<std::string, JsonValue, std::less<>> members;
};

// Every object of the document, in the order their '{' appear.  False with
// error set when the body is not one well-formed JSON value (UTF-8, nothing
// after it), nests deeper than json_depth_max, holds more than
// json_objects_max objects, or repeats a key within one object.
bool read_untrusted_json(std::string_view body, std::vector<JsonObject>& objects, std::string& error);

}  // namespace tuneslot
