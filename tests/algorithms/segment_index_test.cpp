#include <civgrid/algorithms/segment_index.hpp>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace civgrid::algorithms
