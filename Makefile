# The two commands of the README:
#   make demo   installs what is missing, builds, generates the sample city, partitions it
#               and writes out/sample-city.gpkg, printing the quality report;
#   make test   the same set-up, then every test (GoogleTest through CTest, pytest).
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SAMPLE_HOUSEHOLDS ?= 30000
SAMPLE_SEED ?= 1
CIVGRID := $(BUILD_DIR)/engine/civgrid

# Everything comes from Debian bookworm's packages; nothing is downloaded at build time.
APT_PACKAGES := cmake ninja-build g++ pkg-config \
  libgeos-dev libgdal-dev gdal-bin python3-gdal libproj-dev libsqlite3-dev \
  libboost-graph-dev libboost-program-options-dev libtbb-dev liblemon-dev \
  libgtest-dev libgmock-dev libbenchmark-dev libmetis-dev libcgal-dev \
  pybind11-dev python3-dev python3-numpy python3-pytest python3-geopandas python3-matplotlib \
  python3-tqdm python3-pip python3-skbuild \
  libjs-leaflet chromium python3-pil python3-distributed \
  qgis python3-qgis qgis-providers fonts-wqy-microhei

# Installs from apt the packages of the list given that are missing (sudo when not root).
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing from apt:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: deps configure build demo test bench sanitize fuzz clean qgis-plugin

deps:
	$(call apt_install,$(APT_PACKAGES))

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCIVGRID_WERROR=ON

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	mkdir -p out
	$(CIVGRID) synth --households $(SAMPLE_HOUSEHOLDS) --seed $(SAMPLE_SEED) -o out/sample-city-input.gpkg
	$(CIVGRID) partition out/sample-city-input.gpkg -o out/sample-city.gpkg

test: build
	cmake --build $(BUILD_DIR) -j $(JOBS) --target civgrid_header_check  # every public header compiles alone
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The QGIS plugin (qgis_plugin/civgrid_qgis, README: QGIS): copied into the QGIS profile's plugin folder
# (QGIS_PROFILE_DIR, by default the user's default profile), told where this build's civgrid is
# (the file civgrid_cli beside it) and enabled, so the Processing toolbox shows civgrid's algorithms
# at QGIS's next start (and qgis_process lists them).
QGIS_PROFILE_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default
qgis-plugin: build
	mkdir -p $(QGIS_PROFILE_DIR)/python/plugins
	rm -rf $(QGIS_PROFILE_DIR)/python/plugins/civgrid_qgis
	cp -r qgis_plugin/civgrid_qgis $(QGIS_PROFILE_DIR)/python/plugins/civgrid_qgis
	realpath $(CIVGRID) > $(QGIS_PROFILE_DIR)/python/plugins/civgrid_qgis/civgrid_cli
	QT_QPA_PLATFORM=offscreen /usr/bin/qgis_process.bin plugins enable civgrid_qgis >/dev/null
	@echo "installed the civgrid plugin into $(QGIS_PROFILE_DIR)/python/plugins/civgrid_qgis (civgrid: $$(realpath $(CIVGRID)))"

# AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer) build in build-asan: the
# algorithms, io and import tests and the mutation test (MUTATION_ITERATIONS corrupted copies of the
# sample city). About 10 minutes to build from scratch and 4 to run on 2 shared cores, against about
# 3 for the whole of make test, so CI does not run it: a separate step (README, Developer builds).
ASAN_BUILD_DIR ?= build-asan
MUTATION_ITERATIONS ?= 60
sanitize: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIVGRID_WERROR=ON -DCIVGRID_SANITIZE=ON -DCIVGRID_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS) --target civgrid civgrid_algorithms_tests civgrid_io_tests civgrid_engine_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(ASAN_BUILD_DIR)/tests/civgrid_algorithms_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  CIVGRID_MUTATION_ITERATIONS=$(MUTATION_ITERATIONS) \
	  $(ASAN_BUILD_DIR)/tests/civgrid_engine_tests --gtest_filter='Mutation.*:Import*'
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(ASAN_BUILD_DIR)/tests/civgrid_io_tests

# Fuzzing (README, Fuzzing): libFuzzer targets for partition, repartition --previous and report, built
# with clang, AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz. The fuzz bytes script
# edits of a small pristine city and its output (WKB, attributes, features, layers, file bytes,
# GeoJSON and Shapefile copies). Each target runs FUZZ_RUNS inputs in turn (nice, one at a time),
# starting from the committed corpus tests/fuzz/corpus/TARGET; inputs that add coverage go to
# build-fuzz/corpus/TARGET (merge them with FUZZ_MERGE=1), and every finding is written to
# tests/fuzz/reproducers/TARGET/, which CTest replays in the normal build (commit it with its fix).
# About 40 minutes for the three at 10,000 on a quiet machine, not part of CI: there CTest replays the
# corpus and reproducers and runs 300 seeded random inputs a target (README, Fuzzing).
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_RUNS ?= 10000
FUZZ_TARGETS ?= partition repartition report
FUZZ_TIMEOUT ?= 30
FUZZ_MERGE ?= 0
FUZZ_APT_PACKAGES := clang libclang-rt-14-dev
fuzz: deps
	$(call apt_install,$(FUZZ_APT_PACKAGES))
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DCIVGRID_FUZZ=ON -DCIVGRID_BUILD_BENCH=OFF -DCIVGRID_BUILD_PYTHON=OFF
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) $(addprefix --target civgrid_fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD_DIR)/corpus/$$t tests/fuzz/reproducers/$$t; \
	  echo "== fuzz $$t: $(FUZZ_RUNS) runs"; \
	  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:quarantine_size_mb=64 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    nice $(FUZZ_BUILD_DIR)/tests/fuzz/civgrid_fuzz_$$t -runs=$(FUZZ_RUNS) -timeout=$(FUZZ_TIMEOUT) \
	    -max_len=256 -rss_limit_mb=8192 -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/reproducers/$$t/ $(FUZZ_BUILD_DIR)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	  if [ "$(FUZZ_MERGE)" = 1 ]; then \
	    nice $(FUZZ_BUILD_DIR)/tests/fuzz/civgrid_fuzz_$$t -merge=1 tests/fuzz/corpus/$$t $(FUZZ_BUILD_DIR)/corpus/$$t || exit 1; \
	  fi; \
	done

# Every stage at three sizes (community, district, whole city; about 70 s), JSON into
# bench/results/. BENCH_ARGS=--quick leaves out the whole city; see bench/README.md.
bench: build
	/usr/bin/python3 bench/run_benchmarks.py --build $(BUILD_DIR) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR) out
