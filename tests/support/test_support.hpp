// Helpers every test suite shares.
#pragma once

#include <civgrid/test_paths.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <string>

namespace civgrid::test {

/// A fresh folder for one test, removed when the object goes out of scope.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

/// The civgrid executable of this build.
[[nodiscard]] std::string civgrid_cli();

/// Runs the CLI with `arguments` (shell words); returns its exit code (-1 when it did not exit) and
/// fills `output` with its stdout and stderr, logged in `dir`.
int run_cli(const std::string& arguments, std::string& output, const TempDir& dir);

/// A file's whole content, byte for byte ("" when it cannot be read).
[[nodiscard]] std::string file_bytes(const std::string& path);

/// Path of a file under ../shared/realdata, or "" when the samples are absent (tests then
/// GTEST_SKIP() with a message saying so, never pass silently).
[[nodiscard]] std::string realdata(const std::string& relative);

/// Whether `text` contains `part`, with both shown on failure.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}
#define EXPECT_CONTAINS(text, part) EXPECT_TRUE(::civgrid::test::contains((text), (part)))

/// The message of the `Error` that `f` throws; a test failure when it throws nothing or another type.
template <typename Error, typename F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const Error& error) {
        return error.what();
    } catch (const std::exception& other) {
        ADD_FAILURE() << "wrong exception type: " << other.what();
        return {};
    }
    ADD_FAILURE() << "no exception";
    return {};
}

}  // namespace civgrid::test
