#pragma once

// gtest assertions on ParseResult, shared by the parsers' unit tests.

#include "status_parsers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace tuneslot {

inline ::testing::AssertionResult has_mount(const ParseResult& r, const std::string& mount, std::uint32_t listeners,
    std::uint32_t capacity, std::uint32_t free)
{
    if (!r.ok)
        return ::testing::AssertionFailure() << "parse failed: " << r.error;
    auto it = r.mounts.find(mount);
    if (it == r.mounts.end())
        return ::testing::AssertionFailure() << "no mount " << mount;
    const MountStats& m = it->second;
    if (m.listeners != listeners || m.capacity != capacity || m.free != free)
        return ::testing::AssertionFailure() << mount << ": listeners/capacity/free = " << m.listeners << "/"
                                             << m.capacity << "/" << m.free << ", expected " << listeners << "/"
                                             << capacity << "/" << free;
    return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult fails_with(const ParseResult& r, const std::string& part)
{
    if (r.ok)
        return ::testing::AssertionFailure() << "parse succeeded, expected an error containing: " << part;
    if (r.error.find(part) == std::string::npos)
        return ::testing::AssertionFailure() << "error \"" << r.error << "\" does not contain \"" << part << "\"";
    return ::testing::AssertionSuccess();
}

}  // namespace tuneslot
