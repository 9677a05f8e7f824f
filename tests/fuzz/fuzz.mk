# Fuzzing the HTTP parser, the ClientHello parser (sni) and the PROXY
# protocol codec (proxy_protocol) with libFuzzer.
# `make fuzz` runs this from the repository root: it builds each target
# with the parser sources only and runs it for FUZZ_SECONDS (per target),
# starting from the committed seeds in tests/fuzz/seeds/<target>/ and
# keeping what it learns in build/fuzz/corpus-<target>/.  Crashing inputs
# land in build/fuzz/ as crash-*; replay one with
# `build/fuzz/fuzz_<target> build/fuzz/crash-...`.

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_HTTP    := request response chunked
FUZZ_TARGETS := $(FUZZ_HTTP) sni proxy_protocol
FUZZ_SRC     := worker/http_parse.c worker/http_chunked.c worker/http_uri.c
FUZZ_SRC_sni := rules/sni.c
FUZZ_SRC_proxy_protocol := worker/proxy_protocol.c
FUZZ_CFLAGS  := -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -D_GNU_SOURCE -I. -std=gnu11 \
                -g -O1 -Wall -Wextra -Werror
FUZZ_MAXLEN_request  := 2048
FUZZ_MAXLEN_response := 2048
FUZZ_MAXLEN_chunked  := 4096
FUZZ_MAXLEN_sni      := 4096
FUZZ_MAXLEN_proxy_protocol := 4096

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
# For sni: record and handshake headers, versions, extension types
# (server_name, supported_versions, key_share, padding), a host_name entry.
FUZZ_DICT_sni := '"\x16\x03\x01"' '"\x16\x03\x03"' '"\x01\x00"' \
                 '"\x03\x03"' '"\x03\x04"' '"\x00\x00"' '"\x00\x2b"' \
                 '"\x00\x33"' '"\x00\x15"' '"example.com"' \
                 '"\x00\x00\x00\x10\x00\x0e\x00\x00\x0bexample.com"'
# For proxy_protocol: the v1 words and a full line, the v2 signature and
# the version/command, family and length bytes of each kind of header, a
# TLV header, addresses.
FUZZ_DICT_proxy_protocol := '"PROXY "' '"TCP4 "' '"TCP6 "' '"UNKNOWN"' \
                 '"\x0d\x0a"' '" 65535"' '" 0"' '"127.0.0.1 "' '"::1 "' \
                 '"::ffff:"' '"PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\x0d\x0a"' \
                 '"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"' \
                 '"\x21\x11\x00\x0c"' '"\x21\x21\x00\x24"' \
                 '"\x20\x00\x00\x00"' '"\x21\x31\x00\xd8"' \
                 '"\x04\x00\x00"' '"\x01\x00\x02h2"'

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_HTTP_BINS := $(FUZZ_HTTP:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_RUNS := $(FUZZ_TARGETS:%=fuzz-run-%)

# Static pattern rules throughout: phony targets skip implicit rules, and
# binaries made by an implicit chain would be deleted as intermediates.
.PHONY: fuzz-all fuzz-build $(FUZZ_RUNS)
.DEFAULT_GOAL := fuzz-all

fuzz-all: $(FUZZ_RUNS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_HTTP_BINS): $(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c \
                    tests/fuzz/fuzz_head.h $(FUZZ_SRC) worker/http_parse.h \
                    tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC)

# The ClientHello parser stands alone: no HTTP sources.
$(FUZZ_DIR)/fuzz_sni: tests/fuzz/fuzz_sni.c $(FUZZ_SRC_sni) rules/match.h \
                      tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC_sni)

# So does the PROXY protocol codec.
$(FUZZ_DIR)/fuzz_proxy_protocol: tests/fuzz/fuzz_proxy_protocol.c \
                                 $(FUZZ_SRC_proxy_protocol) \
                                 worker/proxy_protocol.h tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC_proxy_protocol)

$(FUZZ_DIR)/http.dict: tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	@printf '%s\n' $(FUZZ_DICT) > $@

$(FUZZ_DIR)/sni.dict: tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	@printf '%s\n' $(FUZZ_DICT_sni) > $@

$(FUZZ_DIR)/proxy_protocol.dict: tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	@printf '%s\n' $(FUZZ_DICT_proxy_protocol) > $@

# Each target reads its own dictionary if it has one, else http.dict.
$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_DIR)/fuzz_% $(FUZZ_DIR)/http.dict \
                          $(FUZZ_DIR)/sni.dict \
                          $(FUZZ_DIR)/proxy_protocol.dict
	@mkdir -p $(FUZZ_DIR)/corpus-$*
	@echo "== fuzz $* for $(FUZZ_SECONDS)s"
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$*) \
		-dict=$(FUZZ_DIR)/$(if $(FUZZ_DICT_$*),$*,http).dict \
		-artifact_prefix=$(FUZZ_DIR)/ \
		-print_final_stats=1 $(FUZZ_DIR)/corpus-$* tests/fuzz/seeds/$*
