#include <civgrid/algorithms/detailed_outline.hpp>

#include <algorithm>
#include <cmath>

namespace civgrid::algorithms {

namespace {

using geos::Context;
using geos::Geom;

// Sign of the turn p -> q -> r (1 left, -1 right, 0 collinear).
int orientation(Point p, Point q, Point r) {
    const double value = (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
    return (value > 0) - (value < 0);
}

// Position of `p` along a-b as a fraction of its length, clamped to [0, 1].
double fraction_along(Point a, Point b, Point p) {
    const double dx = b.x - a.x, dy = b.y - a.y;
    const double squared = dx * dx + dy * dy;
    if (!(squared > 0)) return 0;
    return std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / squared, 0.0, 1.0);
}

struct Cut {
    double s;  // segment index + fraction along it
    Point p;
    int side = 0;  // where the line goes on from it: 1 into the area, -1 out of it, 0 not known
};

// The points where segment `i` (a-b) of a line meets the outline segment c-d (they share a
// point): exact vertices where one lies on the other, else the computed crossing. A proper
// crossing (no end of either on the other) also tells the side the line goes on to.
void add_cuts(std::size_t i, Point a, Point b, Point c, Point d, bool interior_on_left, std::vector<Cut>& cuts) {
    const auto base = static_cast<double>(i);
    const int oc = orientation(a, b, c), od = orientation(a, b, d);
    if (oc == 0 && od == 0) {  // collinear overlap: its ends
        auto inside = [](Point p, Point q, Point r) {
            return std::min(p.x, q.x) <= r.x && r.x <= std::max(p.x, q.x) && std::min(p.y, q.y) <= r.y &&
                   r.y <= std::max(p.y, q.y);
        };
        for (Point q : {c, d})
            if (inside(a, b, q)) cuts.push_back({base + fraction_along(a, b, q), q});
        if (inside(c, d, a)) cuts.push_back({base, a});
        if (inside(c, d, b)) cuts.push_back({base + 1, b});
        return;
    }
    if (oc == 0) {
        cuts.push_back({base + fraction_along(a, b, c), c});
        return;
    }
    if (od == 0) {
        cuts.push_back({base + fraction_along(a, b, d), d});
        return;
    }
    if (orientation(c, d, a) == 0) {
        cuts.push_back({base, a});
        return;
    }
    if (orientation(c, d, b) == 0) {
        cuts.push_back({base + 1, b});
        return;
    }
    const double rx = b.x - a.x, ry = b.y - a.y, ex = d.x - c.x, ey = d.y - c.y;
    const double denominator = rx * ey - ry * ex;
    if (denominator == 0) return;
    const double t = std::clamp(((c.x - a.x) * ey - (c.y - a.y) * ex) / denominator, 0.0, 1.0);
    const bool b_on_left = orientation(c, d, b) > 0;
    cuts.push_back({base + t, {a.x + t * rx, a.y + t * ry}, b_on_left == interior_on_left ? 1 : -1});
}

// The segments of the rings of a polygonal geometry, ring by ring, and each ring's orientation.
struct OutlineSegments {
    std::vector<SegmentIndex::Segment> segments;
    std::vector<std::uint32_t> segment_ring;
    std::vector<std::pair<std::size_t, bool>> rings;  // first segment, interior on the left
};

void add_polygon_rings(const Context& context, const GEOSGeometry* geometry, OutlineSegments& out) {
    const auto handle = context.handle();
    const int type = GEOSGeomTypeId_r(handle, geometry);
    if (type == GEOS_MULTIPOLYGON || type == GEOS_GEOMETRYCOLLECTION) {
        for (int i = 0; i < GEOSGetNumGeometries_r(handle, geometry); ++i)
            add_polygon_rings(context, GEOSGetGeometryN_r(handle, geometry, i), out);
        return;
    }
    if (type != GEOS_POLYGON || geos::is_empty(context, geometry)) return;
    auto add_ring = [&](const GEOSGeometry* ring, bool shell) {
        const std::vector<Point> v = geos::vertices(context, ring);
        double twice_area = 0;
        for (std::size_t i = 1; i < v.size(); ++i) twice_area += v[i - 1].x * v[i].y - v[i].x * v[i - 1].y;
        // A shell's inside is its own; a hole's is outside it.
        out.rings.emplace_back(out.segments.size(), (twice_area > 0) == shell);
        for (std::size_t i = 1; i < v.size(); ++i) {
            out.segments.push_back({v[i - 1], v[i]});
            out.segment_ring.push_back(static_cast<std::uint32_t>(out.rings.size() - 1));
        }
    };
    add_ring(GEOSGetExteriorRing_r(handle, geometry), true);
    for (int i = 0; i < GEOSGetNumInteriorRings_r(handle, geometry); ++i)
        add_ring(GEOSGetInteriorRingN_r(handle, geometry, i), false);
}

OutlineSegments outline_segments(const Context& context, const GEOSGeometry* area) {
    OutlineSegments out;
    add_polygon_rings(context, area, out);
    return out;
}

}  // namespace

OutlineClipper::OutlineClipper(const Context& context, const GEOSGeometry* area)
    : context_(context), area_(area), outline_({}) {
    OutlineSegments outline = outline_segments(context, area);
    for (std::size_t r = 0; r < outline.rings.size(); ++r) {
        const std::size_t end = r + 1 < outline.rings.size() ? outline.rings[r + 1].first : outline.segments.size();
        rings_.push_back({outline.rings[r].first, end - outline.rings[r].first, outline.rings[r].second});
    }
    segment_ring_ = std::move(outline.segment_ring);
    // Fine cells: along a zig-zag the default ones hold hundreds of teeth each.
    constexpr double kCellsPerSegment = 64;
    outline_ = SegmentIndex(std::move(outline.segments), kCellsPerSegment);
}

bool OutlineClipper::inside_by_locator(Point p) const {
    // As the prepared area would answer, without building GEOS's point locator of the outline.
    if (!area_locator_) area_locator_.emplace(context_, area_);
    return area_locator_->covers(context_, p);
}

bool OutlineClipper::inside(Point p) const {
    // The open segment from p to its nearest outline point crosses no outline, so p lies on the
    // side of the outline it comes from. Beyond this reach (p far inside or outside), GEOS.
    constexpr int kReach = 8;  // index cells
    const std::int64_t nearest = outline_.nearest(p, kReach);
    if (nearest < 0) return inside_by_locator(p);
    const auto i = static_cast<std::size_t>(nearest);
    const SegmentIndex::Segment& s = outline_.segment(i);
    const Ring& ring = rings_[segment_ring_[i]];
    const double dx = s.b.x - s.a.x, dy = s.b.y - s.a.y;
    const double squared = dx * dx + dy * dy;
    const double t = squared > 0 ? ((p.x - s.a.x) * dx + (p.y - s.a.y) * dy) / squared : 0.0;
    if (t > 0 && t < 1) {
        const int side = orientation(s.a, s.b, p);
        if (side == 0) return inside_by_locator(p);
        return (side > 0) == ring.interior_on_left;
    }
    // Nearest at a vertex: p is inside when it lies in the corner the ring turns around there.
    // Only a plain corner (two segments of one ring meet there) is decided here.
    const Point corner = t <= 0 ? s.a : s.b;
    const std::size_t offset = i - ring.first;
    const std::size_t before = t <= 0 ? ring.first + (offset + ring.count - 1) % ring.count : i;
    const std::size_t after = t <= 0 ? i : ring.first + (offset + 1) % ring.count;
    std::vector<SegmentIndex::Segment> at_corner;
    outline_.meeting(corner, corner, at_corner);
    if (at_corner.size() != 2 || ring.count < 3) return inside_by_locator(p);
    const Point u = outline_.segment(before).a, w = outline_.segment(after).b;
    if (!(outline_.segment(before).b == corner) || !(outline_.segment(after).a == corner)) return inside_by_locator(p);
    const int turn = orientation(u, corner, w);
    const bool left_of_first = orientation(u, corner, p) > 0, left_of_second = orientation(corner, w, p) > 0;
    bool left;
    if (turn > 0)
        left = left_of_first && left_of_second;
    else if (turn < 0)
        left = left_of_first || left_of_second;
    else if ((corner.x - u.x) * (w.x - corner.x) + (corner.y - u.y) * (w.y - corner.y) > 0)
        left = left_of_first;  // straight on
    else
        return inside_by_locator(p);  // a spike that turns back
    return left == ring.interior_on_left;
}

bool OutlineClipper::covers(Point p) const {
    return on_outline(p) ? inside_by_locator(p) : inside(p);
}

bool OutlineClipper::on_outline(Point p, double tolerance) const {
    // The outline passes within `tolerance` when it crosses the square of that half-side around p,
    // so one of the square's diagonals.
    const double e = tolerance;
    return outline_.intersects({p.x - e, p.y - e}, {p.x + e, p.y + e}) ||
           outline_.intersects({p.x - e, p.y + e}, {p.x + e, p.y - e});
}

std::vector<ClippedPiece> OutlineClipper::clip(const GEOSGeometry* lines, std::vector<OutlineCut>* cuts) const {
    std::vector<Geom> parts;
    geos::collect_lines(context_, lines, parts);
    std::vector<ClippedPiece> pieces;
    for (const Geom& part : parts) clip_line(geos::vertices(context_, part.get()), pieces, cuts);
    return pieces;
}

void OutlineClipper::clip_line(const std::vector<Point>& v, std::vector<ClippedPiece>& out,
                               std::vector<OutlineCut>* outline_cuts) const {
    if (v.size() < 2) return;
    std::vector<Cut> cuts;
    std::vector<std::uint32_t> met;
    for (std::size_t i = 0; i + 1 < v.size(); ++i) {
        if (v[i] == v[i + 1]) continue;
        met.clear();
        outline_.meeting_positions(v[i], v[i + 1], met);
        for (std::uint32_t m : met) {
            const SegmentIndex::Segment& s = outline_.segment(m);
            const std::size_t before = cuts.size();
            add_cuts(i, v[i], v[i + 1], s.a, s.b, rings_[segment_ring_[m]].interior_on_left, cuts);
            if (outline_cuts == nullptr) continue;
            for (std::size_t k = before; k < cuts.size(); ++k)
                if (!(cuts[k].p == s.a) && !(cuts[k].p == s.b)) outline_cuts->push_back({s.a, s.b, cuts[k].p});
        }
    }
    std::sort(cuts.begin(), cuts.end(), [](const Cut& x, const Cut& y) { return x.s < y.s; });
    // Cuts at one place are one; its side is known when all of them agree.
    for (std::size_t k = 0; k < cuts.size();) {
        std::size_t end = k + 1;
        while (end < cuts.size() && cuts[end].s == cuts[k].s) {
            if (cuts[end].side != cuts[k].side) cuts[k].side = 0;
            ++end;
        }
        k = end;
    }
    cuts.erase(std::unique(cuts.begin(), cuts.end(), [](const Cut& x, const Cut& y) { return x.s == y.s; }),
               cuts.end());
    const auto last = static_cast<double>(v.size() - 1);
    // The stops along the line: its ends and the cuts between them.
    std::vector<Cut> stops;
    std::vector<char> stop_cut;
    const bool cut_at_start = !cuts.empty() && cuts.front().s <= 0;
    const bool cut_at_end = !cuts.empty() && cuts.back().s >= last;
    stops.push_back({0, cut_at_start ? cuts.front().p : v.front(), cut_at_start ? cuts.front().side : 0});
    stop_cut.push_back(cut_at_start ? 1 : 0);
    for (const Cut& c : cuts)
        if (c.s > 0 && c.s < last) {
            stops.push_back(c);
            stop_cut.push_back(1);
        }
    stops.push_back({last, cut_at_end ? cuts.back().p : v.back(), cut_at_end ? cuts.back().side : 0});
    stop_cut.push_back(cut_at_end ? 1 : 0);

    const std::size_t first_piece = out.size();
    bool first_kept = false, last_kept = false;
    for (std::size_t k = 0; k + 1 < stops.size(); ++k) {
        const Cut& from = stops[k];
        const Cut& to = stops[k + 1];
        ClippedPiece piece;
        piece.points.push_back(from.p);
        for (auto j = static_cast<std::size_t>(std::floor(from.s)) + 1; static_cast<double>(j) < to.s; ++j)
            if (!(v[j] == piece.points.back())) piece.points.push_back(v[j]);
        if (!(to.p == piece.points.back())) piece.points.push_back(to.p);
        const bool is_last = k + 2 == stops.size();
        if (piece.points.size() < 2) continue;
        // Along the outline when every segment's middle is on it; otherwise the first middle off
        // it tells inside from outside (no cut lies between, so the whole piece is on that side).
        Point probe{};
        bool off_outline = false;
        for (std::size_t j = 1; j < piece.points.size() && !off_outline; ++j) {
            probe = {(piece.points[j - 1].x + piece.points[j].x) / 2, (piece.points[j - 1].y + piece.points[j].y) / 2};
            off_outline = !on_outline(probe);
        }
        if (!off_outline) continue;
        // The side a proper crossing at either end leads to, else the probe's: along a zig-zagging
        // outline a line crossing its teeth is cut into thousands of pieces, and the nearest
        // outline segment is looked for among the teeth for each.
        const int side = stops[k].side != 0 ? stops[k].side : -stops[k + 1].side;
        if (side == 0 ? !inside(probe) : side < 0) continue;
        piece.cut_start = stop_cut[k] != 0;
        piece.cut_end = stop_cut[k + 1] != 0;
        if (k == 0) first_kept = true;
        if (is_last) last_kept = true;
        out.push_back(std::move(piece));
    }
    // A closed line passes its first vertex inside the area: the pieces on both sides are one.
    const bool closed = v.front() == v.back();
    if (closed && !cut_at_start && !cut_at_end && first_kept && last_kept && out.size() - first_piece >= 2) {
        ClippedPiece& head = out[first_piece];
        ClippedPiece tail = std::move(out.back());
        out.pop_back();
        tail.points.insert(tail.points.end(), head.points.begin() + 1, head.points.end());
        tail.cut_end = head.cut_end;
        head = std::move(tail);
    }
}

AreaLocator::AreaLocator(const Context& context, const GEOSGeometry* area) {
    std::vector<Geom> rings;
    geos::collect_lines(context, area, rings);
    constexpr std::uint32_t kBlock = 256;  // segments
    for (const Geom& ring : rings) {
        const std::vector<Point> v = geos::vertices(context, ring.get());
        if (v.size() < 2) continue;
        const auto offset = static_cast<std::uint32_t>(points_.size());
        points_.insert(points_.end(), v.begin(), v.end());
        for (auto first = offset + 1; first < points_.size(); first += kBlock) {
            const auto end = static_cast<std::uint32_t>(std::min<std::size_t>(first + kBlock, points_.size()));
            Block block{
                first, end, points_[first - 1].x, points_[first - 1].y, points_[first - 1].x, points_[first - 1].y};
            for (std::uint32_t i = first; i < end; ++i) {
                block.min_x = std::min(block.min_x, points_[i].x), block.max_x = std::max(block.max_x, points_[i].x);
                block.min_y = std::min(block.min_y, points_[i].y), block.max_y = std::max(block.max_y, points_[i].y);
            }
            min_x_ = std::min(min_x_, block.min_x), max_x_ = std::max(max_x_, block.max_x);
            min_y_ = std::min(min_y_, block.min_y), max_y_ = std::max(max_y_, block.max_y);
            blocks_.push_back(block);
        }
    }
    magnitude_ = std::max({std::abs(min_x_), std::abs(max_x_), std::abs(min_y_), std::abs(max_y_)});
}

bool AreaLocator::covers(const Context& context, Point p) const {
    if (!(p.x >= min_x_ && p.x <= max_x_ && p.y >= min_y_ && p.y <= max_y_)) return false;  // NaN too
    // A micrometre plus thousands of units in the last place of these coordinates: far more than
    // the rounding of an edge's foot or a crossing point, far less than anything one can see.
    const double slack = 1e-6 + 1e-12 * (magnitude_ + std::abs(p.x) + std::abs(p.y));
    bool inside = false, near_outline = false;
    for (const Block& block : blocks_) {
        const bool near = p.x >= block.min_x - slack && p.x <= block.max_x + slack && p.y >= block.min_y - slack &&
                          p.y <= block.max_y + slack;
        const bool crossed = block.max_y > p.y && block.min_y <= p.y && p.x <= block.max_x + slack;
        if (!near && !crossed) continue;
        for (std::uint32_t i = block.first; i < block.end; ++i) {
            const Point a = points_[i - 1], b = points_[i];
            if (near) {
                const double dx = b.x - a.x, dy = b.y - a.y, length = dx * dx + dy * dy;
                const double t =
                    length > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length, 0.0, 1.0) : 0.0;
                if (std::hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy)) <= slack) {
                    near_outline = true;
                    break;
                }
            }
            // Half-open in y, so a vertex level with p counts once; p is off every segment by more
            // than the slack, far beyond the rounding of the crossing point.
            if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) inside = !inside;
        }
        if (near_outline) break;
    }
    if (!near_outline) return inside;
    // Next to the outline: GEOS's own rule (RayCrossingCounter, as its IndexedPointInAreaLocator
    // applies it) with GEOS's orientation test, over the segments level with p.
    const auto handle = context.handle();
    bool on_segment = false;
    int crossings = 0;
    for (const Block& block : blocks_) {
        if (block.min_y > p.y || block.max_y < p.y || block.max_x < p.x) continue;
        for (std::uint32_t i = block.first; i < block.end && !on_segment; ++i) {
            const Point a = points_[i - 1], b = points_[i];
            if (a.x < p.x && b.x < p.x) continue;
            if (p == b) {
                on_segment = true;
            } else if (a.y == p.y && b.y == p.y) {
                on_segment = p.x >= std::min(a.x, b.x) && p.x <= std::max(a.x, b.x);
            } else if ((a.y > p.y && b.y <= p.y) || (b.y > p.y && a.y <= p.y)) {
                int orientation = GEOSOrientationIndex_r(handle, a.x, a.y, b.x, b.y, p.x, p.y);
                if (orientation == 0) {
                    on_segment = true;
                } else {
                    if (b.y < a.y) orientation = -orientation;
                    crossings += orientation == 1 ? 1 : 0;
                }
            }
        }
        if (on_segment) return true;
    }
    return crossings % 2 == 1;
}

