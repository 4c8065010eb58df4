#include <civgrid/algorithms/geos.hpp>
#include <civgrid/error.hpp>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace civgrid::geos {

namespace {
constexpr const char* kStage = "algorithms.geos";

[[noreturn]] void fail(const Context& context, const char* what) {
    throw InternalError(
        kStage, std::string(what) + " failed" + (context.last_error().empty() ? "" : ": " + context.last_error()));
}
}  // namespace

Context::Context() : handle_(GEOS_init_r()) {
    if (handle_ == nullptr) throw InternalError(kStage, "GEOS_init_r failed");
    GEOSContext_setErrorMessageHandler_r(handle_, &Context::on_error, this);
}

Context::~Context() {
    GEOS_finish_r(handle_);
}

void Context::on_error(const char* message, void* user_data) {
    static_cast<Context*>(user_data)->last_error_ = message != nullptr ? message : "";
}

Geom own(const Context& context, GEOSGeometry* geometry, const char* what) {
    if (geometry == nullptr) fail(context, what);
    return Geom(geometry, GeomDeleter{context.handle()});
}

Geom own_nullable(const Context& context, GEOSGeometry* geometry) noexcept {
    return Geom(geometry, GeomDeleter{context.handle()});
}

Geom from_wkb(const Context& context, std::span<const std::uint8_t> wkb) {
    GEOSWKBReader* reader = GEOSWKBReader_create_r(context.handle());
    GEOSGeometry* geometry = GEOSWKBReader_read_r(context.handle(), reader, wkb.data(), wkb.size());
    GEOSWKBReader_destroy_r(context.handle(), reader);
    return own(context, geometry, "reading WKB");
}

Geom from_wkb_nullable(const Context& context, std::span<const std::uint8_t> wkb) noexcept {
    if (wkb.empty()) return own_nullable(context, nullptr);
    GEOSWKBReader* reader = GEOSWKBReader_create_r(context.handle());
    if (reader == nullptr) return own_nullable(context, nullptr);
    GEOSGeometry* geometry = GEOSWKBReader_read_r(context.handle(), reader, wkb.data(), wkb.size());
    GEOSWKBReader_destroy_r(context.handle(), reader);
    return own_nullable(context, geometry);
}

Wkb to_wkb(const Context& context, const GEOSGeometry* geometry) {
    GEOSWKBWriter* writer = GEOSWKBWriter_create_r(context.handle());
    GEOSWKBWriter_setOutputDimension_r(context.handle(), writer, 2);
    GEOSWKBWriter_setByteOrder_r(context.handle(), writer, GEOS_WKB_NDR);
    std::size_t size = 0;
    unsigned char* buffer = GEOSWKBWriter_write_r(context.handle(), writer, geometry, &size);
    GEOSWKBWriter_destroy_r(context.handle(), writer);
    if (buffer == nullptr) fail(context, "writing WKB");
    Wkb result(buffer, buffer + size);
    GEOSFree_r(context.handle(), buffer);
    return result;
}

Geom from_wkt(const Context& context, const std::string& wkt) {
    GEOSWKTReader* reader = GEOSWKTReader_create_r(context.handle());
    GEOSGeometry* geometry = GEOSWKTReader_read_r(context.handle(), reader, wkt.c_str());
    GEOSWKTReader_destroy_r(context.handle(), reader);
    return own(context, geometry, "reading WKT");
}

std::string to_wkt(const Context& context, const GEOSGeometry* geometry, int decimals) {
    GEOSWKTWriter* writer = GEOSWKTWriter_create_r(context.handle());
    GEOSWKTWriter_setRoundingPrecision_r(context.handle(), writer, decimals);
    GEOSWKTWriter_setTrim_r(context.handle(), writer, 1);
    char* text = GEOSWKTWriter_write_r(context.handle(), writer, geometry);
    GEOSWKTWriter_destroy_r(context.handle(), writer);
    if (text == nullptr) fail(context, "writing WKT");
    std::string result(text);
    GEOSFree_r(context.handle(), text);
    return result;
}

Geom point(const Context& context, Point p) {
    return own(context, GEOSGeom_createPointFromXY_r(context.handle(), p.x, p.y), "creating a point");
}

