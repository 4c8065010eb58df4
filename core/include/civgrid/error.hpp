// The one exception hierarchy of civgrid. Every message starts with the stage that raised it
// ("io.read: ...", "engine.assign: ...") and names the object: file, layer, feature id, field,
// value. Errors become exit codes only in the CLI's main and Python exceptions only in the module.
#pragma once

#include <stdexcept>
#include <string>

namespace civgrid {

class Error : public std::runtime_error {
public:
    /// What went wrong, in the order the CLI maps them to exit codes (see ErrorKind exit codes).
    enum class Kind { config, input, io, infeasible, internal, cancelled };

    Error(Kind kind, const std::string& stage, const std::string& message)
        : std::runtime_error(stage + ": " + message), kind_(kind), stage_(stage) {}

    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    [[nodiscard]] const std::string& stage() const noexcept { return stage_; }

private:
    Kind kind_;
    std::string stage_;
};

/// Invalid options or parameters (exit code 2).
struct ConfigError : Error {
    ConfigError(const std::string& stage, const std::string& message) : Error(Kind::config, stage, message) {}
};
/// Input data that cannot be used: missing layer or field, bad value, wrong geometry (exit code 3).
struct InputError : Error {
    InputError(const std::string& stage, const std::string& message) : Error(Kind::input, stage, message) {}
};
/// A file cannot be opened, read or written (exit code 4).
struct IoError : Error {
    IoError(const std::string& stage, const std::string& message) : Error(Kind::io, stage, message) {}
};
/// The data make the requested result impossible and strict mode forbids a best effort (exit code 5).
struct InfeasibleError : Error {
    InfeasibleError(const std::string& stage, const std::string& message) : Error(Kind::infeasible, stage, message) {}
};
/// The caller asked the run to stop (RunControl::cancel, e.g. Ctrl-C in Python); nothing is written.
struct CancelledError : Error {
    CancelledError(const std::string& stage, const std::string& message) : Error(Kind::cancelled, stage, message) {}
};
/// A bug in civgrid: an invariant broke (exit code 1).
struct InternalError : Error {
    InternalError(const std::string& stage, const std::string& message) : Error(Kind::internal, stage, message) {}
};

/// Process exit code for an error kind; 0 is success. Documented in the README.
[[nodiscard]] constexpr int exit_code(Error::Kind kind) noexcept {
    switch (kind) {
    case Error::Kind::config: return 2;
    case Error::Kind::input: return 3;
    case Error::Kind::io: return 4;
    case Error::Kind::infeasible: return 5;
    case Error::Kind::internal: return 1;
    case Error::Kind::cancelled: return 130;  // as a shell reports a run stopped by SIGINT
    }
    return 1;
}

}  // namespace civgrid
