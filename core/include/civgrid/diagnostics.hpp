// The import report: what loading found in each input layer and what it did about it (repaired,
// dropped, derived, converted, reported), with the feature ids concerned. io/ and engine/ fill it;
// `civgrid check` prints it, `--strict` turns its warnings into an error, run_info stores it whole.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace civgrid {

/// How much a finding matters: info never fails a run; warnings fail it under --strict.
enum class Severity { info, warning };

/// One reason on one layer, and every feature it concerns.
struct Finding {
    std::string action;  ///< "repaired", "dropped", "derived", "converted", "merged", "reported"
    std::string reason;  ///< snake_case reason, e.g. "self_intersection", "null_households"
    Severity severity = Severity::warning;
    std::string policy;            ///< what was done, in one sentence
    std::vector<std::string> ids;  ///< feature ids (OGR fid, or "fid (id field value)")
};

/// Everything found in one input layer.
struct LayerReport {
    std::string role;    ///< buildings, communities, roads, ...
    std::string source;  ///< file as given
    std::string layer;   ///< layer name
    std::int64_t features = 0;
    std::vector<std::pair<std::string, std::string>> facts;  ///< (key, value): crs, encoding, datum, extent
    std::vector<Finding> findings;

    /// Adds `id` to the finding of this action and reason, creating it with `policy` if new.
    void add(const std::string& action, const std::string& reason, Severity severity, const std::string& policy,
             std::string id) {
        for (Finding& finding : findings)
            if (finding.action == action && finding.reason == reason) {
                finding.ids.push_back(std::move(id));
                return;
            }
        findings.push_back(Finding{action, reason, severity, policy, {std::move(id)}});
    }
    void fact(const std::string& key, const std::string& value) { facts.emplace_back(key, value); }
    [[nodiscard]] const Finding* find(const std::string& reason) const noexcept {
        for (const Finding& finding : findings)
            if (finding.reason == reason) return &finding;
        return nullptr;
    }
    [[nodiscard]] std::string where() const { return source + ", layer '" + layer + "'"; }
};

/// The report of all layers, in reading order, and findings across layers (role "inputs").
struct ImportReport {
    std::vector<LayerReport> layers;

    [[nodiscard]] LayerReport* layer(const std::string& role) noexcept {
        for (LayerReport& report : layers)
            if (report.role == role) return &report;
        return nullptr;
    }
    [[nodiscard]] const LayerReport* layer(const std::string& role) const noexcept {
        for (const LayerReport& report : layers)
            if (report.role == role) return &report;
        return nullptr;
    }
    [[nodiscard]] std::size_t count(Severity severity) const noexcept {
        std::size_t n = 0;
        for (const LayerReport& report : layers)
            for (const Finding& finding : report.findings) n += finding.severity == severity ? 1 : 0;
        return n;
    }

    /// Feature ids joined with ", ", at most `cap` of them (0 = all), then ", ... (N in all)".
    [[nodiscard]] static std::string id_list(const std::vector<std::string>& ids, std::size_t cap) {
        std::string text;
        const std::size_t shown = cap == 0 ? ids.size() : std::min(cap, ids.size());
        for (std::size_t i = 0; i < shown; ++i) text += (i == 0 ? "" : ", ") + ids[i];
        if (shown < ids.size()) text += ", ... (" + std::to_string(ids.size()) + " in all)";
        return text;
    }
    /// One line per finding: "FILE, layer 'L': N features dropped (reason): policy; ids: ...".
    [[nodiscard]] static std::string line(const LayerReport& report, const Finding& finding, std::size_t cap) {
        return report.where() + ": " + std::to_string(finding.ids.size()) + " " + finding.action + " (" +
               finding.reason + "): " + finding.policy + "; feature ids: " + id_list(finding.ids, cap);
    }
    /// The warnings as lines (ids capped), for the CLI and the warnings of run_info.
    [[nodiscard]] std::vector<std::string> warning_lines(std::size_t cap = 20) const {
        std::vector<std::string> lines;
        for (const LayerReport& report : layers)
            for (const Finding& finding : report.findings)
                if (finding.severity == Severity::warning) lines.push_back(line(report, finding, cap));
        return lines;
    }
    /// The whole report as text, per layer, ids capped at `cap` per finding.
    [[nodiscard]] std::string to_text(std::size_t cap = 20) const {
        std::string text;
        for (const LayerReport& report : layers) {
            text += report.role + ": " + report.where() + ", " + std::to_string(report.features) + " features\n";
            for (const auto& [key, value] : report.facts) text += "  " + key + ": " + value + "\n";
            if (report.findings.empty()) text += "  no problems found\n";
            for (const Finding& finding : report.findings)
                text += std::string("  ") + (finding.severity == Severity::warning ? "warning" : "info") + ": " +
                        std::to_string(finding.ids.size()) + " " + finding.action + " (" + finding.reason +
                        "): " + finding.policy + "; feature ids: " + id_list(finding.ids, cap) + "\n";
        }
        text += "Import check: " + std::to_string(count(Severity::warning)) + " warnings, " +
                std::to_string(count(Severity::info)) + " notes\n";
        return text;
    }
};

}  // namespace civgrid
