# Fuzzing the HTTP parser with libFuzzer.  `make fuzz` runs this from the
# repository root: it builds each target with the parser sources only and
# runs it for FUZZ_SECONDS (per target), starting from the committed seeds
# in tests/fuzz/seeds/<target>/ and keeping what it learns in
# build/fuzz/corpus-<target>/.  Crashing inputs land in build/fuzz/ as
# crash-*; replay one with `build/fuzz/fuzz_<target> build/fuzz/crash-...`.

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := request response chunked
FUZZ_SRC     := worker/http_parse.c worker/http_chunked.c worker/http_uri.c
FUZZ_CFLAGS  := -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -D_GNU_SOURCE -I. -std=gnu11 \
                -g -O1 -Wall -Wextra -Werror
FUZZ_MAXLEN_request  := 2048
FUZZ_MAXLEN_response := 2048
FUZZ_MAXLEN_chunked  := 4096

# Tokens the fuzzer cannot easily guess byte by byte (libFuzzer dictionary
# syntax: quoted, \xNN escapes).
FUZZ_DICT := '"GET "' '"CONNECT "' '"OPTIONS * "' '" HTTP/1.1\x0d\x0a"' \
             '" HTTP/1.0\x0d\x0a"' '"HTTP/1.1 "' '"HTTP/1.0 "' '"\x0d\x0a"' \
             '"\x0d\x0a\x0d\x0a"' '"Host: "' '"Content-Length: "' \
             '"Transfer-Encoding: "' '"chunked"' '"gzip"' '"Connection: "' \
             '"close"' '"keep-alive"' '"upgrade"' '"Upgrade: "' '"Expect: "' \
             '"100-continue"' '"http://"' '"https://"' '"[::1]"' \
             '"127.0.0.1"' '":443"' '":80"' '";ext="' '"=\"q\""' \
             '"0\x0d\x0a\x0d\x0a"'

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_RUNS := $(FUZZ_TARGETS:%=fuzz-run-%)

# Static pattern rules throughout: phony targets skip implicit rules, and
# binaries made by an implicit chain would be deleted as intermediates.
.PHONY: fuzz-all fuzz-build $(FUZZ_RUNS)
.DEFAULT_GOAL := fuzz-all

fuzz-all: $(FUZZ_RUNS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BINS): $(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_head.h $(FUZZ_SRC) \
                    worker/http_parse.h tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC)

$(FUZZ_DIR)/http.dict: tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	@printf '%s\n' $(FUZZ_DICT) > $@

$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_DIR)/http.dict
	@mkdir -p $(FUZZ_DIR)/corpus-$*
	@echo "== fuzz $* for $(FUZZ_SECONDS)s"
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$*) \
		-dict=$(FUZZ_DIR)/http.dict -artifact_prefix=$(FUZZ_DIR)/ \
		-print_final_stats=1 $(FUZZ_DIR)/corpus-$* tests/fuzz/seeds/$*