namespace {
GEOSCoordSequence* make_sequence(const Context& context, const std::vector<Point>& vertices, bool close) {
    const bool add_closing = close && !vertices.empty() && !(vertices.front() == vertices.back());
    const auto count = static_cast<unsigned>(vertices.size() + (add_closing ? 1 : 0));
    GEOSCoordSequence* sequence = GEOSCoordSeq_create_r(context.handle(), count, 2);
    if (sequence == nullptr) fail(context, "creating a coordinate sequence");
    for (unsigned i = 0; i < vertices.size(); ++i)
        GEOSCoordSeq_setXY_r(context.handle(), sequence, i, vertices[i].x, vertices[i].y);
    if (add_closing)
        GEOSCoordSeq_setXY_r(context.handle(), sequence, count - 1, vertices.front().x, vertices.front().y);
    return sequence;
}
}  // namespace

Geom polygon(const Context& context, const std::vector<Point>& shell) {
    GEOSGeometry* ring = GEOSGeom_createLinearRing_r(context.handle(), make_sequence(context, shell, true));
    if (ring == nullptr) fail(context, "creating a ring");
    return own(context, GEOSGeom_createPolygon_r(context.handle(), ring, nullptr, 0), "creating a polygon");
}

Geom polygon(const Context& context, const std::vector<Point>& shell, const std::vector<std::vector<Point>>& holes) {
    if (holes.empty()) return polygon(context, shell);
    // Rings are owned here until the polygon takes them.
    auto ring = [&](const std::vector<Point>& points) {
        GEOSGeometry* r = GEOSGeom_createLinearRing_r(context.handle(), make_sequence(context, points, true));
        if (r == nullptr) fail(context, "creating a ring");
        return Geom(r, GeomDeleter{context.handle()});
    };
    Geom outer = ring(shell);
    std::vector<Geom> inner;
    for (const auto& hole : holes) inner.push_back(ring(hole));
    std::vector<GEOSGeometry*> raw;
    for (Geom& h : inner) raw.push_back(h.get());
    GEOSGeometry* result =
        GEOSGeom_createPolygon_r(context.handle(), outer.get(), raw.data(), static_cast<unsigned>(raw.size()));
    if (result == nullptr) fail(context, "creating a polygon");
    static_cast<void>(outer.release());  // the polygon owns its rings now
    for (Geom& h : inner) static_cast<void>(h.release());
    return Geom(result, GeomDeleter{context.handle()});
}

Geom line_string(const Context& context, const std::vector<Point>& vertices) {
    return own(context, GEOSGeom_createLineString_r(context.handle(), make_sequence(context, vertices, false)),
               "creating a line string");
}

Geom collection(const Context& context, int type, std::vector<Geom> parts) {
    std::vector<GEOSGeometry*> raw;
    raw.reserve(parts.size());
    for (auto& part : parts) raw.push_back(part.release());
    GEOSGeometry* result =
        GEOSGeom_createCollection_r(context.handle(), type, raw.data(), static_cast<unsigned>(raw.size()));
    if (result == nullptr) {
        for (GEOSGeometry* part : raw) GEOSGeom_destroy_r(context.handle(), part);
        fail(context, "creating a collection");
    }
    return own(context, result, "creating a collection");
}

Geom clone(const Context& context, const GEOSGeometry* geometry) {
    return own(context, GEOSGeom_clone_r(context.handle(), geometry), "cloning");
}

std::vector<Geom> parts(const Context& context, const GEOSGeometry* geometry) {
    std::vector<Geom> result;
    const int count = GEOSGetNumGeometries_r(context.handle(), geometry);
    if (count < 0) fail(context, "counting parts");
    result.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) result.push_back(clone(context, GEOSGetGeometryN_r(context.handle(), geometry, i)));
    return result;
}

std::vector<Point> vertices(const Context& context, const GEOSGeometry* line) {
    const GEOSCoordSequence* sequence = GEOSGeom_getCoordSeq_r(context.handle(), line);
    if (sequence == nullptr) fail(context, "reading line vertices");
    unsigned size = 0;
    GEOSCoordSeq_getSize_r(context.handle(), sequence, &size);
    std::vector<Point> result(size);
    for (unsigned i = 0; i < size; ++i) GEOSCoordSeq_getXY_r(context.handle(), sequence, i, &result[i].x, &result[i].y);
    return result;
}

Prepared prepare(const Context& context, const GEOSGeometry* geometry) {
    const GEOSPreparedGeometry* prepared = GEOSPrepare_r(context.handle(), geometry);
    if (prepared == nullptr) fail(context, "preparing a geometry");
    return Prepared(prepared, PreparedDeleter{context.handle()});
}

double area(const Context& context, const GEOSGeometry* geometry) {
    double value = 0;
    if (GEOSArea_r(context.handle(), geometry, &value) == 0) fail(context, "computing an area");
    return value;
}

