# Writes OUTPUT, a C++ source holding every QML file of STYLES_DIR as a byte array, so the engine
# carries the QGIS styles of its output layers (engine/src/styles.cpp). Run by engine/CMakeLists.txt
# at build time whenever a .qml file changes.
file(GLOB qml_files LIST_DIRECTORIES false "${STYLES_DIR}/*.qml")
list(SORT qml_files)
set(arrays "")
set(entries "")
foreach(file IN LISTS qml_files)
  get_filename_component(layer "${file}" NAME_WE)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND arrays "constexpr char k_${layer}[] = {${bytes}};\n")
  string(APPEND entries "    {\"${layer}\", std::string_view(k_${layer}, ${size})},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from engine/styles/*.qml by engine/styles/embed_styles.cmake: do not edit.
#include \"styles_data.hpp\"

namespace civgrid::engine::detail {
namespace {
${arrays}}  // namespace

const std::vector<EmbeddedStyle>& embedded_styles() {
    static const std::vector<EmbeddedStyle> styles{
${entries}    };
    return styles;
}

}  // namespace civgrid::engine::detail
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
