#include <civgrid/algorithms/segment_index.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace civgrid::algorithms {
namespace {

// Brute force reference: proper crossing by orientation tests on every segment.
bool crosses_brute_force(const std::vector<SegmentIndex::Segment>& segments, Point p, Point q) {
    auto orient = [](Point a, Point b, Point c) {
        const double v = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
        return (v > 0) - (v < 0);
    };
    for (const auto& s : segments)
        if (orient(p, q, s.a) * orient(p, q, s.b) < 0 && orient(s.a, s.b, p) * orient(s.a, s.b, q) < 0) return true;
    return false;
}

TEST(SegmentIndex, CrossingAndTouchingAreTold) {
    const SegmentIndex index({{{0, 0}, {10, 0}}, {{10, 0}, {10, 10}}});
    EXPECT_TRUE(index.crosses({5, -1}, {5, 1}));
    EXPECT_TRUE(index.intersects({5, -1}, {5, 1}));
    EXPECT_FALSE(index.crosses({5, 1}, {6, 2}));
    EXPECT_FALSE(index.intersects({5, 1}, {6, 2}));
    // A site lying on the barrier: touching, not crossing.
    EXPECT_FALSE(index.crosses({5, 0}, {5, 3}));
    EXPECT_TRUE(index.intersects({5, 0}, {5, 3}));
    // The barrier's dead end reaches into the edge: the edge passes through it.
    EXPECT_TRUE(index.crosses({-1, -1}, {1, 1}));
    // Collinear overlap runs along the barrier.
    EXPECT_TRUE(index.crosses({-2, 0}, {3, 0}));
    // Beyond the end of a dead-end barrier: free.
    EXPECT_FALSE(index.crosses({11, 11}, {12, 12}));
    EXPECT_FALSE(SegmentIndex({}).crosses({0, 0}, {1, 1}));
}

TEST(SegmentIndex, AgreesWithBruteForceOnRandomSegments) {
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> coordinate(0.0, 1000.0), step(-30.0, 30.0);
    std::vector<SegmentIndex::Segment> segments;
    for (int i = 0; i < 400; ++i) {
        const Point a{coordinate(random), coordinate(random)};
        segments.push_back({a, {a.x + step(random) * 3, a.y + step(random) * 3}});
    }
    const SegmentIndex index(segments);
    int crossings = 0;
    for (int i = 0; i < 5000; ++i) {
        const Point p{coordinate(random), coordinate(random)};
        const Point q{p.x + step(random), p.y + step(random)};
        const bool expected = crosses_brute_force(segments, p, q);
        ASSERT_EQ(index.crosses(p, q), expected) << "query " << i;
        ASSERT_EQ(index.intersects(p, q), expected) << "query " << i;  // no touching in random data
        crossings += expected ? 1 : 0;
    }
    EXPECT_GT(crossings, 100);  // the data exercises both answers
    EXPECT_LT(crossings, 4900);
}

TEST(SegmentIndex, MeetingAndNearestAgreeWithBruteForce) {
    std::mt19937_64 random(9);
    std::uniform_real_distribution<double> coordinate(0.0, 1000.0), step(-30.0, 30.0);
    std::vector<SegmentIndex::Segment> segments;
    for (int i = 0; i < 400; ++i) {
        const Point a{coordinate(random), coordinate(random)};
        segments.push_back({a, {a.x + step(random) * 3, a.y + step(random) * 3}});
    }
    const SegmentIndex index(segments);
    auto squared_distance = [](const SegmentIndex::Segment& s, Point p) {
        const double dx = s.b.x - s.a.x, dy = s.b.y - s.a.y;
        const double t = std::clamp(((p.x - s.a.x) * dx + (p.y - s.a.y) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
        return std::pow(s.a.x + t * dx - p.x, 2) + std::pow(s.a.y + t * dy - p.y, 2);
    };
    int met = 0;
    for (int i = 0; i < 2000; ++i) {
        const Point p{coordinate(random), coordinate(random)};
        const Point q{p.x + step(random), p.y + step(random)};
        std::vector<SegmentIndex::Segment> meeting;
        index.meeting(p, q, meeting);
        const bool crossed = crosses_brute_force(segments, p, q);
        ASSERT_EQ(!meeting.empty(), crossed) << "query " << i;
        for (const SegmentIndex::Segment& s : meeting) ASSERT_TRUE(crosses_brute_force({s}, p, q));
        met += static_cast<int>(meeting.size());

        double best = std::numeric_limits<double>::infinity();
        for (const SegmentIndex::Segment& s : segments) best = std::min(best, squared_distance(s, p));
        const std::int64_t nearest = index.nearest(p, 1000);
        ASSERT_GE(nearest, 0);
        EXPECT_EQ(squared_distance(index.segment(static_cast<std::size_t>(nearest)), p), best) << "query " << i;
    }
    EXPECT_GT(met, 100);
    EXPECT_EQ(SegmentIndex({}).nearest({0, 0}, 10), -1);
    // Within a reach of one cell, nothing is found farther than that cell's neighbours.
    const SegmentIndex two({{{0, 0}, {1, 0}}, {{1000, 1000}, {1001, 1000}}});
    EXPECT_EQ(two.nearest({500, 500}, 1), -1);
    EXPECT_GE(two.nearest({500, 500}, 3), 0);
}

// Next to a dense zig-zag indexed in fine cells (as OutlineClipper's), the nearest segment is the
// brute force's, the first of equals, whether the search ends in the point's own cell or further.
TEST(SegmentIndex, NearestNextToADenseZigZagIsTheFirstNearest) {
    std::vector<SegmentIndex::Segment> segments;
    for (int i = 0; i < 20'000; ++i)
        segments.push_back({{i * 0.0018, i % 2 == 1 ? 0.03 : 0.0}, {(i + 1) * 0.0018, i % 2 == 0 ? 0.03 : 0.0}});
    const SegmentIndex index(segments, 64);
    std::mt19937 random(5);
    std::uniform_real_distribution<double> along(-0.5, 36.5), across(-0.3, 0.33);
    int found = 0;
    for (int i = 0; i < 3000; ++i) {
        const Point p{along(random), across(random)};
        double best = std::numeric_limits<double>::infinity();
        std::int64_t first = -1;
        for (std::size_t k = 0; k < segments.size(); ++k) {
            const SegmentIndex::Segment& s = segments[k];
            const double dx = s.b.x - s.a.x, dy = s.b.y - s.a.y;
            const double t = std::clamp(((p.x - s.a.x) * dx + (p.y - s.a.y) * dy) / (dx * dx + dy * dy), 0.0, 1.0);
            const double d =
                (s.a.x + t * dx - p.x) * (s.a.x + t * dx - p.x) + (s.a.y + t * dy - p.y) * (s.a.y + t * dy - p.y);
            if (d < best) best = d, first = static_cast<std::int64_t>(k);
        }
        const std::int64_t nearest = index.nearest(p, 8);
        if (nearest < 0) {
            EXPECT_GT(std::sqrt(best), 8 * index.cell_size()) << i;
            continue;
        }
        ++found;
        EXPECT_EQ(nearest, first) << i;
    }
    EXPECT_GT(found, 1000);
}

}  // namespace
}  // namespace civgrid::algorithms
