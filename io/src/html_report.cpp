// The self-contained HTML report (html_report.hpp): Leaflet inlined, data as GeoJSON inlined,
// figures as HTML and inline SVG. Nothing in the page refers to the network.
#include <civgrid/error.hpp>
#include <civgrid/io/html_report.hpp>
#include <civgrid/io/output_file.hpp>

#include "gdal_handles.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>

namespace civgrid::io {
namespace {

constexpr const char* kStage = "io.html_report";

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw IoError(kStage, "cannot read '" + path +
                                  "' (Leaflet, inlined into the report): install Debian's libjs-leaflet or set "
                                  "CIVGRID_LEAFLET_DIR");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw IoError(kStage, "cannot read '" + path + "'");
    return text;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

/// Text for HTML content and attribute values.
std::string html(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

/// A JSON string literal that is also safe inside a <script> element ('<' escaped).
std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '<' || c == '>' || c == '&' || u < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\u%04x", u);
            out += buffer;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_number(double value, int decimals) {
    if (!std::isfinite(value)) return "null";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

std::string fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

/// GeoJSON geometry of lon/lat WKB, 6 decimals (about 0.1 m); "null" for an empty geometry.
std::string geojson_geometry(const Wkb& wkb, const std::string& what) {
    if (wkb.empty()) return "null";
    OGRGeometryH raw = nullptr;
    if (OGR_G_CreateFromWkb(wkb.data(), nullptr, &raw, static_cast<int>(wkb.size())) != OGRERR_NONE || raw == nullptr)
        throw InputError(kStage, what + ": the geometry cannot be read");
    const detail::GeometryPtr geometry(raw);
    char option[] = "COORDINATE_PRECISION=6";
    char* options[] = {option, nullptr};
    const detail::CplString json(OGR_G_ExportToJsonEx(geometry.get(), options));
    if (!json) throw InputError(kStage, what + ": the geometry cannot be written as GeoJSON");
    return json.get();
}

/// Households per micro-grid as bars, with the target and its +-10 % marked.
std::string histogram_svg(const HtmlReportData& data) {
    if (data.micro_grids.empty()) return "<p>No micro-grids.</p>";
    std::int64_t low = data.micro_grids.front().households, high = low;
    double target_sum = 0;
    for (const auto& g : data.micro_grids) {
        low = std::min(low, g.households);
        high = std::max(high, g.households);
        target_sum += g.target;
    }
    const double target = target_sum / static_cast<double>(data.micro_grids.size());
    const std::int64_t width = std::max<std::int64_t>(1, (high - low + 40) / 40);  // at most about 40 bins
    const std::int64_t first = low - low % width;
    const auto bins = static_cast<std::size_t>((high - first) / width + 1);
    std::vector<std::int64_t> counts(bins, 0);
    for (const auto& g : data.micro_grids) ++counts[static_cast<std::size_t>((g.households - first) / width)];
    const std::int64_t most = *std::max_element(counts.begin(), counts.end());
    constexpr double kWidth = 760, kHeight = 220, kLeft = 50, kBottom = 30, kTop = 10;
    const double plot_w = kWidth - kLeft - 10, plot_h = kHeight - kBottom - kTop;
    const double span = static_cast<double>(bins * static_cast<std::size_t>(width));
    auto x_of = [&](double households) { return kLeft + (households - static_cast<double>(first)) / span * plot_w; };
    std::ostringstream svg;
    svg << "<svg id=\"histogram\" width=\"" << kWidth << "\" height=\"" << kHeight
        << "\" role=\"img\" aria-label=\"households per micro-grid\">\n";
    svg << "<rect x=\"" << fixed(x_of(0.9 * target), 1) << "\" y=\"" << kTop << "\" width=\""
        << fixed(x_of(1.1 * target) - x_of(0.9 * target), 1) << "\" height=\"" << plot_h
        << "\" fill=\"#e8f4e8\"><title>within +-10 % of the target</title></rect>\n";
    for (std::size_t b = 0; b < bins; ++b) {
        const double h = most > 0 ? static_cast<double>(counts[b]) / static_cast<double>(most) * plot_h : 0;
        const auto from = static_cast<double>(first + static_cast<std::int64_t>(b) * width);
        svg << "<rect class=\"bar\" x=\"" << fixed(x_of(from), 1) << "\" y=\"" << fixed(kTop + plot_h - h, 1)
            << "\" width=\"" << fixed(std::max(0.5, plot_w / static_cast<double>(bins) - 1), 1) << "\" height=\""
            << fixed(h, 1) << "\" fill=\"#4a6fa5\"><title>" << from;
        if (width > 1) svg << "-" << from + static_cast<double>(width) - 1;
        svg << " households: " << counts[b] << " micro-grids</title></rect>\n";
    }
    svg << "<line x1=\"" << fixed(x_of(target), 1) << "\" x2=\"" << fixed(x_of(target), 1) << "\" y1=\"" << kTop
        << "\" y2=\"" << kTop + plot_h << "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/>\n";
    svg << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + plot_w << "\" y1=\"" << kTop + plot_h << "\" y2=\""
        << kTop + plot_h << "\" stroke=\"#333\"/>\n";
    svg << "<text x=\"" << kLeft << "\" y=\"" << kHeight - 10 << "\" font-size=\"12\">" << first << "</text>\n";
    svg << "<text x=\"" << kLeft + plot_w << "\" y=\"" << kHeight - 10 << "\" font-size=\"12\" text-anchor=\"end\">"
        << first + static_cast<std::int64_t>(bins) * width - 1 << "</text>\n";
    svg << "<text x=\"" << fixed(x_of(target), 1) << "\" y=\"" << kHeight - 10
        << "\" font-size=\"12\" text-anchor=\"middle\" fill=\"#c00\">target " << fixed(target, 1) << "</text>\n";
    svg << "<text x=\"5\" y=\"" << kTop + 12 << "\" font-size=\"12\">" << most << "</text>\n";
    svg << "<text x=\"5\" y=\"" << kTop + plot_h << "\" font-size=\"12\">0</text>\n";
    svg << "</svg>\n";
    return svg.str();
}

constexpr const char* kStyle = R"css(
body{font-family:system-ui,sans-serif;margin:0 1.5em 2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}h3{font-size:1em}
#map{height:620px;border:1px solid #999}#find{margin:.4em 0}#found{color:#a00}
.legend{display:flex;align-items:center;gap:.5em;white-space:nowrap;margin:.4em 0;font-size:.9em}
.legend .bar{width:320px;height:14px;border:1px solid #999}
table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
table.sortable th{cursor:pointer;background:#eef}
table.sortable th.asc::after{content:" \25B2"}table.sortable th.desc::after{content:" \25BC"}
.popup td{border:none;padding:0 4px}
.note{color:#555;font-size:.85em}.swatch{display:inline-block;flex:none;width:14px;height:14px;border:1px solid #999}
#changes-legend{flex-wrap:wrap}
#zoom-to{margin:.4em 0}td.fail{color:#b00;font-weight:bold}td.pass{color:#070}
)css";

// Colours: blue below the target, white at it, red above; the scale ends at +-2 tolerance.
constexpr const char* kScript = R"js(
(function(){
var data=JSON.parse(document.getElementById('civgrid-data').textContent);
var limit=2*data.tolerance;
var stops=[[-1,[33,102,172]],[-0.5,[103,169,207]],[-0.25,[209,229,240]],[0,[247,247,247]],
           [0.25,[253,219,199]],[0.5,[239,138,98]],[1,[178,24,43]]];
function colour(d){
  var t=Math.max(-1,Math.min(1,d/limit));
  for(var i=1;i<stops.length;i++){
    if(t<=stops[i][0]){
      var a=stops[i-1],b=stops[i],f=(t-a[0])/(b[0]-a[0]);
      var c=a[1].map(function(v,k){return Math.round(v+(b[1][k]-v)*f);});
      return 'rgb('+c.join(',')+')';
    }
  }
  return 'rgb(178,24,43)';
}
function esc(s){return String(s).replace(/[&<>"']/g,function(c){return '&#'+c.charCodeAt(0)+';';});}
var map=L.map('map',{attributionControl:false,preferCanvas:false,zoomSnap:0.25});
// A basemap only when asked for (--basemap): then the page fetches its tiles, and nothing else.
var basemap=data.basemap?L.tileLayer(data.basemap,{maxZoom:19,subdomains:'abc'}).addTo(map):null;
var fillOpacity=basemap?0.6:0.85;
var grids=L.geoJSON(data.micro_grids,{
  style:function(f){var p=f.properties;return {fillColor:colour(p.deviation),fillOpacity:fillOpacity,
    color:p.flags?'#000':'#666',weight:p.flags?1.5:0.5,dashArray:p.flags?'4 3':null};},
  onEachFeature:function(f,layer){var p=f.properties;
    layer.bindPopup('<table class="popup"><tr><td>micro-grid</td><td><b>'+esc(p.code)+'</b></td></tr>'+
      '<tr><td>households</td><td>'+p.households+'</td></tr>'+
      '<tr><td>target</td><td>'+p.target.toFixed(1)+'</td></tr>'+
      '<tr><td>deviation</td><td>'+(p.deviation>=0?'+':'')+(100*p.deviation).toFixed(1)+' %</td></tr>'+
      '<tr><td>grid</td><td>'+esc(p.grid||'-')+'</td></tr>'+
      '<tr><td>community</td><td>'+esc(p.community)+'</td></tr>'+
      '<tr><td>flags</td><td>'+esc(p.flags||'-')+'</td></tr>'+
      (p.workers?'<tr><td>workers</td><td>'+esc(p.workers)+'</td></tr>':'')+
      (p.stations?'<tr><td>stations</td><td>'+esc(p.stations)+'</td></tr>':'')+'</table>');}
}).addTo(map);
// A rerun: what changed, a second view of the map (the layers control switches between the two).
var changes=null,changeByCode={};
if(data.rerun){
  var changeColour={unchanged:'#d9d9d9',redrawn:'#fdd835',split:'#fb8c00',merged:'#8e24aa',regrouped:'#6d4c41',
                    'new':'#43a047'};
  changes=L.geoJSON(data.changes,{
    style:function(f){var s=f.properties.status;
      if(s==='retired')return {fill:false,color:'#000',weight:1.5,dashArray:'5 4',interactive:false,
                                className:'change change-retired'};
      return {fillColor:changeColour[s]||'#fff',fillOpacity:fillOpacity,color:'#555',weight:0.5,className:'change change-'+s};},
    onEachFeature:function(f,layer){var p=f.properties;changeByCode[p.code.toLowerCase()]=layer;
      if(p.status==='retired')return;
      layer.bindPopup('<table class="popup"><tr><td>micro-grid</td><td><b>'+esc(p.code)+'</b></td></tr>'+
        '<tr><td>status</td><td>'+esc(p.status)+'</td></tr>'+
        '<tr><td>previous</td><td>'+esc(p.previous_ids||'-')+'</td></tr>'+
        '<tr><td>next</td><td>'+esc(p.next_ids||'-')+'</td></tr>'+
        '<tr><td>households</td><td>'+p.households+'</td></tr>'+
        '<tr><td>buildings</td><td>'+p.buildings+'</td></tr></table>');}
  });
}
var gridLines=L.geoJSON(data.grids,{interactive:false,style:{fill:false,color:'#333',weight:1.2,opacity:0.8}}).addTo(map);
var communities=L.geoJSON(data.communities,{interactive:false,style:{fill:false,color:'#111',weight:2.5}}).addTo(map);
var communityByCode={};
communities.eachLayer(function(layer){communityByCode[layer.feature.properties.code]=layer;});
var barriers=L.geoJSON(data.barriers,{interactive:false,style:{color:'#6a3d9a',weight:2,opacity:0.7,dashArray:'6 4'}}).addTo(map);
var streets=L.geoJSON(data.streets,{interactive:false,style:{fill:false,color:'#000',weight:4,dashArray:'10 6'}}).addTo(map);
var districts=L.geoJSON(data.districts,{interactive:false,style:{fill:false,color:'#7f0000',weight:6,opacity:0.6}}).addTo(map);
var areaByCode={community:communityByCode,street:{},district:{}};
streets.eachLayer(function(layer){areaByCode.street[layer.feature.properties.code]=layer;});
districts.eachLayer(function(layer){areaByCode.district[layer.feature.properties.code]=layer;});
var outlines=[gridLines,communities,streets,districts,barriers];
var overlays={'grids':gridLines,'community boundaries':communities,'street boundaries':streets,
              'district boundaries':districts,'hard barriers':barriers};
if(basemap)overlays['basemap']=basemap;
var views=changes?{'deviation from the target':grids,'what changed':changes}:null;
L.control.layers(views,overlays,{collapsed:false}).addTo(map);
// A view drawn anew goes under the outlines.
map.on('baselayerchange',function(){outlines.forEach(function(o){if(map.hasLayer(o))o.bringToFront();});});
function showView(view){
  if(!changes||map.hasLayer(view))return;
  map.removeLayer(view===grids?changes:grids);map.addLayer(view);
  outlines.forEach(function(o){if(map.hasLayer(o))o.bringToFront();});
}
var byCode={};
grids.eachLayer(function(layer){byCode[layer.feature.properties.code.toLowerCase()]=layer;});
document.getElementById('find').addEventListener('submit',function(event){
  event.preventDefault();
  var code=document.getElementById('code').value.trim().toLowerCase(),layer=byCode[code],status=document.getElementById('found');
  if(!layer){status.textContent='no micro-grid '+document.getElementById('code').value;return;}
  status.textContent='';
  showView(grids);
  map.fitBounds(layer.getBounds(),{maxZoom:17,animate:false});
  layer.openPopup(layer.getBounds().getCenter());
});
// The view on the map's element (zoom, centre), for scripts and tests.
map.on('moveend',function(){var c=map.getCenter();
  document.getElementById('map').setAttribute('data-view',map.getZoom()+','+c.lat.toFixed(6)+','+c.lng.toFixed(6));});
var bounds=grids.getBounds();
if(bounds.isValid())map.fitBounds(bounds);else map.setView([0,0],2);
document.getElementById('zoom-select').addEventListener('change',function(){
  var v=this.value,at=v.indexOf(':');if(at<0)return;
  var layer=areaByCode[v.slice(0,at)][v.slice(at+1)];
  if(layer)map.fitBounds(layer.getBounds(),{maxZoom:17,animate:false});
});
document.getElementById('zoom-all').addEventListener('click',function(){if(bounds.isValid())map.fitBounds(bounds);});
L.control.scale({imperial:false}).addTo(map);
var stopsCss=stops.map(function(s){return colour(s[0]*limit)+' '+((s[0]+1)*50)+'%';}).join(',');
document.querySelector('.legend .bar').style.background='linear-gradient(to right,'+stopsCss+')';
// A community's or a flagged micro-grid's code in the tables zooms the map to it.
document.querySelectorAll('a.zoom').forEach(function(a){
  a.addEventListener('click',function(event){
    event.preventDefault();
    var code=a.getAttribute('data-code'),layer;
    if(a.classList.contains('change')){layer=changeByCode[code.toLowerCase()];if(layer)showView(changes);}
    else if(a.classList.contains('community'))layer=communityByCode[code];
    else if(a.classList.contains('street'))layer=areaByCode.street[code];
    else if(a.classList.contains('district'))layer=areaByCode.district[code];
    else{layer=byCode[code.toLowerCase()];if(layer)showView(grids);}
    if(!layer)return;
    map.fitBounds(layer.getBounds(),{maxZoom:17,animate:false});
    if(layer.getPopup&&layer.getPopup())layer.openPopup(layer.getBounds().getCenter());
    document.getElementById('map').scrollIntoView();
  });
});
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th,column){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc?'asc':'desc');
      var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[column].getAttribute('data-value'),y=b.cells[column].getAttribute('data-value');
        var nx=parseFloat(x),ny=parseFloat(y),r;
        if(!isNaN(nx)&&!isNaN(ny))r=nx-ny;else r=x<y?-1:x>y?1:0;
        return asc?r:-r;});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
document.body.setAttribute('data-rendered',String(grids.getLayers().length));
document.body.setAttribute('data-drawn-ms',String(Math.round(performance.now())));
})();
)js";

/// Each utility station's load against its capacity.
std::string station_table(const HtmlReportData& data) {
    if (data.stations.empty()) return "<p id=\"stations\">The run had no utility stations.</p>\n";
    std::ostringstream out;
    out << "<table id=\"stations\" class=\"sortable\">\n<thead><tr><th>station</th><th>utility</th><th>capacity "
           "(households)</th><th>load (households)</th><th>micro-grids</th><th>load / capacity %</th></tr></thead>\n"
           "<tbody>\n";
    for (const auto& s : data.stations) {
        const double use = s.capacity > 0 ? 100.0 * static_cast<double>(s.load) / static_cast<double>(s.capacity) : 0;
        out << "<tr><td data-value=\"" << html(s.id) << "\">" << html(s.id) << "</td><td data-value=\""
            << html(s.utility) << "\">" << html(s.utility) << "</td><td data-value=\"" << s.capacity << "\">"
            << s.capacity << "</td><td data-value=\"" << s.load << "\">" << s.load << "</td><td data-value=\""
            << s.micro_grids << "\">" << s.micro_grids << "</td><td data-value=\"" << fixed(use, 2) << "\""
            << (s.load > s.capacity ? " class=\"fail\"" : "") << ">" << fixed(use, 1) << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
    return out.str();
}

/// The flagged micro-grids (a reason the data forces, or the bounds missed), sortable too.
std::string flagged_table(const HtmlReportData& data) {
    std::ostringstream out;
    std::size_t count = 0;
    for (const auto& g : data.micro_grids) count += g.flags.empty() ? 0 : 1;
    if (count == 0) return "<p id=\"flagged\">No micro-grid is flagged.</p>\n";
    out << "<table id=\"flagged\" class=\"sortable\">\n<thead><tr><th>micro-grid</th><th>community</th>"
           "<th>households</th><th>target</th><th>deviation %</th><th>flags</th></tr></thead>\n<tbody>\n";
    for (const auto& g : data.micro_grids) {
        if (g.flags.empty()) continue;
        out << "<tr><td data-value=\"" << html(g.code) << "\"><a href=\"#map\" class=\"zoom\" data-code=\""
            << html(g.code) << "\">" << html(g.code) << "</a></td><td data-value=\"" << html(g.community) << "\">"
            << html(g.community) << "</td><td data-value=\"" << g.households << "\">" << g.households
            << "</td><td data-value=\"" << fixed(g.target, 1) << "\">" << fixed(g.target, 1) << "</td><td data-value=\""
            << fixed(100 * g.deviation, 1) << "\">" << (g.deviation >= 0 ? "+" : "") << fixed(100 * g.deviation, 1)
            << "</td><td data-value=\"" << html(g.flags) << "\">" << html(g.flags) << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
    return out.str();
}

std::string community_table(const HtmlReportData& data) {
    std::ostringstream out;
    out << "<table id=\"communities\" class=\"sortable\">\n<thead><tr><th>code</th><th>households</th>"
           "<th>micro-grids</th><th>within_10</th><th>best_within_10</th><th>flags</th><th>workers per 10,000 "
           "residents (18)</th><th>m² service space per 100 households (30)</th></tr></thead>\n<tbody>\n";
    for (const auto& c : data.communities) {
        out << "<tr><td data-value=\"" << html(c.code) << "\"><a href=\"#map\" class=\"zoom community\" data-code=\""
            << html(c.code) << "\">" << html(c.code) << "</a></td>";
        for (const std::int64_t value : {c.households, c.micro_grids, c.within_10, c.best_within_10, c.flags}) {
            if (value < 0)
                out << "<td data-value=\"-1\">-</td>";
            else
                out << "<td data-value=\"" << value << "\">" << value << "</td>";
        }
        const auto standard = [&](double value, double needed) {
            if (value < 0) {
                out << "<td data-value=\"-1\">-</td>";
                return;
            }
            const bool pass = value >= needed;
            out << "<td data-value=\"" << fixed(value, 2) << "\" class=\"" << (pass ? "pass" : "fail") << "\">"
                << fixed(value, 1) << (pass ? " pass" : " fail") << "</td>";
        };
        standard(c.workers_per_10k, 18);
        standard(c.facility_m2_per_100, 30);
        out << "</tr>\n";
    }
    out << "</tbody></table>\n";
    return out.str();
}

/// Staffing: workers per micro-grid, distances, the unstaffed micro-grids.
std::string staffing_sections(const HtmlReportData& data) {
    const auto& staffing = data.staffing;
    std::ostringstream out;
    if (!staffing.present) {
        out << "<p id=\"staffing\">The run was not staffed (no worker_assignments layer).</p>\n";
        if (staffing.distances.empty()) return out.str();
    } else {
        out << "<p class=\"note\">Recomputed from the worker_assignments layer: how many micro-grid workers each "
               "micro-grid has.</p>\n<table id=\"workers-per-micro-grid\" "
               "class=\"sortable\">\n<thead><tr><th>micro-grid "
               "workers</th><th>micro-grids</th><th>share %</th></tr></thead>\n<tbody>\n";
        for (const auto& [workers, count] : staffing.workers_per_micro_grid) {
            const double share = data.micro_grids.empty() ? 0
                                                          : 100.0 * static_cast<double>(count) /
                                                                static_cast<double>(data.micro_grids.size());
            out << "<tr><td data-value=\"" << workers << "\">" << workers << "</td><td data-value=\"" << count << "\">"
                << count << "</td><td data-value=\"" << fixed(share, 2) << "\">" << fixed(share, 1) << "</td></tr>\n";
        }
        out << "</tbody></table>\n";
    }
    out << "<h3>Distances</h3>\n<p class=\"note\">Home to the micro-grid (workers; mobile workers to their grid), "
           "station to the micro-grid (utilities), in metres, 0 inside; from the distance_m fields. Unassigned: "
           "micro-grids no station took.</p>\n<table id=\"distances\" class=\"sortable\">\n<thead><tr><th>who</th>"
           "<th>assignments</th><th>with a distance</th><th>unassigned</th><th>mean m</th><th>median m</th><th>95 % "
           "m</th><th>max m</th></tr></thead>\n<tbody>\n";
    for (const auto& d : staffing.distances) {
        out << "<tr><td data-value=\"" << html(d.what) << "\">" << html(d.what) << "</td><td data-value=\""
            << d.assignments << "\">" << d.assignments << "</td><td data-value=\"" << d.known << "\">" << d.known
            << "</td>";
        if (d.unassigned < 0)
            out << "<td data-value=\"-1\">-</td>";
        else
            out << "<td data-value=\"" << d.unassigned << "\"" << (d.unassigned > 0 ? " class=\"fail\"" : "") << ">"
                << d.unassigned << "</td>";
        for (const double metres : {d.mean, d.median, d.p95, d.max}) {
            if (d.known == 0)
                out << "<td data-value=\"-1\">-</td>";
            else
                out << "<td data-value=\"" << fixed(metres, 2) << "\">" << fixed(metres, 1) << "</td>";
        }
        out << "</tr>\n";
    }
    out << "</tbody></table>\n";
    if (!staffing.present) return out.str();
    out << "<h3>Unstaffed micro-grids</h3>\n";
    if (staffing.unstaffed.empty()) {
        out << "<p id=\"unstaffed\">Every micro-grid has a micro-grid worker.</p>\n";
        return out.str();
    }
    out << "<table id=\"unstaffed\" class=\"sortable\">\n<thead><tr><th>micro-grid</th><th>community</th>"
           "<th>households</th></tr></thead>\n<tbody>\n";
    for (const std::size_t g : staffing.unstaffed) {
        const auto& m = data.micro_grids[g];
        out << "<tr><td data-value=\"" << html(m.code) << "\"><a href=\"#map\" class=\"zoom\" data-code=\""
            << html(m.code) << "\">" << html(m.code) << "</a></td><td data-value=\"" << html(m.community) << "\">"
            << html(m.community) << "</td><td data-value=\"" << m.households << "\">" << m.households << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
    return out.str();
}

/// A table per street or district: micro-grids requested and made, households, balance, flags.
std::string area_table(const char* id, const char* kind, const std::vector<HtmlReportData::Area>& areas) {
    std::ostringstream out;
    const bool streets = std::string_view(kind) == "street";
    out << "<table id=\"" << id << "\" class=\"sortable\">\n<thead><tr><th>" << kind << "</th>"
        << (streets ? "<th>district</th>" : "")
        << "<th>communities</th><th>micro-grids requested</th><th>micro-grids made</th><th>households</th>"
           "<th>within_10</th><th>share within +-10 %</th><th>flagged</th></tr></thead>\n<tbody>\n";
    for (const auto& a : areas) {
        out << "<tr><td data-value=\"" << html(a.code) << "\"><a href=\"#map\" class=\"zoom " << kind
            << "\" data-code=\"" << html(a.code) << "\">" << html(a.code) << "</a></td>";
        if (streets) out << "<td data-value=\"" << html(a.district) << "\">" << html(a.district) << "</td>";
        for (const std::int64_t value : {a.communities, a.requested, a.micro_grids, a.households, a.within_10}) {
            if (value < 0)
                out << "<td data-value=\"-1\">-</td>";
            else
                out << "<td data-value=\"" << value << "\">" << value << "</td>";
        }
        const double share =
            a.micro_grids > 0 ? 100.0 * static_cast<double>(a.within_10) / static_cast<double>(a.micro_grids) : 0;
        out << "<td data-value=\"" << fixed(share, 2) << "\">" << fixed(share, 1) << "</td><td data-value=\"" << a.flags
            << "\">" << a.flags << "</td></tr>\n";
    }
    out << "</tbody></table>\n";
    return out.str();
}

/// A list to zoom the map to a district, a street or a community.
std::string zoom_list(const HtmlReportData& data) {
    std::ostringstream out;
    out << "<form id=\"zoom-to\">Zoom to: <select id=\"zoom-select\"><option value=\"\">a district, street or "
           "community</option>\n";
    const auto group = [&](const char* label, const char* kind, const auto& items) {
        bool any = false;
        for (const auto& item : items) {
            if (item.geometry.empty()) continue;
            if (!any) out << "<optgroup label=\"" << label << "\">";
            any = true;
            out << "<option value=\"" << kind << ":" << html(item.code) << "\">" << html(item.code) << "</option>";
        }
        if (any) out << "</optgroup>\n";
    };
    group("districts", "district", data.districts);
    group("streets", "street", data.streets);
    group("communities", "community", data.communities);
    out << "</select> <button type=\"button\" id=\"zoom-all\">whole city</button></form>\n";
    return out.str();
}

/// A rerun's statuses: colour, and what each means.
struct StatusStyle {
    const char* status;
    const char* colour;
    const char* meaning;
};
constexpr StatusStyle kStatusStyles[] = {
    {"unchanged", "#d9d9d9", "kept, code and polygon"},
    {"redrawn", "#fdd835", "one for one, same code, new polygon"},
    {"split", "#fb8c00", "a micro-grid grown too large, split"},
    {"merged", "#8e24aa", "several into one"},
    {"regrouped", "#6d4c41", "several into several"},
    {"new", "#43a047", "new code"},
    {"retired", "#000000", "gone (dashed outline, its polygon before)"},
};

std::string changes_legend(const HtmlReportData& data) {
    std::ostringstream out;
    out << "<div class=\"legend\" id=\"changes-legend\"><span>What changed (the \"changes\" view of the map, "
           "from the file's changes layer):</span>";
    for (const auto& s : kStatusStyles) {
        std::size_t count = 0;
        for (const auto& c : data.changes) count += c.status == s.status ? 1 : 0;
        const bool retired = std::string_view(s.status) == "retired";
        out << "<span class=\"swatch\" style=\"" << (retired ? "border:2px dashed #000" : "background:")
            << (retired ? "" : s.colour) << "\"></span><span title=\"" << html(s.meaning) << "\" data-status=\""
            << s.status << "\" data-count=\"" << count << "\">" << s.status << " " << count << "</span>";
    }
    out << "</div>\n";
    return out.str();
}

/// The churn (recomputed), the run's own record, and the lineage rows that moved something.
std::string rerun_sections(const HtmlReportData& data) {
    std::ostringstream out;
    out << "<h2>What changed since the previous run</h2>\n<p class=\"note\">Recomputed from the file's changes and "
           "lineage layers. Churn: the share of micro-grids not unchanged, of households (and of building parts) "
           "now in another micro-grid, new or removed.</p>\n<table id=\"churn\">\n<tbody>\n";
    for (const auto& [key, value] : data.churn)
        out << "<tr><td>" << html(key) << "</td><td>" << html(value) << "</td></tr>\n";
    out << "</tbody></table>\n";
    if (!data.rerun_record.empty()) {
        out << "<p class=\"note\">As the run recorded it (run_info, section repartition; buildings counted by the "
               "micro-grid holding most of each):</p>\n<table id=\"rerun-record\">\n<tbody>\n";
        for (const auto& [key, value] : data.rerun_record)
            out << "<tr><td>" << html(key) << "</td><td>" << html(value) << "</td></tr>\n";
        out << "</tbody></table>\n";
    }
    out << "<h2>Lineage</h2>\n<p class=\"note\">Households and building parts that moved from a previous "
           "micro-grid to another one now (previous \"-\": new buildings; now \"-\": removed buildings). "
        << data.lineage_kept_rows
        << " rows where a micro-grid keeps households under its own code are not listed. Click a column to sort, "
           "a code to see it on the map.</p>\n";
    if (data.lineage.empty()) {
        out << "<p id=\"lineage\">Nothing moved.</p>\n";
        return out.str();
    }
    out << "<table id=\"lineage\" class=\"sortable\">\n<thead><tr><th>previous</th><th>now</th><th>households</th>"
           "<th>building parts</th></tr></thead>\n<tbody>\n";
    const auto code = [&](const std::string& id) {
        if (id.empty()) return std::string("<td data-value=\"\">-</td>");
        return "<td data-value=\"" + html(id) + "\"><a href=\"#map\" class=\"zoom change\" data-code=\"" + html(id) +
               "\">" + html(id) + "</a></td>";
    };
    for (const auto& l : data.lineage)
        out << "<tr>" << code(l.previous) << code(l.now) << "<td data-value=\"" << l.households << "\">" << l.households
            << "</td><td data-value=\"" << l.building_parts << "\">" << l.building_parts << "</td></tr>\n";
    out << "</tbody></table>\n";
    return out.str();
}

}  // namespace

void check_basemap_template(const std::string& url_template) {
    const auto refuse = [&](const std::string& why) {
        throw ConfigError(kStage, "basemap URL template '" + url_template.substr(0, 200) + "': " + why +
                                      " (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png)");
    };
    if (url_template.size() > 2000) refuse("longer than 2,000 characters");
    std::string lower;
    for (const char c : url_template) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f) refuse("a space or control character in it");
        if (c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == '`')
            refuse("a quote, '<', '>' or '\\' in it");
        lower += static_cast<char>(std::tolower(u));
    }
    std::size_t host = 0;
    if (lower.rfind("http://", 0) == 0)
        host = 7;
    else if (lower.rfind("https://", 0) == 0)
        host = 8;
    else
        refuse("not http:// or https://");
    const std::size_t slash = url_template.find('/', host);
    if (slash == host || host >= url_template.size()) refuse("no host");
    // Placeholders: only Leaflet's own (a {name} of anything else is an error when the map draws).
    for (std::size_t at = url_template.find_first_of("{}"); at != std::string::npos;
         at = url_template.find_first_of("{}", at + 1)) {
        const std::size_t end = url_template.find('}', at);
        if (url_template[at] == '}' || end == std::string::npos) refuse("unbalanced braces");
        const std::string name = url_template.substr(at, end - at + 1);
        if (name != "{s}" && name != "{z}" && name != "{x}" && name != "{y}" && name != "{-y}" && name != "{r}")
            refuse("the placeholder " + name + " (only {s} {z} {x} {y} {-y} {r})");
        at = end;
    }
    if (url_template.find("{z}") == std::string::npos || url_template.find("{x}") == std::string::npos ||
        (url_template.find("{y}") == std::string::npos && url_template.find("{-y}") == std::string::npos))
        refuse("it must hold {z}, {x} and {y}");
}

std::string leaflet_directory() {
    const char* set = std::getenv("CIVGRID_LEAFLET_DIR");
    return set != nullptr && *set != '\0' ? std::string(set) : std::string("/usr/share/javascript/leaflet");
}

std::string html_report(const HtmlReportData& data) {
    const std::string directory = leaflet_directory();
    std::string leaflet_js = read_text(directory + "/leaflet.min.js");
    std::string leaflet_css = read_text(directory + "/leaflet.css");
    // A self-contained page refers to no other file: the source map comment goes, and the images of
    // the markers and the layers control (which the report does not use) are not asked for.
    replace_all(leaflet_js, "//# sourceMappingURL=", "// source map: ");
    replace_all(leaflet_js, "</script", "<\\/script");
    for (const char* image : {"url(images/layers-2x.png)", "url(images/layers.png)", "url(images/marker-icon.png)"})
        replace_all(leaflet_css, image, "none");
    replace_all(leaflet_css, "</style", "<\\/style");
    replace_all(leaflet_css, "/*# sourceMappingURL=", "/* source map: ");

    detail::ensure_gdal_registered();
    std::string json;
    json.reserve(data.micro_grids.size() * 600);
    if (!data.basemap.empty()) check_basemap_template(data.basemap);
    json += "{\"tolerance\":" + json_number(data.tolerance, 4) + ",\"basemap\":" + json_string(data.basemap) +
            ",\"micro_grids\":{\"type\":\"FeatureCollection\","
            "\"features\":[";
    for (std::size_t i = 0; i < data.micro_grids.size(); ++i) {
        const auto& g = data.micro_grids[i];
        if (i > 0) json += ",\n";
        json += "{\"type\":\"Feature\",\"properties\":{\"code\":" + json_string(g.code) +
                ",\"households\":" + std::to_string(g.households) + ",\"target\":" + json_number(g.target, 3) +
                ",\"deviation\":" + json_number(g.deviation, 4) + ",\"grid\":" + json_string(g.grid) +
                ",\"community\":" + json_string(g.community) + ",\"flags\":" + json_string(g.flags) +
                ",\"workers\":" + json_string(g.workers) + ",\"stations\":" + json_string(g.stations) +
                "},\"geometry\":" + geojson_geometry(g.geometry, "micro-grid '" + g.code + "'") + "}";
    }
    json += "]},\"communities\":{\"type\":\"FeatureCollection\",\"features\":[";
    bool first = true;
    for (const auto& c : data.communities) {
        if (c.geometry.empty()) continue;
        if (!first) json += ",\n";
        first = false;
        json += "{\"type\":\"Feature\",\"properties\":{\"code\":" + json_string(c.code) +
                "},\"geometry\":" + geojson_geometry(c.geometry, "community '" + c.code + "'") + "}";
    }
    json += "]}";
    auto collection = [&](const char* name, const std::vector<Wkb>& geometries) {
        json += std::string(",\"") + name + "\":{\"type\":\"FeatureCollection\",\"features\":[";
        bool first_feature = true;
        for (std::size_t i = 0; i < geometries.size(); ++i) {
            if (geometries[i].empty()) continue;
            if (!first_feature) json += ",\n";
            first_feature = false;
            json += "{\"type\":\"Feature\",\"properties\":{},\"geometry\":" +
                    geojson_geometry(geometries[i], std::string(name) + " feature " + std::to_string(i)) + "}";
        }
        json += "]}";
    };
    for (const auto& [name, areas] : {std::pair{"streets", &data.streets}, std::pair{"districts", &data.districts}}) {
        json += std::string(",\"") + name + "\":{\"type\":\"FeatureCollection\",\"features\":[";
        bool first_area = true;
        for (const auto& a : *areas) {
            if (a.geometry.empty()) continue;
            if (!first_area) json += ",\n";
            first_area = false;
            json += "{\"type\":\"Feature\",\"properties\":{\"code\":" + json_string(a.code) +
                    "},\"geometry\":" + geojson_geometry(a.geometry, std::string(name) + " '" + a.code + "'") + "}";
        }
        json += "]}";
    }
    collection("grids", data.grids);
    collection("barriers", data.barriers);
    if (data.rerun) {
        // Retired micro-grids last: drawn as outlines over the micro-grids that took their place.
        json += ",\"rerun\":true,\"changes\":{\"type\":\"FeatureCollection\",\"features\":[";
        bool first_change = true;
        for (const bool retired : {false, true}) {
            for (const auto& c : data.changes) {
                if ((c.status == "retired") != retired || c.geometry.empty()) continue;
                if (!first_change) json += ",\n";
                first_change = false;
                json += "{\"type\":\"Feature\",\"properties\":{\"code\":" + json_string(c.code) +
                        ",\"status\":" + json_string(c.status) + ",\"previous_ids\":" + json_string(c.previous_ids) +
                        ",\"next_ids\":" + json_string(c.next_ids) + ",\"households\":" + std::to_string(c.households) +
                        ",\"buildings\":" + std::to_string(c.buildings) +
                        "},\"geometry\":" + geojson_geometry(c.geometry, "changes: micro-grid '" + c.code + "'") + "}";
            }
        }
        json += "]}";
    }
    json += "}";

    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html(data.title)
         << "</title>\n<style>\n/* Leaflet (BSD-2-Clause), from Debian's libjs-leaflet */\n"
         << leaflet_css << "\n</style>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
    page << "<h1>" << html(data.title) << "</h1>\n<p class=\"note\">" << html(data.source) << ": "
         << data.micro_grids.size() << " micro-grids in " << data.communities.size()
         << " communities. Click a micro-grid for its figures.</p>\n";
    if (data.simplified_m > 0)
        page << "<p class=\"note\" id=\"simplified\" data-tolerance-m=\"" << fixed(data.simplified_m, 2)
             << "\">A large city: the map's lines are simplified for the overview, each edge two micro-grids "
                "share once, the same for both (no gap or overlap opens between them), at "
             << fixed(data.simplified_m, 1) << " m (" << data.vertices_before << " vertices of the micro-grids down to "
             << data.vertices_after << "); the GeoPackage has them in full.</p>\n";
    page << "<h2>Map: deviation from the target"
         << (data.rerun ? " or what changed (switch in the map's top-right box)" : "")
         << "</h2>\n<form id=\"find\">Find a micro-grid by code: <input "
            "id=\"code\" size=\"20\"> <button type=\"submit\">show</button> <span id=\"found\"></span></form>\n";
    page << zoom_list(data) << "<div id=\"map\"></div>\n";
    const double scale = 200 * data.tolerance;
    page << "<div class=\"legend\"><span>households below target</span><span>-" << fixed(scale, 0)
         << " %</span><span class=\"bar\"></span><span>+" << fixed(scale, 0)
         << " %</span><span>above target</span><span class=\"note\">(white: on target; dashed outline: flagged; "
            "thick black lines: community boundaries; thick black dashes: streets; wide dark red: districts; thin: "
            "grids; "
            "purple dashes: hard barriers)</span></div>\n";
    if (data.rerun) page << changes_legend(data);
    page << "<h2>Quality report</h2>\n<table id=\"quality\">\n<tbody>\n";
    for (const auto& [key, value] : data.quality)
        page << "<tr><td>" << html(key) << "</td><td>" << html(value) << "</td></tr>\n";
    page << "</tbody></table>\n";
    page << "<h2>Households per micro-grid</h2>\n" << histogram_svg(data);
    page << "<h2>Communities</h2>\n<p class=\"note\">within_10: micro-grids within +-10 % of their target; "
            "best_within_10: the most the same count allows (\"-\" when the file does not have it). Click a "
            "column to sort, a code to zoom to the community.</p>\n"
         << community_table(data);
    if (!data.streets.empty())
        page << "<h2>Streets</h2>\n<p class=\"note\">Summed from the micro-grids of each street (requested: its "
                "communities' sum). Click a column to sort, a code to zoom to the street.</p>\n"
             << area_table("streets", "street", data.streets);
    if (!data.districts.empty())
        page << "<h2>Districts</h2>\n<p class=\"note\">Summed from the micro-grids of each district. Click a column "
                "to sort, a code to zoom to the district.</p>\n"
             << area_table("districts", "district", data.districts);
    page << "<h2>Flagged micro-grids</h2>\n<p class=\"note\">Outside the bounds for a reason the data forces "
            "(large_building, forced_by_boundaries, no_households, multipart) or because the partitioner missed them "
            "(out_of_bounds). Click a code to see it on the map.</p>\n"
         << flagged_table(data);
    if (data.rerun) page << rerun_sections(data);
    page << "<h2>Staffing</h2>\n" << staffing_sections(data);
    page << "<h2>Utility stations</h2>\n<p class=\"note\">Households each station serves against its capacity.</p>\n"
         << station_table(data);
    page << "<p class=\"note\">Written by civgrid. Map drawn with Leaflet (BSD-2-Clause), inlined; "
         << (data.basemap.empty()
                 ? std::string("the page uses no network.")
                 : "the page fetches the basemap's tiles (" + html(data.basemap) + ") and nothing else.")
         << "</p>\n";
    page << "<script>\n" << leaflet_js << "\n</script>\n";
    page << "<script type=\"application/json\" id=\"civgrid-data\">" << json << "</script>\n";
    page << "<script>" << kScript << "</script>\n</body>\n</html>\n";
    return page.str();
}

void write_html_report(OutputReservation& output, const HtmlReportData& data) {
    const std::string text = html_report(data);
    std::ofstream out(output.temp_path(), std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(kStage, "cannot create '" + output.temp_path() + "' (for '" + output.path() + "')");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) throw IoError(kStage, "cannot write '" + output.temp_path() + "' (for '" + output.path() + "')");
}

}  // namespace civgrid::io
