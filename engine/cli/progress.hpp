// The CLI's progress display: each stage of a run and its progress on the terminal, redrawn four
// times a second (a stage without counted steps shows its elapsed time), so a long run is never
// silent. Written to stderr, only when stderr is a terminal; scripts get --json instead.
#pragma once

#include <civgrid/engine/run_control.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace civgrid::cli {

class TerminalProgress {
public:
    /// Draws `control`'s stages on `out` while the object lives, when `enabled`.
    TerminalProgress(const engine::RunControl& control, bool enabled, std::FILE* out = stderr);
    /// Finishes the last stage's line.
    ~TerminalProgress();
    TerminalProgress(const TerminalProgress&) = delete;
    TerminalProgress& operator=(const TerminalProgress&) = delete;

    /// Whether `stream` is a terminal (progress is drawn only then).
    [[nodiscard]] static bool is_terminal(std::FILE* stream);

private:
    void draw(bool final);

    const engine::RunControl& control_;
    std::FILE* out_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::size_t stages_seen_ = 0;
    std::chrono::steady_clock::time_point stage_start_ = std::chrono::steady_clock::now();
};

/// Progress for programs driving the CLI (the QGIS plugin, qgis_plugin/): while the object lives,
/// one JSON object per line on `out` each time the stage or its count of steps changes (polled four
/// times a second), `{"stage": "partition", "done": 3, "total": 12}` (total 0 = not counted),
/// flushed at once. Enabled by `--progress-json`; stdout keeps the --json result alone.
class JsonProgress {
public:
    JsonProgress(const engine::RunControl& control, bool enabled, std::FILE* out = stderr);
    ~JsonProgress();
    JsonProgress(const JsonProgress&) = delete;
    JsonProgress& operator=(const JsonProgress&) = delete;

private:
    void print();

    const engine::RunControl& control_;
    std::FILE* out_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::size_t stages_ = 0, done_ = 0, total_ = 0;
};

}  // namespace civgrid::cli