double length(const Context& context, const GEOSGeometry* geometry) {
    double value = 0;
    if (GEOSLength_r(context.handle(), geometry, &value) == 0) fail(context, "computing a length");
    return value;
}

Point point_xy(const Context& context, const GEOSGeometry* geometry) {
    Point p;
    if (GEOSGeomGetX_r(context.handle(), geometry, &p.x) == 0 || GEOSGeomGetY_r(context.handle(), geometry, &p.y) == 0)
        fail(context, "reading point coordinates");
    return p;
}

Point point_on_surface(const Context& context, const GEOSGeometry* geometry) {
    Geom p = own(context, GEOSPointOnSurface_r(context.handle(), geometry), "computing a point on surface");
    return point_xy(context, p.get());
}

Point centroid(const Context& context, const GEOSGeometry* geometry) {
    Geom p = own(context, GEOSGetCentroid_r(context.handle(), geometry), "computing a centroid");
    return point_xy(context, p.get());
}

bool is_empty(const Context& context, const GEOSGeometry* geometry) {
    return GEOSisEmpty_r(context.handle(), geometry) == 1;
}

bool meets_box(const Context& context, const GEOSGeometry* geometry, const Envelope& box) {
    const Geom rectangle =
        own(context, GEOSGeom_createRectangle_r(context.handle(), box.min_x, box.min_y, box.max_x, box.max_y),
            "making a box");
    const char met = GEOSIntersects_r(context.handle(), rectangle.get(), geometry);
    if (met == 2) throw InternalError(kStage, "testing a geometry against a box: " + context.last_error());
    return met == 1;
}

Geom point_on_surface_or_null(const Context& context, const GEOSGeometry* geometry) {
    return own_nullable(context, GEOSPointOnSurface_r(context.handle(), geometry));
}

int type_id(const Context& context, const GEOSGeometry* geometry) {
    return GEOSGeomTypeId_r(context.handle(), geometry);
}

std::string type_name(const Context& context, const GEOSGeometry* geometry) {
    char* name = GEOSGeomType_r(context.handle(), geometry);  // malloc'd by GEOS
    std::string text = name != nullptr ? name : "?";
    if (name != nullptr) GEOSFree_r(context.handle(), name);
    return text;
}

int part_count(const Context& context, const GEOSGeometry* geometry) {
    return GEOSGetNumGeometries_r(context.handle(), geometry);
}

const GEOSGeometry* part(const Context& context, const GEOSGeometry* geometry, int index) {
    return GEOSGetGeometryN_r(context.handle(), geometry, index);
}

std::optional<std::string> invalidity(const Context& context, const GEOSGeometry* geometry) {
    if (GEOSisValid_r(context.handle(), geometry) == 1) return std::nullopt;
    char* reason = GEOSisValidReason_r(context.handle(), geometry);
    std::string text = reason != nullptr ? reason : "invalid";
    if (reason != nullptr) GEOSFree_r(context.handle(), reason);
    return text;
}

std::optional<Envelope> envelope_if_any(const Context& context, const GEOSGeometry* geometry) {
    Envelope e;
    if (GEOSGeom_getXMin_r(context.handle(), geometry, &e.min_x) == 0 ||
        GEOSGeom_getYMin_r(context.handle(), geometry, &e.min_y) == 0 ||
        GEOSGeom_getXMax_r(context.handle(), geometry, &e.max_x) == 0 ||
        GEOSGeom_getYMax_r(context.handle(), geometry, &e.max_y) == 0)
        return std::nullopt;
    return e;
}

Geom unary_union(const Context& context, const GEOSGeometry* geometry, const char* what) {
    return own(context, GEOSUnaryUnion_r(context.handle(), geometry), what);
}

Geom unary_union(const Context& context, const GEOSGeometry* geometry, double grid_size, const char* what) {
    return own(context, GEOSUnaryUnionPrec_r(context.handle(), geometry, grid_size), what);
}

Geom intersection_or_null(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b) {
    return own_nullable(context, GEOSIntersection_r(context.handle(), a, b));
}

Geom boundary(const Context& context, const GEOSGeometry* geometry, const char* what) {
    return own(context, GEOSBoundary_r(context.handle(), geometry), what);
}

bool intersects(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b) {
    return GEOSIntersects_r(context.handle(), a, b) == 1;
}

bool prepared_intersects(const Context& context, const Prepared& a, const GEOSGeometry* b) {
    return GEOSPreparedIntersects_r(context.handle(), a.get(), b) == 1;
}

