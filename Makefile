# The two commands of the README: `make demo` and `make test`.

VENV     := target/venv
PYTHON   := $(VENV)/bin/python
SERVER   := target/debug/oss-local-server

.PHONY: test demo build release venv lint rust-test interop header install install-check go go-test \
  cmake cmake-check mono csharp-test abigail abi-check abi-baseline bench-server bench-buffered bench \
  fuzz

VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ABI        := $(firstword $(subst ., ,$(VERSION)))
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
# Which cargo build `make install` takes its libraries from.
PROFILE    ?= release
# What rustc lists for linking the static library (`--print native-static-libs`).
STATIC_LIBS := -lpthread -ldl -lm -lrt -lutil -lgcc_s

# $(call stage_lib,PROFILE,DIR): the shared library in DIR under its SONAME, as installed.
stage_lib = mkdir -p $(2) && cp target/$(1)/liboss_append.so $(2)/liboss_append.so.$(ABI) && \
  ln -sf liboss_append.so.$(ABI) $(2)/liboss_append.so
# $(call release_tool,SOURCE,NAME): an optimised C program in RELEASE_BIN, linked to the
# release library staged beside it.
RELEASE_BIN := $(CURDIR)/target/release/c-bin
release_tool = $(call stage_lib,release,$(RELEASE_BIN)/lib) && \
  gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude $(1) -L$(RELEASE_BIN)/lib -loss_append \
    -Wl,-rpath,$(RELEASE_BIN)/lib -o $(RELEASE_BIN)/$(2)

build:
	cargo build --workspace

release:
	cargo build --release --workspace

# Copies the header cbindgen generated in the last build into include/ (tests/c_abi.rs
# fails until the committed header matches).
header: build
	cp "$$(ls -t target/debug/build/oss-append-*/out/oss_append.h | head -n 1)" include/oss_append.h

# A venv under target/ with the pinned official SDKs (the server's referees).
venv: $(VENV)/.installed
$(VENV)/.installed: tests/interop/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
	touch $@

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# `cargo build` first: tests/c_abi.rs links C programs against the built libraries.
rust-test: build
	cargo test --workspace

interop: build venv
	OSS_LOCAL_SERVER=$(SERVER) $(PYTHON) -m pytest -q tests/interop

test: lint rust-test abi-check install-check cmake-check go-test csharp-test interop

# The property tests (each module's `mod properties`, beside the module it tests), long:
# PROPTEST_CASES cases each (1000000 unless set) in a release build, where `make test` runs
# proptest's default 256 in debug.
fuzz: PROPTEST_CASES ?= 1000000
fuzz:
	PROPTEST_CASES=$(PROPTEST_CASES) cargo test --release -p oss-append -p oss-protocol --lib properties

