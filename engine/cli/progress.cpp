#include "progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace civgrid::cli {

TerminalProgress::TerminalProgress(const engine::RunControl& control, bool enabled, std::FILE* out)
    : control_(control), out_(out) {
    if (!enabled) return;
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            draw(false);
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
    });
}

TerminalProgress::~TerminalProgress() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
    draw(true);
}

bool TerminalProgress::is_terminal(std::FILE* stream) {
    return ::isatty(::fileno(stream)) != 0;
}

void TerminalProgress::draw(bool final) {
    const engine::RunControl::Snapshot now = control_.snapshot();
    if (now.stages.empty()) return;
    const auto clock = std::chrono::steady_clock::now();
    // Stages that ended since the last draw get their line finished (durations to a quarter second:
    // the exact timings are printed at the end).
    for (; stages_seen_ + 1 < now.stages.size(); ++stages_seen_) {
        const double seconds = std::chrono::duration<double>(clock - stage_start_).count();
        std::fprintf(out_, "\r  %-18s done %8.2f s%24s\n", now.stages[stages_seen_].c_str(), seconds, "");
        stage_start_ = clock;
    }
    const std::string& stage = now.stages.back();
    const double seconds = std::chrono::duration<double>(clock - stage_start_).count();
    if (now.total > 0) {
        constexpr int kWidth = 24;
        const auto filled = static_cast<int>(kWidth * std::min(now.done, now.total) / now.total);
        std::fprintf(out_, "\r  %-18s [%-*s] %zu/%zu %6.1f s", stage.c_str(), kWidth,
                     std::string(static_cast<std::size_t>(filled), '#').c_str(), now.done, now.total, seconds);
    } else {
        std::fprintf(out_, "\r  %-18s %6.1f s%30s", stage.c_str(), seconds, "");
    }
    if (final) std::fprintf(out_, "\r  %-18s done %8.2f s%24s\n", stage.c_str(), seconds, "");
    std::fflush(out_);
}

JsonProgress::JsonProgress(const engine::RunControl& control, bool enabled, std::FILE* out)
    : control_(control), out_(out) {
    if (!enabled) return;
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            print();
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
    });
}

JsonProgress::~JsonProgress() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
    print();
}

void JsonProgress::print() {
    const engine::RunControl::Snapshot now = control_.snapshot();
    if (now.stages.empty()) return;
    if (now.stages.size() == stages_ && now.done == done_ && now.total == total_) return;
    stages_ = now.stages.size(), done_ = now.done, total_ = now.total;
    // Stage names are the engine's own identifiers (letters and '_'): nothing to escape.
    std::fprintf(out_, "{\"stage\": \"%s\", \"done\": %zu, \"total\": %zu}\n", now.stages.back().c_str(), now.done,
                 now.total);
    std::fflush(out_);
}

}  // namespace civgrid::cli
