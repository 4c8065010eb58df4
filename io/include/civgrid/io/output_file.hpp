// Output files that cannot destroy data: an output path is checked against every input before any
// work, a temporary file beside it is reserved for the whole run and renamed into place at the end,
// and temporaries of interrupted runs are removed (on SIGINT / SIGTERM / SIGHUP by a handler, after
// SIGKILL by the next run to the same output). GDAL never appears in this header.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace civgrid::io {

/// An input as the user named it, for messages: role ("buildings", "previous", ...) and source
/// ("city.gpkg", "roads.shp", "/vsizip/a.zip/r.shp", "a.gpkg:communities" already split off).
struct NamedSource {
    std::string role;
    std::string path;
};

/// The files on disk behind an OGR source path: the file itself; for a Shapefile its family
/// (.shp, .shx, .dbf, .prj, .cpg, .qix, ...); for a directory its files; for /vsizip/, /vsitar/
/// and /vsigzip/ the archive; nothing for /vsimem/ or a connection string ("PG:...").
[[nodiscard]] std::vector<std::string> files_of_source(const std::string& path);

/// Refuses, with a ConfigError (exit code 2) naming both, an output path that is or resolves to a
/// file of any input (by inode, so other spellings, symbolic links and hard links are caught), and
/// an output path that exists and is not a regular file: a symbolic link (the rename would replace
/// the link, not its target), a directory, a device, a FIFO or a socket. Call it before any work.
void check_output_path(const std::string& output, const std::vector<NamedSource>& inputs);

/// A temporary file beside an output, reserved from the start of a run to its end, then renamed
/// over the output. While it exists it tells other runs that this output is being written:
///  - the constructor removes temporaries of the same output left by processes that no longer
///    exist (killed with SIGKILL, or a power cut) and lists them in removed_stale();
///  - it refuses (IoError, exit code 4) when a process still alive is writing the same output,
///    rather than letting the last rename silently win (when two runs start at the same instant
///    both may be refused; neither loses data);
///  - a signal handler (remove_temporary_files_on_signals) removes it on SIGINT / SIGTERM.
/// The temporary is named OUTPUT.tmp-PID-N.gpkg; the destructor removes it (and SQLite's
/// journals) unless commit() renamed it.
class OutputReservation {
public:
    /// Throws IoError when the output's directory does not exist or is not writable, or another
    /// live process writes the same output; ConfigError when the output is not a regular file.
    explicit OutputReservation(std::string output);
    ~OutputReservation();
    OutputReservation(const OutputReservation&) = delete;
    OutputReservation& operator=(const OutputReservation&) = delete;

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] const std::string& temp_path() const noexcept { return temp_path_; }
    /// Temporaries of interrupted runs that the constructor removed, for the run's warnings.
    [[nodiscard]] const std::vector<std::string>& removed_stale() const noexcept { return removed_stale_; }
    /// Warnings naming each removed temporary ("removed 'x.tmp-123-4.gpkg' left by ...").
    [[nodiscard]] std::vector<std::string> warnings() const;

    /// Renames the temporary file over the output (refusing again if the output became a
    /// non-regular file meanwhile). Throws IoError on failure; the temporary is then removed.
    void commit();

private:
    std::string path_;
    std::string temp_path_;
    std::vector<std::string> removed_stale_;
    int slot_ = -1;  ///< its entry in the signal handler's table
    bool committed_ = false;
};

/// Installs handlers for SIGINT, SIGTERM and SIGHUP, each only where the signal still has its
/// default disposition, that remove every reserved temporary file (with SQLite's journals) and then
/// let the signal end the process as it would have. For front ends: the CLI calls it first thing.
void remove_temporary_files_on_signals();

}  // namespace civgrid::io
