// RAII over GEOS's reentrant C API. One Context per thread (GEOS handles are not thread-safe);
// every geometry is a Geom that owns its GEOSGeometry and knows the context that frees it.
#pragma once

#include <civgrid/types.hpp>

#include <geos_c.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::geos {

/// A GEOS context handle. GEOS errors raised under it are thrown as InternalError by check().
class Context {
public:
    Context();
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    [[nodiscard]] GEOSContextHandle_t handle() const noexcept { return handle_; }
    /// The last GEOS error message under this context ("" if none).
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
    void clear_error() noexcept { last_error_.clear(); }

private:
    static void on_error(const char* message, void* user_data);
    GEOSContextHandle_t handle_;
    std::string last_error_;
};

struct GeomDeleter {
    GEOSContextHandle_t context = nullptr;
    void operator()(GEOSGeometry* geometry) const noexcept {
        if (geometry != nullptr) GEOSGeom_destroy_r(context, geometry);
    }
};
/// An owned geometry. Raw GEOSGeometry pointers in civgrid never own.
using Geom = std::unique_ptr<GEOSGeometry, GeomDeleter>;

struct PreparedDeleter {
    GEOSContextHandle_t context = nullptr;
    void operator()(const GEOSPreparedGeometry* prepared) const noexcept {
        if (prepared != nullptr) GEOSPreparedGeom_destroy_r(context, prepared);
    }
};
/// A prepared geometry; it must not outlive the geometry it was prepared from.
using Prepared = std::unique_ptr<const GEOSPreparedGeometry, PreparedDeleter>;

/// Takes ownership of a GEOS result; throws InternalError naming `what` when it is null.
[[nodiscard]] Geom own(const Context& context, GEOSGeometry* geometry, const char* what);
/// Same for results that may legitimately be null (returns an empty Geom then).
[[nodiscard]] Geom own_nullable(const Context& context, GEOSGeometry* geometry) noexcept;

[[nodiscard]] Geom from_wkb(const Context& context, std::span<const std::uint8_t> wkb);
/// Same, but an empty Geom for bytes that are not WKB: for data read back from files, which the
/// caller diagnoses with its feature id instead of GEOS failing.
[[nodiscard]] Geom from_wkb_nullable(const Context& context, std::span<const std::uint8_t> wkb) noexcept;
[[nodiscard]] Wkb to_wkb(const Context& context, const GEOSGeometry* geometry);
[[nodiscard]] Geom from_wkt(const Context& context, const std::string& wkt);
[[nodiscard]] std::string to_wkt(const Context& context, const GEOSGeometry* geometry, int decimals = 3);

[[nodiscard]] Geom point(const Context& context, Point p);
/// A closed ring's polygon from its vertices (the closing vertex is added if missing).
[[nodiscard]] Geom polygon(const Context& context, const std::vector<Point>& shell);
/// A polygon with holes (rings are closed when they are not).
[[nodiscard]] Geom polygon(const Context& context, const std::vector<Point>& shell,
                           const std::vector<std::vector<Point>>& holes);
[[nodiscard]] Geom line_string(const Context& context, const std::vector<Point>& vertices);
/// A GeometryCollection (or Multi* when `type` says so) that takes ownership of the parts.
[[nodiscard]] Geom collection(const Context& context, int type, std::vector<Geom> parts);
[[nodiscard]] Geom clone(const Context& context, const GEOSGeometry* geometry);

/// The parts of a collection (or the geometry itself), cloned.
[[nodiscard]] std::vector<Geom> parts(const Context& context, const GEOSGeometry* geometry);
/// Appends clones of the polygons of any geometry (collections flattened, empties skipped).
void collect_polygons(const Context& context, const GEOSGeometry* geometry, std::vector<Geom>& out);
/// Appends the line strings of any geometry as LineStrings (collections flattened, polygon rings
/// and linear rings as lines).
void collect_lines(const Context& context, const GEOSGeometry* geometry, std::vector<Geom>& out);

/// The vertices of a LineString or LinearRing, in order.
[[nodiscard]] std::vector<Point> vertices(const Context& context, const GEOSGeometry* line);
/// Every segment (pair of consecutive vertices) of the lines and rings of `geometry`.
[[nodiscard]] std::vector<std::pair<Point, Point>> line_segments(const Context& context, const GEOSGeometry* geometry);