Geom lightened(const Context& context, Geom polygonal, double tolerance) {
    const auto handle = context.handle();
    if (GEOSGetNumCoordinates_r(handle, polygonal.get()) <= kDetailedOutline) return polygonal;
    Geom simplified = geos::own(context, GEOSSimplify_r(handle, polygonal.get(), tolerance), "simplifying an outline");
    if (GEOSisValid_r(handle, simplified.get()) != 1)
        simplified = geos::own(context, GEOSTopologyPreserveSimplify_r(handle, polygonal.get(), tolerance),
                               "simplifying an outline");
    return simplified;
}

Geom node_with_outline(const Context& context, const GEOSGeometry* outline, const GEOSGeometry* lines) {
    const auto handle = context.handle();
    std::vector<Geom> rings;
    geos::collect_lines(context, outline, rings);
    // The largest ring above the threshold is noded in stretches; the other rings whole (two
    // detailed rings touching each other then still meet at a node).
    std::size_t detailed = rings.size();
    int most = kDetailedOutline;
    for (std::size_t r = 0; r < rings.size(); ++r)
        if (const int n = GEOSGetNumCoordinates_r(handle, rings[r].get()); n > most) {
            most = n;
            detailed = r;
        }
    std::vector<Geom> to_node;
    geos::collect_lines(context, lines, to_node);
    for (std::size_t r = 0; r < rings.size(); ++r)
        if (r != detailed) to_node.push_back(geos::clone(context, rings[r].get()));
    std::vector<Geom> as_they_are;
    if (detailed < rings.size()) {
        std::vector<SegmentIndex::Segment> cutters;
        for (const Geom& line : to_node) {
            const std::vector<Point> p = geos::vertices(context, line.get());
            for (std::size_t i = 1; i < p.size(); ++i) cutters.push_back({p[i - 1], p[i]});
        }
        const SegmentIndex cutter_index(std::move(cutters));
        const std::vector<Point> ring = geos::vertices(context, rings[detailed].get());
        const std::size_t segments = ring.size() - 1;
        // A segment is near a line when they pass within kNear of each other: GEOS's noder finds
        // no intersection between segments farther apart, so the others need no noding.
        constexpr double kNear = 1e-6;  // metres, far above rounding
        std::vector<char> near(segments);
        for (std::size_t i = 0; i < segments; ++i) near[i] = cutter_index.within(ring[i], ring[i + 1], kNear) ? 1 : 0;
        // Runs of equal segments, around the ring from a change (a ring of one kind stays whole).
        std::size_t start = 0;
        while (start < segments && near[start] == near[(start + segments - 1) % segments]) ++start;
        if (start == segments) {
            (near[0] ? to_node : as_they_are).push_back(geos::clone(context, rings[detailed].get()));
        } else {
            std::vector<Point> run{ring[start]};
            for (std::size_t k = 0; k < segments; ++k) {
                const std::size_t i = (start + k) % segments;
                run.push_back(ring[i + 1]);
                const std::size_t next = (i + 1) % segments;
                if (k + 1 == segments || near[next] != near[i]) {
                    (near[i] ? to_node : as_they_are).push_back(geos::line_string(context, run));
                    run.assign(1, ring[i + 1]);
                }
            }
        }
    }
    const Geom collection = geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(to_node));
    std::vector<Geom> linework;
    linework.push_back(geos::own(context, GEOSUnaryUnion_r(handle, collection.get()), "noding lines with an outline"));
    for (Geom& line : as_they_are) linework.push_back(std::move(line));
    return geos::collection(context, GEOS_GEOMETRYCOLLECTION, std::move(linework));
}

double total_length(const std::vector<ClippedPiece>& pieces) {
    double length = 0;
    for (const ClippedPiece& piece : pieces)
        for (std::size_t i = 1; i < piece.points.size(); ++i)
            length += std::hypot(piece.points[i].x - piece.points[i - 1].x, piece.points[i].y - piece.points[i - 1].y);
    return length;
}

}  // namespace civgrid::algorithms
