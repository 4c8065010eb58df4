#include <civgrid/algorithms/detailed_outline.hpp>
#include <civgrid/algorithms/geos.hpp>
#include <civgrid/algorithms/parallel.hpp>
#include <civgrid/algorithms/region_locator.hpp>

#include <geos_c.h>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <cmath>

namespace civgrid::algorithms {

struct RegionLocator::Index {
    // GEOS prepared geometries compute envelopes lazily and are not safe to share between threads.
    struct Local {
        geos::Context context;
        std::vector<geos::Geom> shapes;
        std::vector<geos::Prepared> prepared;
        std::unique_ptr<geos::StrTree> tree;
    };
    std::vector<Wkb> regions;
    // Regions of more than kDetailedOutline vertices, located by one AreaLocator all threads
    // share (GEOS's point locator of a million-vertex boundary costs a tenth of a second or more
    // per thread to build).
    std::vector<std::unique_ptr<AreaLocator>> detailed;
    mutable tbb::enumerable_thread_specific<Local> per_thread;

    Local& here() const {
        Local& local = per_thread.local();
        if (local.tree) return local;
        local.tree = std::make_unique<geos::StrTree>(local.context);
        for (const Wkb& region : regions) local.shapes.push_back(geos::from_wkb(local.context, region));
        for (std::size_t r = 0; r < local.shapes.size(); ++r) {
            local.prepared.push_back(geos::prepare(local.context, local.shapes[r].get()));
            local.tree->insert(local.shapes[r].get(), r);
        }
        return local;
    }
    int locate(Local& local, Point where) const {
        if (!std::isfinite(where.x) || !std::isfinite(where.y)) return -1;
        const geos::Geom point = geos::point(local.context, where);
        for (const std::size_t r : local.tree->query(point.get())) {  // in region order
            if (detailed[r]) {
                if (detailed[r]->covers(local.context, where)) return static_cast<int>(r);
                continue;
            }
            if (GEOSPreparedIntersects_r(local.context.handle(), local.prepared[r].get(), point.get()) == 1)
                return static_cast<int>(r);
        }
        return -1;
    }
};

RegionLocator::RegionLocator(std::vector<Wkb> regions) : index_(std::make_unique<Index>()) {
    index_->regions = std::move(regions);
    index_->detailed.resize(index_->regions.size());
    const geos::Context context;
    for (std::size_t r = 0; r < index_->regions.size(); ++r) {
        constexpr std::size_t kBytesPerVertex = 16;  // WKB, 2D: only a big one is read here
        if (index_->regions[r].size() <= kBytesPerVertex * kDetailedOutline) continue;
        const geos::Geom shape = geos::from_wkb(context, index_->regions[r]);
        if (GEOSGetNumCoordinates_r(context.handle(), shape.get()) > kDetailedOutline)
            index_->detailed[r] = std::make_unique<AreaLocator>(context, shape.get());
    }
}

RegionLocator::~RegionLocator() = default;

int RegionLocator::locate(Point point) const {
    return index_->locate(index_->here(), point);
}

std::vector<int> RegionLocator::locate_all(const std::vector<Point>& points, int threads,
                                           const std::vector<char>* skip) const {
    std::vector<int> regions(points.size(), -1);
    with_threads(threads, [&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, points.size(), 4096),
                          [&](const tbb::blocked_range<std::size_t>& range) {
                              Index::Local& local = index_->here();
                              for (std::size_t i = range.begin(); i < range.end(); ++i)
                                  if (skip == nullptr || (*skip)[i] == 0) regions[i] = index_->locate(local, points[i]);
                          });
    });
    return regions;
}

}  // namespace civgrid::algorithms
