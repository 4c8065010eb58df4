// What the three fuzz targets share: the fuzz bytes read as a script of edits, the pristine city
// and output they edit (made once per process), the structured GeoPackage mutator and the test of
// an outcome. A target is one LLVMFuzzerTestOneInput; it links either libFuzzer (make fuzz, clang
// with AddressSanitizer and UndefinedBehaviorSanitizer) or standalone_driver.cpp (the normal build,
// which replays the committed corpus and reproducers and runs a short seeded random run in CTest).
#pragma once

#include <civgrid/algorithms/quality.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace civgrid::fuzz {

/// The fuzz input read front to back; reads past its end give zeros, so every input is a valid
/// script (libFuzzer's mutations shift the edits around instead of being rejected).
class FuzzBytes {
public:
    FuzzBytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    [[nodiscard]] bool exhausted() const noexcept { return used_ >= size_; }
    std::uint8_t byte() noexcept { return used_ < size_ ? data_[used_++] : std::uint8_t{0}; }
    std::uint32_t u32() noexcept;
    /// A number in [0, n), n > 0, from one byte when n <= 256 (short inputs say a lot).
    std::uint32_t below(std::uint32_t n) noexcept { return (n <= 256 ? byte() : u32()) % n; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t used_ = 0;
};

/// Files made once per process in a private temporary folder (removed at exit): a synthetic city
/// of about 1,000 households with workers and stations (`city`), and civgrid's output for it
/// (`output`), from which reruns and reports start.
struct Pristine {
    std::filesystem::path folder;
    std::string city, output;
};
[[nodiscard]] const Pristine& pristine();

/// A fresh path in the process's folder for this iteration (the same name every iteration).
[[nodiscard]] std::string scratch(const std::string& name);

/// Copies `from` to `to`, replacing it.
void copy_file(const std::string& from, const std::string& to);

/// Applies the edits the bytes describe to the GeoPackage at `path` through GDAL and SQLite: at
/// the attribute level (NULLs, text in numbers, huge, negative and fractional values, values
/// copied from another feature, fields renamed or dropped), the WKB level (bytes flipped, blobs
/// truncated, geometry types, byte order and counts changed with no data behind them, NaN, inf and
/// 1e300 coordinates, foreign geometries, GeoPackage headers broken) and the feature and layer
/// level (features deleted or duplicated, layers emptied or dropped, CRS changed). `layers` are the
/// layers it picks from; absent ones are skipped.
void mutate_geopackage(const std::string& path, FuzzBytes& bytes, const std::vector<std::string>& layers);

/// Flips bytes of, or truncates, the file at `path`, as the bytes say (often nothing).
void mutate_file_bytes(const std::string& path, FuzzBytes& bytes);

/// Writes `layer` of the GeoPackage `source` as a GeoJSON file or an ESRI Shapefile at `path`.
/// Returns false when GDAL cannot (a mutated layer OGR refuses).
bool export_layer(const std::string& source, const std::string& layer, const std::string& path,
                  const std::string& driver);

/// Records a finding: prints it and traps, so libFuzzer writes a reproducer and CTest fails.
[[noreturn]] void finding(const std::string& what);

/// Runs `job` and traps on anything that is not a success or a clean civgrid::Error: an
/// InternalError, any other exception. Returns true on success.
bool clean_outcome(const std::function<void()>& job);

/// A quality report that only finite numbers and non-negative counts make sense of; traps otherwise.
void check_report(const algorithms::QualityReport& report, const std::string& what);

/// After a successful run: the output exists, holds no invalid polygon, and `civgrid report`
/// reads it back. After a failed one: no output was left behind.
void check_output(const std::string& output, bool succeeded, const algorithms::QualityReport* report);

}  // namespace civgrid::fuzz