[[nodiscard]] Prepared prepare(const Context& context, const GEOSGeometry* geometry);

[[nodiscard]] double area(const Context& context, const GEOSGeometry* geometry);
[[nodiscard]] double length(const Context& context, const GEOSGeometry* geometry);
/// A point guaranteed inside a polygon (GEOSPointOnSurface).
[[nodiscard]] Point point_on_surface(const Context& context, const GEOSGeometry* geometry);
/// GEOSPointOnSurface as a geometry, or an empty Geom when GEOS finds none (an invalid polygon).
[[nodiscard]] Geom point_on_surface_or_null(const Context& context, const GEOSGeometry* geometry);
[[nodiscard]] Point centroid(const Context& context, const GEOSGeometry* geometry);
/// x, y of a Point geometry.
[[nodiscard]] Point point_xy(const Context& context, const GEOSGeometry* geometry);
[[nodiscard]] bool is_empty(const Context& context, const GEOSGeometry* geometry);
/// GEOSGeomTypeId (GEOS_POINT, GEOS_POLYGON, ...) and GEOS's name of the type ("Polygon").
[[nodiscard]] int type_id(const Context& context, const GEOSGeometry* geometry);
[[nodiscard]] std::string type_name(const Context& context, const GEOSGeometry* geometry);
/// Parts of a collection (1 for a single geometry), and part `index` (owned by `geometry`).
[[nodiscard]] int part_count(const Context& context, const GEOSGeometry* geometry);
[[nodiscard]] const GEOSGeometry* part(const Context& context, const GEOSGeometry* geometry, int index);
/// Why a geometry is invalid (GEOSisValidReason), or nothing when it is valid.
[[nodiscard]] std::optional<std::string> invalidity(const Context& context, const GEOSGeometry* geometry);
/// Overlay and predicates (GEOS's, exact): `what` names the operation in an InternalError.
[[nodiscard]] Geom unary_union(const Context& context, const GEOSGeometry* geometry, const char* what);
/// The union with coordinates snapped to a grid of `grid_size` (GEOSUnaryUnionPrec).
[[nodiscard]] Geom unary_union(const Context& context, const GEOSGeometry* geometry, double grid_size,
                               const char* what);
/// The intersection, or an empty Geom when GEOS cannot compute it (robustness failures).
[[nodiscard]] Geom intersection_or_null(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b);
[[nodiscard]] Geom boundary(const Context& context, const GEOSGeometry* geometry, const char* what);
[[nodiscard]] bool intersects(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b);
[[nodiscard]] bool prepared_intersects(const Context& context, const Prepared& a, const GEOSGeometry* b);
[[nodiscard]] bool equals_exact(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b, double tolerance);
[[nodiscard]] double distance(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b);

struct Envelope {
    double min_x = 0, min_y = 0, max_x = 0, max_y = 0;
    [[nodiscard]] bool intersects(const Envelope& other) const noexcept {
        return min_x <= other.max_x && other.min_x <= max_x && min_y <= other.max_y && other.min_y <= max_y;
    }
};
[[nodiscard]] Envelope envelope(const Context& context, const GEOSGeometry* geometry);
/// The envelope, or nothing for an empty geometry.
[[nodiscard]] std::optional<Envelope> envelope_if_any(const Context& context, const GEOSGeometry* geometry);
/// Whether `geometry` meets the box (its interior or boundary), as GDAL's spatial filter decides.
[[nodiscard]] bool meets_box(const Context& context, const GEOSGeometry* geometry, const Envelope& box);

/// An STR-tree of items identified by index. Geometries inserted must outlive the tree.
class StrTree {
public:
    explicit StrTree(const Context& context, std::size_t node_capacity = 10);
    ~StrTree();
    StrTree(const StrTree&) = delete;
    StrTree& operator=(const StrTree&) = delete;

    void insert(const GEOSGeometry* geometry, std::size_t index);
    /// Indices whose envelope intersects the geometry's envelope, sorted ascending.
    [[nodiscard]] std::vector<std::size_t> query(const GEOSGeometry* geometry) const;

private:
    const Context& context_;
    GEOSSTRtree* tree_;
    std::vector<std::unique_ptr<std::size_t>> payloads_;
};

}  // namespace civgrid::geos
