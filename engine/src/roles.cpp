#include <civgrid/engine/roles.hpp>
#include <civgrid/error.hpp>

namespace civgrid::engine {

const InputRole* find_role(std::string_view name) noexcept {
    for (const InputRole& role : kInputRoles)
        if (name == role.name || name == role.option) return &role;
    return nullptr;
}

LayerSource& source_of(PartitionConfig& config, std::string_view role, const std::string& stage) {
    const InputRole* found = find_role(role);
    if (found == nullptr) throw ConfigError(stage, "unknown layer '" + std::string(role) + "': one of " + role_names());
    return config.*(found->source);
}

std::string role_names() {
    std::string names;
    for (const InputRole& role : kInputRoles) names += (names.empty() ? "" : ", ") + std::string(role.name);
    return names;
}

}  // namespace civgrid::engine
