// Output files that cannot destroy data (see output_file.hpp).
#include <civgrid/error.hpp>
#include <civgrid/io/output_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <system_error>

namespace civgrid::io {
namespace {

constexpr const char* kStage = "io.write";
namespace fs = std::filesystem;

constexpr const char* kJournalSuffixes[] = {"-journal", "-wal", "-shm"};

// ---- The signal handler's table ---------------------------------------------------------------
// Fixed storage, so the handler touches no allocator: a slot is free (0), being filled (1) or holds
// a temporary file's path (2).
constexpr std::size_t kSlots = 64;
constexpr std::size_t kPathCapacity = 4000;  // leaves room for "-journal" in a PATH_MAX buffer
struct Slot {
    std::atomic<int> state{0};
    char path[kPathCapacity + 16]{};
};
std::array<Slot, kSlots> g_slots;

int register_temporary(const std::string& path) noexcept {
    if (path.size() >= kPathCapacity) return -1;  // still removed by the destructor and the next run
    for (std::size_t i = 0; i < kSlots; ++i) {
        int free_state = 0;
        if (!g_slots[i].state.compare_exchange_strong(free_state, 1)) continue;
        std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
        g_slots[i].state.store(2);
        return static_cast<int>(i);
    }
    return -1;
}

void unregister_temporary(int slot) noexcept {
    if (slot >= 0) g_slots[static_cast<std::size_t>(slot)].state.store(0);
}

bool registered_in_this_process(const std::string& path) noexcept {
    return std::any_of(g_slots.begin(), g_slots.end(),
                       [&](const Slot& slot) { return slot.state.load() == 2 && path == slot.path; });
}

// Async-signal-safe: unlink, strlen, memcpy, signal, raise only.
extern "C" void remove_temporaries_and_die(int signal_number) {
    for (Slot& slot : g_slots) {
        if (slot.state.load() != 2) continue;
        ::unlink(slot.path);
        char journal[kPathCapacity + 16];
        const std::size_t length = std::strlen(slot.path);
        for (const char* suffix : kJournalSuffixes) {
            std::memcpy(journal, slot.path, length);
            std::memcpy(journal + length, suffix, std::strlen(suffix) + 1);
            ::unlink(journal);
        }
    }
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
}

// ---- Helpers ----------------------------------------------------------------------------------

void remove_database_files(const std::string& path) noexcept {
    std::error_code ignored;
    fs::remove(path, ignored);
    for (const char* suffix : kJournalSuffixes) fs::remove(path + suffix, ignored);
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

/// What kind of non-regular file `path` is, or nullopt when it does not exist or is regular.
std::optional<std::string> non_regular_kind(const std::string& path) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0) return std::nullopt;
    if (S_ISREG(status.st_mode)) return std::nullopt;
    if (S_ISLNK(status.st_mode)) {
        std::error_code error;
        const fs::path target = fs::read_symlink(path, error);
        return "a symbolic link" + (error ? std::string() : " (to '" + target.string() + "')") +
               ": civgrid renames a new file over its output, which would replace the link itself; give the "
               "path it points to instead";
    }
    if (S_ISDIR(status.st_mode)) return std::string("a directory");
    if (S_ISCHR(status.st_mode) || S_ISBLK(status.st_mode))
        return std::string("a device: civgrid writes a new file and renames it over its output");
    if (S_ISFIFO(status.st_mode)) return std::string("a FIFO (named pipe): civgrid writes only regular files");
    if (S_ISSOCK(status.st_mode)) return std::string("a socket: civgrid writes only regular files");
    return std::string("not a regular file");
}

void refuse_non_regular(const std::string& output) {
    if (const auto kind = non_regular_kind(output)) throw ConfigError(kStage, "output '" + output + "' is " + *kind);
}

/// The directory an output goes into ("." for a bare file name).
fs::path directory_of(const std::string& path) {
    const fs::path parent = fs::path(path).parent_path();
    return parent.empty() ? fs::path(".") : parent;
}

/// A temporary file name of `output_name` split into the process id that made it, or nullopt
/// when `entry` is not one (OUTPUT.tmp-PID-N.gpkg, optionally followed by a journal suffix).
std::optional<long> temporary_owner(const std::string& entry, const std::string& output_name) {
    const std::string prefix = output_name + ".tmp-";
    if (!starts_with(entry, prefix)) return std::nullopt;
    std::size_t at = prefix.size();
    const std::size_t pid_start = at;
    while (at < entry.size() && std::isdigit(static_cast<unsigned char>(entry[at]))) ++at;
    if (at == pid_start || at - pid_start > 9 || at >= entry.size() || entry[at] != '-') return std::nullopt;
    const long pid = std::stol(entry.substr(pid_start, at - pid_start));
    ++at;
    const std::size_t number_start = at;
    while (at < entry.size() && std::isdigit(static_cast<unsigned char>(entry[at]))) ++at;
    if (at == number_start) return std::nullopt;
    std::string rest = entry.substr(at);
    if (!starts_with(rest, ".gpkg")) return std::nullopt;
    rest = rest.substr(5);
    if (!rest.empty() && std::none_of(std::begin(kJournalSuffixes), std::end(kJournalSuffixes),
                                      [&](const char* suffix) { return rest == suffix; }))
        return std::nullopt;
    return pid;
}

/// When process `pid` started, in seconds since the epoch (Linux /proc), or nullopt.
std::optional<double> process_start_time(long pid) {
    std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    const auto name_end = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (name_end == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(name_end + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i)
        if (i == 22) {
            std::ifstream system_stat("/proc/stat");
            for (std::string key; system_stat >> key;)
                if (key == "btime") {
                    double boot = 0;
                    system_stat >> boot;
                    return boot + std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
                }
        }
    return std::nullopt;
}

/// Whether the process that wrote `file` (its name says `pid`) may still be writing it: the pid
/// is alive and did not start after the file was last written (a reused pid did).
bool writer_alive(long pid, const fs::path& file) {
    if (pid <= 0) return false;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
    struct stat status {};
    const auto started = process_start_time(pid);
    if (!started || ::stat(file.c_str(), &status) != 0) return true;
    const double modified =
        static_cast<double>(status.st_mtim.tv_sec) + 1e-9 * static_cast<double>(status.st_mtim.tv_nsec);
    return *started <= modified + 2.0;  // clock ticks and file times are coarse: a little slack
}

/// Paths of the Shapefile family of `shp` (every sidecar GDAL or ArcGIS may keep beside it).
std::vector<std::string> shapefile_family(const std::string& shp) {
    static const char* extensions[] = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx",
                                       ".qpj", ".fix", ".xml", ".aih", ".ain", ".atx", ".ixs", ".mxs"};
    const std::string stem = shp.substr(0, shp.size() - 4);
    std::vector<std::string> family;
    for (const char* extension : extensions) {
        family.push_back(stem + extension);
        std::string upper = extension;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        family.push_back(stem + upper);
    }
    return family;
}

/// The file a /vsizip/, /vsitar/, /vsigzip/, ... path reads: the longest prefix that is a file.
std::vector<std::string> archive_of(const std::string& inner) {
    fs::path candidate(inner);
    while (!candidate.empty() && candidate != candidate.root_path()) {
        std::error_code error;
        if (fs::is_regular_file(candidate, error)) return {candidate.string()};
        candidate = candidate.parent_path();
    }
    return {};
}

struct FileIdentity {
    dev_t device;
    ino_t inode;
    bool operator==(const FileIdentity&) const = default;
};

std::optional<FileIdentity> identity_of(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) return std::nullopt;
    return FileIdentity{status.st_dev, status.st_ino};
}

