// The planner's report as one self-contained HTML file: a map of the micro-grids (Leaflet, from
// Debian's libjs-leaflet, inlined with its CSS), the quality report, a histogram of households per
// micro-grid (inline SVG) and a sortable table per community. Nothing is fetched when it is opened:
// no tile server, no script or style from the network. GDAL never appears in this header.
#pragma once

#include <civgrid/types.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace civgrid::io {

class OutputReservation;

/// What the report shows; geometry is ISO WKB in WGS84 lon/lat degrees (x = longitude), already
/// reprojected (read_layer with target_crs "EPSG:4326"); it is written as GeoJSON with 6 decimals.
struct HtmlReportData {
    std::string title;   ///< the page's title and heading (e.g. the output file's name)
    std::string source;  ///< the file reported on, shown under the heading
    struct MicroGrid {
        Wkb geometry;  ///< Polygon or MultiPolygon, lon/lat
        std::string code, grid, community, flags;
        std::int64_t households = 0;
        double target = 0;     ///< households aimed at
        double deviation = 0;  ///< (households - target) / target
        std::string workers;   ///< its micro-grid worker ids, "; "-separated ("" when none or not staffed)
        std::string stations;  ///< "utility: station id" per utility, "; "-separated ("" when none)
    };
    std::vector<MicroGrid> micro_grids;
    struct Community {
        Wkb geometry;  ///< its boundary (polygon), lon/lat; may be empty
        std::string code;
        std::int64_t households = 0, micro_grids = 0, within_10 = 0;
        std::int64_t best_within_10 = -1;  ///< -1 when the file does not have the bound
        std::int64_t flags = 0;            ///< flagged micro-grids
        /// The standards, -1 when not known (a run without workers, or without facilities):
        /// community workers per 10,000 residents (18 needed) and m² of service space per 100
        /// households (30 needed).
        double workers_per_10k = -1, facility_m2_per_100 = -1;
    };
    std::vector<Community> communities;
    /// A street (街道) or a district (区): its boundary and its figures, summed from its micro-grids.
    struct Area {
        Wkb geometry;          ///< its boundary, lon/lat; may be empty
        std::string code;      ///< street_code or district_code
        std::string district;  ///< a street's district_code ("" for a district)
        std::int64_t communities = 0;
        std::int64_t requested = -1;  ///< micro-grids requested (its communities' sum), -1 when not known
        std::int64_t micro_grids = 0, households = 0, within_10 = 0, flags = 0;
    };
    std::vector<Area> streets, districts;  ///< empty when the output has no street (district) codes
    /// Utility stations with their load (the output's stations layer), when the run had them.
    struct Station {
        std::string id, utility;
        std::int64_t capacity = 0, load = 0, micro_grids = 0;
    };
    std::vector<Station> stations;
    /// Staffing, recomputed from worker_assignments and service_assignments (when the run had them).
    struct Distances {
        std::string what;  ///< "micro-grid workers", "mobile workers", or a utility's name
        std::int64_t assignments = 0;
        std::int64_t unassigned = -1;  ///< micro-grids no station took (utilities), -1 when not counted
        std::int64_t known = 0;        ///< assignments with a distance
        double mean = 0, median = 0, p95 = 0, max = 0;  ///< metres, home (station) to the micro-grid
    };
    struct Staffing {
        bool present = false;  ///< the output has worker_assignments
        /// (workers, micro-grids with that many micro-grid workers), by workers ascending.
        std::vector<std::pair<std::int64_t, std::int64_t>> workers_per_micro_grid;
        std::vector<std::size_t> unstaffed;  ///< indexes into micro_grids of those without a worker
        std::vector<Distances> distances;
    };
    Staffing staffing;
    std::vector<Wkb> grids;     ///< grid (网格) polygons, lon/lat, outlined; empty without a grid level
    std::vector<Wkb> barriers;  ///< hard barrier lines, lon/lat
    /// A rerun (`civgrid repartition`'s output, with its `changes` and `lineage` layers): what
    /// changed, drawn as a second view of the map, its legend, the lineage and the churn figures.
    bool rerun = false;
    struct Change {
        Wkb geometry;        ///< the micro-grid's polygon now (a retired one's before), lon/lat; may be empty
        std::string code;    ///< micro_grid_id
        std::string status;  ///< one of kChangeStatuses
        std::string previous_ids, next_ids;
        std::int64_t households = 0, buildings = 0;
    };
    std::vector<Change> changes;
    /// Lineage rows that moved something (previous_id != new_id; "" for a new or removed building).
    struct Lineage {
        std::string previous, now;
        std::int64_t households = 0, building_parts = 0;
    };
    std::vector<Lineage> lineage;
    std::int64_t lineage_kept_rows = 0;  ///< lineage rows with previous_id == new_id, not listed
    /// The churn figures recomputed from `changes` and `lineage` (key, value), in order.
    std::vector<std::pair<std::string, std::string>> churn;
    /// The run's own record (run_info section `repartition`), shown as it is.
    std::vector<std::pair<std::string, std::string>> rerun_record;
    /// The quality report's (key, value) rows (algorithms::QualityReport::rows()), in order.
    std::vector<std::pair<std::string, std::string>> quality;
    double tolerance = 0.2;  ///< the run's bounds, for the legend (deviation scale is +-2 tolerance)
    /// Simplified for the overview (a large city): the tolerance in metres, 0 when drawn in full.
    double simplified_m = 0;
    std::int64_t vertices_before = 0, vertices_after = 0;  ///< the micro-grids' vertices, when simplified
    /// A tile server's URL template ("https://tile.example.org/{z}/{x}/{y}.png") drawn under the
    /// micro-grids (L.tileLayer); empty: no basemap, and the page fetches nothing.
    std::string basemap;
};

/// Checks a basemap URL template (HtmlReportData::basemap): http:// or https:// and a host,
/// {z}, {x} and {y} (or {-y}), no placeholder but {s} {z} {x} {y} {-y} {r}, no space or control
/// character, at most 2,000 characters. ConfigError naming the template and the rule otherwise.
void check_basemap_template(const std::string& url_template);

/// The statuses of a rerun's `changes` layer, in the legend's order.
inline constexpr const char* kChangeStatuses[] = {"unchanged", "redrawn", "split",  "merged",
                                                  "regrouped", "new",     "retired"};

/// Where the inlined Leaflet (leaflet.min.js, leaflet.css) is read from: $CIVGRID_LEAFLET_DIR when
/// set, else Debian's /usr/share/javascript/leaflet (package libjs-leaflet).
[[nodiscard]] std::string leaflet_directory();

/// The report as HTML text. Throws IoError naming the file when Leaflet cannot be read (with the
/// package to install), InputError naming the micro-grid when a geometry cannot be converted.
[[nodiscard]] std::string html_report(const HtmlReportData& data);

/// Writes html_report(data) into the temporary file of `output`; the caller commits it.
void write_html_report(OutputReservation& output, const HtmlReportData& data);

}  // namespace civgrid::io
