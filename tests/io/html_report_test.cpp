// The HTML report writer: one self-contained page (Leaflet inlined, no resource from the network),
// its GeoJSON parsed by GDAL's own JSON reader, one feature per micro-grid, the tables, the atomic
// write. The page's behaviour in a browser is tested by tests/python/test_html_report.py.
#include <civgrid/error.hpp>
#include <civgrid/io/html_report.hpp>
#include <civgrid/io/output_file.hpp>

#include "ogr_wkb.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cpl_json.h>
#include <ogr_api.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

namespace civgrid::io {
namespace {

using civgrid::test::contains;
using civgrid::test::file_bytes;
using civgrid::test::message_of;
using civgrid::test::TempDir;

using civgrid::test::wkb_of;

/// Three micro-grids in two communities near Hangzhou (lon/lat), one flagged, odd characters in codes.
HtmlReportData sample() {
    HtmlReportData data;
    data.title = "civgrid report: city <test>.gpkg";
    data.source = "/tmp/city.gpkg";
    data.tolerance = 0.2;
    data.micro_grids.push_back({wkb_of("POLYGON((120.1 30.2,120.101 30.2,120.101 30.201,120.1 30.201,120.1 30.2))"),
                                "C1-001", "C1-G1", "C1", "", 83, 83.0, 0.0, "W1; W2", "electricity: E1; water: none"});
    data.micro_grids.push_back(
        {wkb_of("POLYGON((120.101 30.2,120.1023456789 30.2,120.1023456789 30.201,120.101 30.201,120.101 30.2))"),
         "C1-002", "C1-G1", "C1", "", 95, 83.0, 12.0 / 83, "", ""});
    data.micro_grids.push_back(
        {wkb_of("MULTIPOLYGON(((120.2 30.2,120.201 30.2,120.201 30.201,120.2 30.2)),((120.21 30.2,120.211 30.2,"
                "120.211 30.201,120.21 30.2)))"),
         "C2-\"</script>", "", "C2", "multipart", 40, 83.0, -43.0 / 83, "", ""});
    data.communities.push_back(
        {wkb_of("POLYGON((120.1 30.2,120.1023456789 30.2,120.1023456789 30.201,120.1 30.201,120.1 30.2))"), "C1", 178,
         2, 1, 2, 0, 21.5, 12.0});
    data.communities.push_back(
        {wkb_of("POLYGON((120.2 30.2,120.211 30.2,120.211 30.201,120.2 30.2))"), "C2", 40, 1, 0, -1, 1, -1, -1});
    data.grids.push_back(data.communities.front().geometry);
    data.barriers.push_back(wkb_of("LINESTRING(120.15 30.19,120.15 30.21)"));
    data.stations.push_back({"E1", "electricity", 100, 120, 2});
    data.quality = {{"micro_grids", "3"}, {"share_within_10pct", "0.3333"}, {"best_share_within_10pct", "0.6667"}};
    return data;
}

/// The text of the element opened by `open` up to the next `</script>`.
std::string script_content(const std::string& page, const std::string& open) {
    const auto start = page.find(open);
    if (start == std::string::npos) return {};
    const auto from = start + open.size();
    const auto end = page.find("</script>", from);
    return end == std::string::npos ? std::string() : page.substr(from, end - from);
}

TEST(HtmlReport, InlinesLeafletAndRefersToNoNetworkResource) {
    const std::string page = html_report(sample());
    const std::string leaflet = file_bytes(leaflet_directory() + "/leaflet.min.js");
    ASSERT_FALSE(leaflet.empty()) << "libjs-leaflet is not installed (APT_PACKAGES in the Makefile has it)";
    EXPECT_TRUE(contains(page, leaflet.substr(0, 200)));  // the library itself, inlined
    EXPECT_TRUE(contains(page, ".leaflet-pane"));         // and its CSS
    EXPECT_EQ(page.find("sourceMappingURL"), std::string::npos);
    EXPECT_EQ(page.find("images/"), std::string::npos);  // Leaflet's CSS images are not asked for
    // No script, style sheet, image or frame is loaded from anywhere: no src= or <link> at all.
    // (Leaflet's own text holds a link to its site for the attribution, which the report turns off.)
    const std::regex resource(R"re(<(script|link|img|iframe|source|embed|object)\b[^>]*\b(src|href|data)\s*=)re",
                              std::regex::icase);
    EXPECT_FALSE(std::regex_search(page, resource));
    const std::regex remote_css(R"re((url\(\s*["']?|@import\s*["']?)(https?:)?//)re", std::regex::icase);
    EXPECT_FALSE(std::regex_search(page, remote_css));
    EXPECT_EQ(page.find("<link"), std::string::npos);
}

TEST(HtmlReport, GeoJsonParsesWithOneFeaturePerMicroGrid) {
    const HtmlReportData data = sample();
    const std::string page = html_report(data);
    const std::string json = script_content(page, "<script type=\"application/json\" id=\"civgrid-data\">");
    ASSERT_FALSE(json.empty());
    CPLJSONDocument document;
    ASSERT_TRUE(document.LoadMemory(json)) << json.substr(0, 500);
    const CPLJSONObject root = document.GetRoot();
    const CPLJSONArray features = root.GetObj("micro_grids").GetArray("features");
    ASSERT_EQ(features.Size(), static_cast<int>(data.micro_grids.size()));
    EXPECT_EQ(root.GetObj("communities").GetArray("features").Size(), 2);
    EXPECT_EQ(root.GetObj("grids").GetArray("features").Size(), 1);
    const CPLJSONArray barriers = root.GetObj("barriers").GetArray("features");
    ASSERT_EQ(barriers.Size(), 1);
    EXPECT_EQ(barriers[0].GetObj("geometry").GetString("type"), "LineString");
    EXPECT_EQ(features[2].GetObj("properties").GetString("code"), "C2-\"</script>");  // escaped, intact
    EXPECT_EQ(features[1].GetObj("properties").GetLong("households"), 95);
    EXPECT_EQ(features[0].GetObj("properties").GetString("workers"), "W1; W2");
    EXPECT_EQ(features[0].GetObj("properties").GetString("stations"), "electricity: E1; water: none");
    EXPECT_NEAR(features[1].GetObj("properties").GetDouble("deviation"), 12.0 / 83, 1e-4);
    EXPECT_EQ(features[2].GetObj("geometry").GetString("type"), "MultiPolygon");
    // Coordinates rounded to 6 decimals (about 0.1 m).
    EXPECT_TRUE(contains(json, "120.102346")) << json.substr(0, 400);
    EXPECT_EQ(json.find("120.1023456789"), std::string::npos);
    // The data element is closed where it should be: the code's "</script>" was escaped.
    EXPECT_EQ(json.find("</"), std::string::npos);
}

TEST(HtmlReport, HasTheFiguresAndASortableCommunityTable) {
    const std::string page = html_report(sample());
    EXPECT_TRUE(contains(page, "<title>civgrid report: city &lt;test&gt;.gpkg</title>"));
    EXPECT_TRUE(contains(page, "<td>best_share_within_10pct</td><td>0.6667</td>"));
    EXPECT_TRUE(contains(page, "<svg id=\"histogram\""));
    EXPECT_TRUE(contains(page, "<table id=\"communities\" class=\"sortable\">"));
    const std::regex row("<tr><td data-value=\"C[12]\">");
    EXPECT_EQ(std::distance(std::sregex_iterator(page.begin(), page.end(), row), std::sregex_iterator()), 2);
    EXPECT_TRUE(contains(page, "<td data-value=\"-1\">-</td>"));  // C2's bound unknown
    EXPECT_TRUE(contains(page, "class=\"legend\""));
    // The flagged micro-grid listed with its reason, its code a link to the map.
    const auto start = page.find("<table id=\"flagged\"");
    ASSERT_NE(start, std::string::npos);
    const std::string flagged = page.substr(start, page.find("</table>", start) - start);
    EXPECT_TRUE(contains(flagged, "<td data-value=\"multipart\">multipart</td>"));
    EXPECT_EQ(flagged.find("C1-001"), std::string::npos);
    EXPECT_TRUE(contains(page, "class=\"zoom community\" data-code=\"C1\""));
    // The standards per community, pass or fail, "-" when not known; the stations' loads.
    EXPECT_TRUE(contains(page, "<td data-value=\"21.50\" class=\"pass\">21.5 pass</td>"));
    EXPECT_TRUE(contains(page, "<td data-value=\"12.00\" class=\"fail\">12.0 fail</td>"));
    EXPECT_TRUE(contains(page, "<td data-value=\"120.00\" class=\"fail\">120.0</td>"));  // E1 over capacity
}

TEST(HtmlReport, WritesAtomicallyAndNamesAMissingLeaflet) {
    const TempDir dir;
    const std::string path = dir.file("report.html");
    {
        OutputReservation output(path);
        write_html_report(output, sample());
        EXPECT_FALSE(std::filesystem::exists(path));  // only the temporary until commit
        output.commit();
    }
    EXPECT_TRUE(contains(file_bytes(path), "<!DOCTYPE html>"));

    const std::string missing = dir.file("no-leaflet");
    ::setenv("CIVGRID_LEAFLET_DIR", missing.c_str(), 1);
    const std::string message = message_of<IoError>([] { (void)html_report(sample()); });
    ::unsetenv("CIVGRID_LEAFLET_DIR");
    EXPECT_TRUE(contains(message, missing + "/leaflet.min.js"));
    EXPECT_TRUE(contains(message, "libjs-leaflet"));
}

}  // namespace
}  // namespace civgrid::io