bool equals_exact(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b, double tolerance) {
    return GEOSEqualsExact_r(context.handle(), a, b, tolerance) == 1;
}

double distance(const Context& context, const GEOSGeometry* a, const GEOSGeometry* b) {
    double value = 0;
    if (GEOSDistance_r(context.handle(), a, b, &value) != 1)
        throw InternalError(kStage, "GEOSDistance failed: " + context.last_error());
    return value;
}

Envelope envelope(const Context& context, const GEOSGeometry* geometry) {
    Envelope e;
    if (GEOSGeom_getXMin_r(context.handle(), geometry, &e.min_x) == 0 ||
        GEOSGeom_getYMin_r(context.handle(), geometry, &e.min_y) == 0 ||
        GEOSGeom_getXMax_r(context.handle(), geometry, &e.max_x) == 0 ||
        GEOSGeom_getYMax_r(context.handle(), geometry, &e.max_y) == 0)
        fail(context, "computing an envelope");
    return e;
}

StrTree::StrTree(const Context& context, std::size_t node_capacity)
    : context_(context), tree_(GEOSSTRtree_create_r(context.handle(), node_capacity)) {
    if (tree_ == nullptr) fail(context, "creating an STR-tree");
}

StrTree::~StrTree() {
    GEOSSTRtree_destroy_r(context_.handle(), tree_);
}

void StrTree::insert(const GEOSGeometry* geometry, std::size_t index) {
    payloads_.push_back(std::make_unique<std::size_t>(index));
    GEOSSTRtree_insert_r(context_.handle(), tree_, geometry, payloads_.back().get());
}

std::vector<std::size_t> StrTree::query(const GEOSGeometry* geometry) const {
    std::vector<std::size_t> result;
    GEOSSTRtree_query_r(
        context_.handle(), tree_, geometry,
        [](void* item, void* user_data) {
            static_cast<std::vector<std::size_t>*>(user_data)->push_back(*static_cast<std::size_t*>(item));
        },
        &result);
    std::sort(result.begin(), result.end());
    return result;
}

// Collects the polygons of any geometry (collections are flattened), cloned.
void collect_polygons(const Context& context, const GEOSGeometry* geometry, std::vector<Geom>& out) {
    const int type = GEOSGeomTypeId_r(context.handle(), geometry);
    if (type == GEOS_POLYGON) {
        if (!is_empty(context, geometry)) out.push_back(clone(context, geometry));
    } else if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        const int count = GEOSGetNumGeometries_r(context.handle(), geometry);
        for (int i = 0; i < count; ++i)
            collect_polygons(context, GEOSGetGeometryN_r(context.handle(), geometry, i), out);
    }
}

// Collects the line strings of any geometry (collections flattened, rings as lines), cloned.
std::vector<std::pair<Point, Point>> line_segments(const Context& context, const GEOSGeometry* geometry) {
    std::vector<Geom> lines;
    collect_lines(context, geometry, lines);
    std::vector<std::pair<Point, Point>> segments;
    for (const Geom& line : lines) {
        const std::vector<Point> v = vertices(context, line.get());
        for (std::size_t k = 1; k < v.size(); ++k) segments.emplace_back(v[k - 1], v[k]);
    }
    return segments;
}

void collect_lines(const Context& context, const GEOSGeometry* geometry, std::vector<Geom>& out) {
    const int type = GEOSGeomTypeId_r(context.handle(), geometry);
    if (type == GEOS_LINESTRING || type == GEOS_LINEARRING) {
        if (is_empty(context, geometry)) return;
        const GEOSCoordSequence* sequence = GEOSGeom_getCoordSeq_r(context.handle(), geometry);
        GEOSCoordSequence* copy = GEOSCoordSeq_clone_r(context.handle(), sequence);
        out.push_back(own(context, GEOSGeom_createLineString_r(context.handle(), copy), "copying a line"));
    } else if (type == GEOS_POLYGON) {
        collect_lines(context, GEOSGetExteriorRing_r(context.handle(), geometry), out);
        const int holes = GEOSGetNumInteriorRings_r(context.handle(), geometry);
        for (int i = 0; i < holes; ++i)
            collect_lines(context, GEOSGetInteriorRingN_r(context.handle(), geometry, i), out);
    } else if (type == GEOS_MULTILINESTRING || type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        const int count = GEOSGetNumGeometries_r(context.handle(), geometry);
        for (int i = 0; i < count; ++i) collect_lines(context, GEOSGetGeometryN_r(context.handle(), geometry, i), out);
    }
}

}  // namespace civgrid::geos
