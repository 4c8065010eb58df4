// Mutation test: corrupts bytes and attributes of the sample city many times; every run must end
// in a clean civgrid::Error (not an internal one) or a valid result, never a crash. Meant for the
// AddressSanitizer / UndefinedBehaviorSanitizer build (make sanitize); CIVGRID_MUTATION_ITERATIONS
// sets the number of iterations (default 60, about 3 s in the normal build).
#include <civgrid/data/synth.hpp>
#include <civgrid/engine/pipeline.hpp>
#include <civgrid/error.hpp>

#include "test_support.hpp"

#include <gtest/gtest.h>

#include <gdal.h>
#include <ogr_api.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace civgrid::engine {
namespace {

std::string read_all(const std::string& path) {
    return test::file_bytes(path);
}

// Attribute and geometry mutations through OGR: nulls, negatives, huge and text values, broken,
// empty, foreign and NaN geometries.
void mutate_features(const std::string& path, std::mt19937_64& random) {
    GDALAllRegister();
    GDALDatasetH dataset = GDALOpenEx(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_UPDATE, nullptr, nullptr, nullptr);
    if (dataset == nullptr) return;
    const char* layers[] = {"buildings", "communities", "roads", "rivers", "workers", "stations"};
    const char* wkts[] = {"POLYGON((0 0,10 10,10 0,0 10,0 0))",
                          "POLYGON EMPTY",
                          "POINT(480500 3540500)",
                          "LINESTRING(480100 3540100,480200 3540100)",
                          "POLYGON((480100 3540100,480110 3540100,480100 3540100))",
                          "MULTIPOLYGON(((480100 3540100,480150 3540100,480150 3540150,480100 3540100)),((480100 "
                          "3540100,480150 3540100,480150 3540150,480100 3540100)))",
                          "POLYGON((1e300 1e300,-1e300 1e300,0 -1e300,1e300 1e300))",
                          "GEOMETRYCOLLECTION(POINT(1 1))",
                          "POLYGON((480100 3540100,480150 3540100,480150 3540150,480100 3540150))"};
    const char* values[] = {"<null>", "-7", "999999999999", "abc", "0", "1e308", "", "玄武区"};
    for (int edit = 0; edit < 12; ++edit) {
        OGRLayerH layer = GDALDatasetGetLayerByName(dataset, layers[random() % std::size(layers)]);
        if (layer == nullptr) continue;
        const GIntBig count = OGR_L_GetFeatureCount(layer, TRUE);
        if (count <= 0) continue;
        OGRFeatureH feature =
            OGR_L_GetFeature(layer, static_cast<GIntBig>(1 + random() % static_cast<std::uint64_t>(count)));
        if (feature == nullptr) continue;
        if (random() % 2 == 0) {
            OGRGeometryH geometry = nullptr;
            char* text = const_cast<char*>(wkts[random() % std::size(wkts)]);
            if (random() % 5 != 0) OGR_G_CreateFromWkt(&text, nullptr, &geometry);
            OGR_F_SetGeometryDirectly(feature, geometry);
        } else if (OGR_F_GetFieldCount(feature) > 0) {
            const int field = static_cast<int>(random() % static_cast<std::uint64_t>(OGR_F_GetFieldCount(feature)));
            const char* value = values[random() % std::size(values)];
            if (std::string(value) == "<null>")
                OGR_F_SetFieldNull(feature, field);
            else
                OGR_F_SetFieldString(feature, field, value);
        }
        if (OGR_L_SetFeature(layer, feature) != OGRERR_NONE) ADD_FAILURE() << "cannot edit the mutant";
        OGR_F_Destroy(feature);
    }
    GDALClose(dataset);
}

TEST(Mutation, CorruptedCitiesGiveACleanErrorOrAValidResult) {
    test::TempDir dir;
    const std::string city = dir.file("city.gpkg");
    data::SynthConfig synth;
    synth.households = 3000;
    synth.seed = 1;
    data::write_city(data::generate_city(synth), city);
    const std::string pristine = read_all(city);
    const char* env = std::getenv("CIVGRID_MUTATION_ITERATIONS");
    const int iterations = env != nullptr ? std::max(1, std::atoi(env)) : 60;
    std::mt19937_64 random(20261128);
    int errors = 0, results = 0;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    for (int i = 0; i < iterations; ++i) {
        const std::string input = dir.file("mutant.gpkg");
        const std::string output = dir.file("out.gpkg");
        std::filesystem::remove(output);
        {
            std::string bytes = pristine;
            switch (i % 3) {
                case 0:  // flip bytes anywhere
                    for (int k = 0; k < 1 + static_cast<int>(random() % 64); ++k)
                        bytes[random() % bytes.size()] = static_cast<char>(random() & 0xFF);
                    break;
                case 1:  // truncate
                    bytes.resize(random() % bytes.size());
                    break;
                default:
                    break;
            }
            std::ofstream(input, std::ios::binary) << bytes;
        }
        if (i % 3 == 2) mutate_features(input, random);
        PartitionConfig config;
        config.city = input;
        config.threads = 2;
        try {
            const RunSummary summary = run_partition(config, output);
            EXPECT_EQ(summary.report.invalid_polygons, 0) << "iteration " << i;
            EXPECT_TRUE(std::filesystem::exists(output));
            ++results;
        } catch (const Error& error) {
            EXPECT_NE(error.kind(), Error::Kind::internal) << "iteration " << i << ": " << error.what();
            EXPECT_FALSE(std::filesystem::exists(output)) << "partial output after: " << error.what();
            ++errors;
        }
    }
    CPLPopErrorHandler();
    std::printf("mutation: %d iterations, %d clean errors, %d valid results\n", iterations, errors, results);
}

}  // namespace
}  // namespace civgrid::engine
