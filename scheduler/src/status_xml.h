#pragma once

// Reading XML that comes from machines we do not control (backend status
// pages) with libxml2, safely:
//
//   - XML_PARSE_NONET always; never XML_PARSE_NOENT (it turns entity
//     substitution on) or XML_PARSE_DTDLOAD / XML_PARSE_DTDATTR;
//   - a document with a <!DOCTYPE> is refused as soon as the parser sees it,
//     before any entity declaration is read, so no entity can be defined,
//     let alone expanded;
//   - libxml2's size limits stay on (no XML_PARSE_HUGE) and it prints
//     nothing: errors come back as text.
//
// xml_init() must run once before the first parse (main does it).

#include <libxml/tree.h>

#include <memory>
#include <string>
#include <string_view>

namespace tuneslot {

struct XmlDocFree {
    void operator()(xmlDoc* doc) const noexcept { xmlFreeDoc(doc); }
};

using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

// Initialises libxml2 for the life of the object (xmlInitParser /
// xmlCleanupParser).  One per process, in main.
class XmlLibrary final {
public:
    XmlLibrary() noexcept;
    ~XmlLibrary();
    XmlLibrary(const XmlLibrary&) = delete;
    XmlLibrary& operator=(const XmlLibrary&) = delete;
};

// The document, or null with error set ("line 3: Opening and ending tag
// mismatch: mount and load").  encoding, when not null, overrides what the
// document declares (libxml2's name: "ISO-8859-1").
XmlDocPtr parse_untrusted_xml(std::string_view body, std::string& error, const char* encoding = nullptr);

// The node's name if it is an element without a namespace, else "".
std::string_view element_name(const xmlNode* node) noexcept;

// The value of an attribute without a namespace; false if absent.
bool attribute(const xmlNode* node, std::string_view name, std::string& value);

// The text of an element: its text and CDATA children joined (comments
// skipped).  False if it has any other child (an element, an entity
// reference), which status elements never have.
bool element_text(const xmlNode* node, std::string& text);

}  // namespace tuneslot