# The libraries (with the SONAME liboss_append.so.$(ABI)), the header, a pkg-config file and
# a CMake package (find_package(oss-append), from the templates in examples-c/cmake/).
install:
	test -f target/$(PROFILE)/liboss_append.so || cargo build $(if $(filter release,$(PROFILE)),--release) -p oss-append
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 include/oss_append.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 -s target/$(PROFILE)/liboss_append.so $(DESTDIR)$(LIBDIR)/liboss_append.so.$(VERSION)
	ln -sf liboss_append.so.$(VERSION) $(DESTDIR)$(LIBDIR)/liboss_append.so.$(ABI)
	ln -sf liboss_append.so.$(ABI) $(DESTDIR)$(LIBDIR)/liboss_append.so
	install -m 644 target/$(PROFILE)/liboss_append.a $(DESTDIR)$(LIBDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: oss-append' \
	  'Description: Stream data into Alibaba Cloud OSS appendable objects' \
	  'Version: $(VERSION)' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -loss_append' \
	  'Libs.private: $(STATIC_LIBS)' > $(DESTDIR)$(LIBDIR)/pkgconfig/oss-append.pc
	install -d $(DESTDIR)$(LIBDIR)/cmake/oss-append
	for file in oss-append-config oss-append-config-version; do \
	  sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@ABI@|$(ABI)|g' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' \
	    examples-c/cmake/$$file.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/oss-append/$$file.cmake || exit 1; \
	done

# Installs the debug build into target/install-check and builds a program with pkg-config
# against it, dynamically and statically.
install-check: build
	rm -rf target/install-check
	$(MAKE) --no-print-directory install PROFILE=debug PREFIX=$(CURDIR)/target/install-check
	cd target/install-check && export PKG_CONFIG_PATH=$$PWD/lib/pkgconfig && \
	  gcc -std=c11 -Wall -Wextra -Werror ../../tests/c/misuse.c $$(pkg-config --cflags --libs oss-append) \
	    -Wl,-rpath,$$(pkg-config --variable=libdir oss-append) -o misuse-dynamic && \
	  gcc -std=c11 -Wall -Wextra -Werror ../../tests/c/misuse.c $$(pkg-config --cflags oss-append) \
	    lib/liboss_append.a $$(pkg-config --static --libs-only-l oss-append | sed 's/-loss_append//') \
	    -o misuse-static && \
	  ldd misuse-dynamic | grep -q "liboss_append.so.$(ABI) => $$PWD/lib/" && \
	  ./misuse-dynamic && ./misuse-static

# libabigail's abidw and abidiff from Debian when the machine has none.
abigail:
	@command -v abidw >/dev/null && command -v abidiff >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq abigail-tools; }

# The ABI that the header and the built library give, against the 1.0 baseline: additions
# pass, any other change fails (tests/abi/check.sh); then that check's own test, on changes
# made to a copy of the header.
ABI_BASELINE        := tests/abi/baseline.abi
ABI_BASELINE_HEADER := tests/abi/oss_append-1.0.h
abi-check: abigail build
	tests/abi/check.sh include/oss_append.h target/debug/liboss_append.so $(ABI_BASELINE)
	tests/abi/check_test.sh include/oss_append.h target/debug/liboss_append.so

# Takes the baseline afresh, with the copy of the header that tests/abi/old_program.c is
# built against. Only for a new major version, whose ABI is meant to differ.
abi-baseline: abigail header
	tests/abi/dump.sh include/oss_append.h target/debug/liboss_append.so $(ABI_BASELINE)
	cp include/oss_append.h $(ABI_BASELINE_HEADER)

# CMake from Debian's cmake when the machine has none.
cmake:
	@command -v cmake >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake; }

# examples-c/cpp/CMakeLists.txt finds the install-check prefix with find_package, builds
# append_files with oss-append::shared and ::static and runs both against the local server.
cmake-check: cmake install-check
	examples-c/cpp/cmake-check.sh $(CURDIR)/target/install-check $(CURDIR)/target/debug/cmake-check \
	  $(SERVER) "$(STATIC_LIBS)"

# Go from Debian's golang-go when the machine has none.
go:
	@command -v go >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go; }

# The Go package: gofmt, go vet, go test -race linked statically (the default), and the tests
# again linked against the shared library. No module downloads: the package has no
# dependencies beyond the standard library.
GO_ENV := GOPROXY=off OSS_LOCAL_SERVER=$(CURDIR)/$(SERVER)
GO_SHARED := $(CURDIR)/target/debug/go-shared
go-test: go build
	cd examples-c/go && test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	cd examples-c/go && $(GO_ENV) CGO_LDFLAGS=-L$(CURDIR)/target/debug go vet ./...
	cd examples-c/go && $(GO_ENV) CGO_LDFLAGS=-L$(CURDIR)/target/debug go test -race -count=1 ./...
	$(call stage_lib,debug,$(GO_SHARED))
	cd examples-c/go && $(GO_ENV) CGO_LDFLAGS="-L$(GO_SHARED) -Wl,-rpath,$(GO_SHARED)" \
	  go test -count=1 -tags ossappend_shared -c -o $(GO_SHARED)/ossappend.test . && \
	  ldd $(GO_SHARED)/ossappend.test | grep -q "liboss_append.so.$(ABI) => $(GO_SHARED)/" && \
	  $(GO_ENV) $(GO_SHARED)/ossappend.test