std::string canonical_spelling(const std::string& path) {
    std::error_code error;
    const fs::path canonical = fs::weakly_canonical(fs::absolute(path, error), error);
    return error ? path : canonical.string();
}

}  // namespace

std::vector<std::string> files_of_source(const std::string& path) {
    if (path.empty()) return {};
    const std::string lowered = lower(path);
    if (starts_with(lowered, "/vsi")) {
        for (const char* archive : {"/vsizip/", "/vsitar/", "/vsigzip/", "/vsi7z/", "/vsirar/"})
            if (starts_with(lowered, archive)) {
                std::string inner = path.substr(std::strlen(archive));
                // GDAL accepts both /vsizip/a.zip and /vsizip//abs/a.zip; {} around the archive too.
                if (!inner.empty() && inner.front() == '{') {
                    const auto close = inner.find('}');
                    if (close != std::string::npos) inner = inner.substr(1, close - 1);
                }
                return archive_of(inner);
            }
        return {};  // /vsimem/, /vsicurl/, ...: nothing on this disk
    }
    std::error_code error;
    if (fs::is_directory(path, error)) {
        std::vector<std::string> files;
        for (const auto& entry : fs::directory_iterator(path, error))
            if (entry.is_regular_file(error)) files.push_back(entry.path().string());
        return files;
    }
    if (lowered.size() > 4 && lowered.compare(lowered.size() - 4, 4, ".shp") == 0) return shapefile_family(path);
    if (!fs::exists(path, error) && path.find(':') != std::string::npos && path.front() != '/')
        return {};  // a connection string (PG:..., MySQL:...)
    return {path};
}

void check_output_path(const std::string& output, const std::vector<NamedSource>& inputs) {
    if (output.empty()) throw ConfigError(kStage, "empty output path");
    const auto output_identity = identity_of(output);  // follows a symbolic link to what it names
    const std::string output_spelling = canonical_spelling(output);
    for (const NamedSource& input : inputs) {
        for (const std::string& file : files_of_source(input.path)) {
            const auto identity = identity_of(file);
            const bool same = identity ? output_identity && *identity == *output_identity
                                       : canonical_spelling(file) == output_spelling;
            if (!same) continue;
            const std::string what =
                file == input.path ? "'" + input.path + "'" : "'" + file + "' (part of '" + input.path + "')";
            throw ConfigError(kStage, "output '" + output + "' is the " + input.role + " input " + what +
                                          ": writing it would destroy the input; choose another output path");
        }
    }
    refuse_non_regular(output);
}

