#include "status_xml.h"

#include "text.h"

#include <libxml/parser.h>

#include <climits>

namespace tuneslot {

namespace {

struct ParserCtxtFree {
    void operator()(xmlParserCtxt* ctxt) const noexcept { xmlFreeParserCtxt(ctxt); }
};

// Set in the parser's _private while a document is parsed.
struct ParseState {
    bool doctype = false;
};

// SAX internalSubset: called when "<!DOCTYPE name" has been read and before
// the internal subset (where entities are declared) is parsed.
void on_doctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) noexcept
{
    auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
    static_cast<ParseState*>(ctxt->_private)->doctype = true;
    xmlStopParser(ctxt);
}

const char* chars(const xmlChar* s) noexcept { return reinterpret_cast<const char*>(s); }

constexpr int parse_options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
    | XML_PARSE_NOBLANKS;

}  // namespace

XmlLibrary::XmlLibrary() noexcept { xmlInitParser(); }

XmlLibrary::~XmlLibrary() { xmlCleanupParser(); }

XmlDocPtr parse_untrusted_xml(std::string_view body, std::string& error, const char* encoding)
{
    if (body.empty()) {
        error = "empty document";
        return nullptr;
    }
    if (body.size() > INT_MAX) {
        error = "document too large";
        return nullptr;
    }
    std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
    if (!ctxt || ctxt->sax == nullptr) {
        error = "out of memory";
        return nullptr;
    }
    ParseState state;
    ctxt->_private = &state;
    ctxt->sax->internalSubset = on_doctype;

    XmlDocPtr doc(xmlCtxtReadMemory(ctxt.get(), body.data(), static_cast<int>(body.size()),
        "status", encoding, parse_options));

    if (state.doctype) {
        error = "<!DOCTYPE> is not allowed in a status document";
        return nullptr;
    }
    if (!doc || !ctxt->wellFormed) {
        const xmlError* e = xmlCtxtGetLastError(ctxt.get());
        if (e != nullptr && e->message != nullptr)
            error = cat("line ", e->line, ": ", printable(e->message, 160));
        else
            error = "not well-formed XML";
        return nullptr;
    }
    if (xmlDocGetRootElement(doc.get()) == nullptr) {
        error = "no root element";
        return nullptr;
    }
    return doc;
}

std::string_view element_name(const xmlNode* node) noexcept
{
    if (node == nullptr || node->type != XML_ELEMENT_NODE || node->ns != nullptr || node->name == nullptr)
        return {};
    return chars(node->name);
}

bool attribute(const xmlNode* node, std::string_view name, std::string& value)
{
    for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
        if (a->ns != nullptr || a->name == nullptr || name != chars(a->name))
            continue;
        // attribute values are text nodes (no entity references: no DTD)
        value.clear();
        for (const xmlNode* c = a->children; c != nullptr; c = c->next) {
            if (c->type != XML_TEXT_NODE)
                return false;
            if (c->content != nullptr)
                value += chars(c->content);
        }
        return true;
    }
    return false;
}

bool element_text(const xmlNode* node, std::string& text)
{
    text.clear();
    for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
        switch (c->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (c->content != nullptr)
                text += chars(c->content);
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        default:
            return false;
        }
    }
    return true;
}

}  // namespace tuneslot