# Mono's C# compiler and runtime from Debian when the machine has none.
mono:
	@command -v mcs >/dev/null && command -v mono >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mono-mcs mono-runtime; }

# The C# library (examples-c/csharp/src) compiled with every public member documented and
# no unsafe code, and its test program run by mono against the local server, with the
# shared library staged beside them (where DllImport("oss_append") looks first); then the
# README's C# example, compiled.
CS_OUT := $(CURDIR)/target/debug/csharp
csharp-test: mono build
	$(call stage_lib,debug,$(CS_OUT))
	mcs -nologo -warnaserror+ -target:library -doc:$(CS_OUT)/OssAppend.xml -out:$(CS_OUT)/OssAppend.dll \
	  examples-c/csharp/src/*.cs
	mcs -nologo -warnaserror+ -r:$(CS_OUT)/OssAppend.dll -out:$(CS_OUT)/OssAppendTests.exe \
	  examples-c/csharp/tests/*.cs
	OSS_LOCAL_SERVER=$(CURDIR)/$(SERVER) mono --debug $(CS_OUT)/OssAppendTests.exe
	awk '/^```csharp$$/ { on = 1; next } /^```$$/ { on = 0 } on' README.md > $(CS_OUT)/readme.txt
	{ grep '^using ' $(CS_OUT)/readme.txt; echo 'static class ReadmeExample { static void Main() {'; \
	  grep -v '^using ' $(CS_OUT)/readme.txt; echo '} }'; } > $(CS_OUT)/ReadmeExample.cs
	mcs -nologo -warnaserror+ -r:$(CS_OUT)/OssAppend.dll -out:$(CS_OUT)/ReadmeExample.exe $(CS_OUT)/ReadmeExample.cs

# Release build of the library, the server and append_file, then examples-c/demo.sh.
demo: venv
	cargo build --release --workspace
	$(call release_tool,examples-c/append_file.c,append_file)
	examples-c/demo.sh $(RELEASE_BIN)/append_file target/release/oss-local-server $(PYTHON)

# Ingest throughput of the server in --discard mode, from curl over loopback.
bench-server:
	cargo build --release -p oss-local-server
	benches/server_ingest.sh target/release/oss-local-server

# Buffered writes: a million 100-byte writes, fast and with a slow server (issue 6), then
# spooled to disk under each sync policy and a 4 GiB spooled stream's memory (issue 28),
# and what rolling costs, buffered and direct (issue 27).
bench-buffered:
	cargo build --release --workspace
	$(call release_tool,benches/buffered_writes.c,buffered_writes)
	$(call release_tool,benches/roll_bench.c,roll_bench)
	benches/buffered.sh target/release/oss-local-server $(RELEASE_BIN)/buffered_writes \
	  $(RELEASE_BIN)/roll_bench

# Issue 7's figures in one table: bulk and small appends beside the loopback limit and the
# official SDKs, streaming memory, library size (benches/bench.py); then bench-buffered's.
bench: venv
	cargo build --release --workspace
	$(call release_tool,benches/append_bench.c,append_bench)
	$(call release_tool,examples-c/append_file.c,append_file)
	gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude examples-c/append_file.c \
	  -Ltarget/release -Wl,-Bstatic -loss_append -Wl,-Bdynamic $(STATIC_LIBS) \
	  -o $(RELEASE_BIN)/append_file_static
	$(PYTHON) benches/bench.py target/release/oss-local-server $(RELEASE_BIN)/append_bench \
	  $(RELEASE_BIN)/append_file $(RELEASE_BIN)/append_file_static target/release/liboss_append.so
	$(MAKE) --no-print-directory bench-buffered
