// Helpers every test suite shares.
#pragma once

#include <civgrid/test_paths.hpp>

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

/// Path of a file under ../shared/realdata, or "" when the samples are absent (tests then
/// GTEST_SKIP() with a message saying so, never pass silently).
[[nodiscard]] std::string realdata(const std::string& relative);

}  // namespace civgrid::test