OutputReservation::OutputReservation(std::string output) : path_(std::move(output)) {
    if (path_.empty()) throw ConfigError(kStage, "empty output path");
    refuse_non_regular(path_);
    const fs::path directory = directory_of(path_);
    std::error_code error;
    if (!fs::is_directory(directory, error))
        throw IoError(kStage, "cannot create '" + path_ + "': directory '" + directory.string() + "' does not exist");
    const std::string name = fs::path(path_).filename().string();
    if (name.empty() || name == "." || name == "..")
        throw ConfigError(kStage, "output '" + path_ + "' names a directory, not a file");

    // Reserve a temporary name nobody else uses: O_EXCL makes creating it the claim.
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    const unsigned salt = random() % 100000u;
    for (int attempt = 0;; ++attempt) {
        temp_path_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(salt + ++counter) + ".gpkg";
        const int descriptor = ::open(temp_path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (descriptor >= 0) {
            ::close(descriptor);
            break;
        }
        if (errno == EEXIST && attempt < 100) continue;
        const std::string reason = std::strerror(errno);
        temp_path_.clear();
        throw IoError(kStage,
                      "cannot create '" + path_ + "' (a temporary file in '" + directory.string() + "'): " + reason);
    }
    slot_ = register_temporary(temp_path_);

    // Temporaries of the same output: removed when their process is gone, a refusal when it lives.
    const std::string own_name = fs::path(temp_path_).filename().string();
    std::vector<std::pair<std::string, long>> live;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
        const std::string entry_name = entry.path().filename().string();
        if (starts_with(entry_name, own_name)) continue;
        const auto owner = temporary_owner(entry_name, name);
        if (!owner) continue;
        const std::string entry_path = (directory / entry_name).string();
        const bool ours = *owner == static_cast<long>(::getpid());
        std::string base = entry_path;
        for (const char* suffix : kJournalSuffixes)
            if (base.size() > std::strlen(suffix) &&
                base.compare(base.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
                base.resize(base.size() - std::strlen(suffix));
        if (ours ? registered_in_this_process(base) : writer_alive(*owner, entry_path)) {
            live.emplace_back(entry_path, *owner);
            continue;
        }
        std::error_code ignored;
        if (fs::remove(entry_path, ignored) &&
            std::find(removed_stale_.begin(), removed_stale_.end(), base) == removed_stale_.end())
            removed_stale_.push_back(base);
    }
    if (!live.empty()) {
        unregister_temporary(slot_);
        remove_database_files(temp_path_);
        const bool same_process = live.front().second == static_cast<long>(::getpid());
        throw IoError(kStage, "another run (" +
                                  (same_process ? std::string("in this process")
                                                : "process " + std::to_string(live.front().second)) +
                                  ") is writing '" + path_ + "' (its temporary file '" + live.front().first +
                                  "'); wait for it to finish or choose another output path");
    }
}

OutputReservation::~OutputReservation() {
    if (committed_ || temp_path_.empty()) return;
    remove_database_files(temp_path_);
    unregister_temporary(slot_);
}

std::vector<std::string> OutputReservation::warnings() const {
    std::vector<std::string> warnings;
    for (const std::string& stale : removed_stale_)
        warnings.push_back("removed '" + stale + "', the temporary file of an earlier run writing '" + path_ +
                           "' that was killed before it finished");
    return warnings;
}

void OutputReservation::commit() {
    if (committed_) throw InternalError(kStage, "'" + path_ + "': commit() called twice");
    try {
        refuse_non_regular(path_);
    } catch (...) {
        remove_database_files(temp_path_);
        unregister_temporary(slot_);
        committed_ = true;
        throw;
    }
    std::error_code error;
    fs::rename(temp_path_, path_, error);
    if (error) {
        remove_database_files(temp_path_);
        unregister_temporary(slot_);
        committed_ = true;
        throw IoError(kStage, "cannot replace '" + path_ + "' with '" + temp_path_ + "': " + error.message());
    }
    for (const char* suffix : kJournalSuffixes) fs::remove(temp_path_ + suffix, error);
    unregister_temporary(slot_);
    committed_ = true;
}

void remove_temporary_files_on_signals() {
    for (const int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction current {};
        if (::sigaction(signal_number, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) continue;
        struct sigaction handler {};
        handler.sa_handler = remove_temporaries_and_die;
        sigemptyset(&handler.sa_mask);
        handler.sa_flags = SA_RESETHAND;  // a second signal during clean-up ends the process at once
        ::sigaction(signal_number, &handler, nullptr);
    }
}

}  // namespace civgrid::io
