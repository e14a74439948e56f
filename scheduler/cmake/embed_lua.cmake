# Turns a file into a C++ header: its bytes and their SHA-1 (for a Lua script,
# the name Redis gives it: EVALSHA).  The Lua scripts of redis/ and the status
# page are embedded so.  Run at build time:
#
#   cmake -DINPUT=script.lua -DOUTPUT=header.h -DNAME=symbol -P embed_lua.cmake
#
# Every byte is written as a \xNN escape, so no content of the script can end
# the string literal early.

foreach(var INPUT OUTPUT NAME)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "embed_lua.cmake: -D${var}= is required")
    endif()
endforeach()

file(READ "${INPUT}" hex HEX)
file(SHA1 "${INPUT}" sha1)
string(LENGTH "${hex}" hex_length)
math(EXPR length "${hex_length} / 2")
if(length EQUAL 0)
    message(FATAL_ERROR "embed_lua.cmake: ${INPUT} is empty")
endif()

string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" bytes "${hex}")
# 16 bytes per line, each line its own literal (adjacent literals concatenate)
string(REPEAT "\\\\x.." 16 sixteen)
string(REGEX REPLACE "(${sixteen})" "\\1\"\n    \"" bytes "${bytes}")
get_filename_component(source_name "${INPUT}" NAME)

set(content "// Generated from ${source_name} by embed_lua.cmake at build time.  Do not edit.
#pragma once

#include <string_view>

namespace tuneslot::generated {

inline constexpr std::string_view ${NAME}{
    \"${bytes}\", ${length}};

inline constexpr std::string_view ${NAME}_sha1 = \"${sha1}\";

}  // namespace tuneslot::generated
")

# Rewrite only on change, so dependants are not rebuilt for nothing.
if(EXISTS "${OUTPUT}")
    file(READ "${OUTPUT}" old)
    if(old STREQUAL content)
        return()
    endif()
endif()
file(WRITE "${OUTPUT}" "${content}")
