// Shortest distances along the roads (staffing's --network-distance): our NetworkSearch (method:0:
// several sources, stops once every target is settled, resets only what it touched) against
// Boost.Graph's dijkstra_shortest_paths on the same arcs (method:1: its graph built once, each
// search from a source node over the whole graph, as the library runs it). A 15 km grid of roads
// every 100 m (22,801 nodes); 2,000 searches, each from one point to the 8 points nearest it within
// 500 m, up to 5 km. Issue 18 keeps a hand-made graph algorithm only with a benchmark showing why.
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/road_network.hpp>

#include <benchmark/benchmark.h>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>

#include <random>
#include <vector>

namespace {

using namespace civgrid;

const algorithms::RoadNetwork& network() {
    static const algorithms::RoadNetwork roads = [] {
        geos::Context context;
        std::vector<Wkb> lines;
        for (int i = 0; i <= 150; ++i) {
            const double at = 100.0 * i;
            lines.push_back(geos::to_wkb(context, geos::line_string(context, {{0, at}, {15'000, at}}).get()));
            lines.push_back(geos::to_wkb(context, geos::line_string(context, {{at, 0}, {at, 15'000}}).get()));
        }
        return algorithms::RoadNetwork(lines);
    }();
    return roads;
}

struct Search {
    algorithms::RoadNetwork::Attachment source;
    std::vector<algorithms::RoadNetwork::Attachment> targets;
};

const std::vector<Search>& searches() {
    static const std::vector<Search> all = [] {
        std::mt19937_64 random(3);
        std::uniform_real_distribution<double> where(1'000, 14'000), near(-500, 500);
        std::vector<Search> out;
        for (int s = 0; s < 2'000; ++s) {
            const Point home{where(random), where(random)};
            Search search{*network().attach(home), {}};
            for (int t = 0; t < 8; ++t)
                search.targets.push_back(*network().attach({home.x + near(random), home.y + near(random)}));
            out.push_back(std::move(search));
        }
        return out;
    }();
    return all;
}

void BM_RoadSearch(benchmark::State& state) {
    const algorithms::RoadNetwork& roads = network();
    const std::vector<Search>& all = searches();
    double checksum = 0;
    if (state.range(0) == 0) {
        algorithms::NetworkSearch search(roads);
        for (auto _ : state) {
            checksum = 0;
            for (const Search& s : all) {
                search.run({&s.source, 1}, s.targets, 5'000);
                for (const auto& t : s.targets) checksum += search.distance(t);
            }
        }
    } else {
        using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                                            boost::property<boost::edge_weight_t, double>>;
        Graph graph(roads.node_count());
        for (std::uint32_t n = 0; n < roads.node_count(); ++n)
            for (const auto& arc : roads.arcs(n)) boost::add_edge(n, arc.node, arc.length, graph);
        std::vector<double> distance(roads.node_count());
        for (auto _ : state) {
            checksum = 0;
            for (const Search& s : all) {
                // From the source edge's nearer end (close to ours: a source inside an edge).
                const auto& edge = roads.edge(s.source.edge);
                const std::uint32_t from = s.source.along < edge.length / 2 ? edge.from : edge.to;
                boost::dijkstra_shortest_paths(graph, from,
                                               boost::distance_map(boost::make_iterator_property_map(
                                                   distance.begin(), get(boost::vertex_index, graph))));
                for (const auto& t : s.targets) checksum += distance[roads.edge(t.edge).from];
            }
        }
    }
    benchmark::DoNotOptimize(checksum);
    state.counters["nodes"] = static_cast<double>(roads.node_count());
    state.counters["searches"] = static_cast<double>(all.size());
}
BENCHMARK(BM_RoadSearch)->ArgName("method")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
