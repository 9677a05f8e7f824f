/*
 * The shared-memory segment: the ABI between proxyd (writer) and proxyctl
 * (reader).  Offsets from the base and fixed-width integers only, never
 * pointers.  ABI: any change to a record below bumps SHM_ABI_MAJOR;
 * fields appended to the header at its end bump SHM_ABI_MINOR.
 *
 *   header | counter descriptions | retired | master | slot 0 .. slot N-1
 *
 * Counter blocks are arrays of n_counters uint64_t in the order of the
 * descriptions.  A worker writes only its own slot's counters (relaxed
 * atomics); the master writes everything else, under the header seqlock
 * when a reader could see a half-done change (folding a slot).
 */
#ifndef SHM_SHM_T_H
#define SHM_SHM_T_H

#include <assert.h>
#include <stdint.h>

#define SHM_MAGIC 0x48534d4459585250ULL /* "PRXYDMSH" little-endian */
#define SHM_ABI_MAJOR 1
#define SHM_ABI_MINOR 0
#define SHM_LINE 64 /* cache line: one writer per line */
#define SHM_NAME_MAX 48
#define SHM_HELP_MAX 112
#define SHM_MAX_COUNTERS 1024
#define SHM_MAX_SLOTS 4096

enum shm_state {
	SHM_STATE_STARTING = 0,
	SHM_STATE_READY = 1,
	SHM_STATE_STOPPED = 2,
};

enum shm_kind {
	SHM_KIND_COUNTER = 0, /* only goes up */
	SHM_KIND_GAUGE = 1,   /* a level; not folded when a worker exits */
};

enum shm_slot_state {
	SHM_SLOT_FREE = 0,
	SHM_SLOT_RUNNING = 1,
	SHM_SLOT_DRAINING = 2,
};

/* ABI: bump the major version. */
struct shm_header {
	uint64_t magic;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t size; /* bytes in the file */
	int64_t master_pid;
	uint64_t start_time; /* master start, unix ms */
	uint32_t state;      /* enum shm_state */
	uint32_t seq;        /* seqlock: odd while the master writes */
	uint32_t generation; /* configuration generation */
	uint32_t n_counters;
	uint32_t n_slots;
	uint32_t slot_size; /* bytes per slot, multiple of SHM_LINE */
	uint64_t desc_off;
	uint64_t retired_off; /* counters of workers that exited */
	uint64_t master_off;  /* counters the master keeps */
	uint64_t slots_off;
	uint64_t rules_off; /* reserved, 0: the rules are published in
	                     * a file of their own (the rules area) */
	uint64_t rules_size;
	uint64_t reserved[4];
};
static_assert(sizeof(struct shm_header) == 144, "ABI: shm_header");

/* ABI: bump the major version. */
struct shm_counter_desc {
	char name[SHM_NAME_MAX]; /* NUL-terminated */
	char help[SHM_HELP_MAX]; /* NUL-terminated */
	uint32_t kind;           /* enum shm_kind */
	uint32_t reserved;
};
static_assert(sizeof(struct shm_counter_desc) == 168, "ABI: counter desc");

/* The head of a worker slot; its counters follow at the next line.
 * ABI: bump the major version. */
struct shm_slot {
	uint32_t state; /* enum shm_slot_state, written by master */
	int32_t pid;
	uint32_t generation;
	uint32_t reserved;
	uint64_t start_time; /* unix ms */
	uint64_t heartbeat;  /* unix ms, written by the worker */
	uint64_t reserved2[4];
};
static_assert(sizeof(struct shm_slot) == SHM_LINE, "ABI: shm_slot");

/*
 * The rules area: a file of its own next to the segment (shm_file +
 * ".rules"), written by the master for each configuration generation and
 * renamed into place: the rules as the workers run them, and per worker
 * row x per rule hit counters (each row written only by its worker).
 *
 *   header | rule records | strings | hits[n_rows][n_rules]
 */
#define SHM_RULES_MAGIC 0x53454c5552445250ULL /* "PRDRULES" */
#define SHM_RULES_SUFFIX ".rules"
#define SHM_RULES_MAX 100000
#define SHM_RULES_MAX_ROWS 256

/* ABI: bump the major version. */
struct shm_rules_header {
	uint64_t magic;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t size;
	int64_t master_pid;
	uint32_t generation;
	uint32_t n_rules;
	uint32_t n_rows; /* hit rows: one per worker of the generation */
	uint32_t default_action; /* enum rule_action */
	uint64_t rules_off;
	uint64_t strings_off;
	uint64_t strings_size;
	uint64_t hits_off;
	uint64_t file_size; /* of the rules file when loaded */
	int64_t file_mtime; /* its st_mtime, to tell a changed file */
	char path[256];     /* the rules file, NUL-terminated */
	uint64_t reserved[4];
};
static_assert(sizeof(struct shm_rules_header) == 384, "ABI: rules header");

/* ABI: bump the major version.  Strings are offsets into the strings
 * block, each NUL-terminated inside it. */
struct shm_rule {
	uint32_t id;
	uint32_t line;
	uint32_t action; /* enum rule_action */
	uint32_t monitor;
	uint32_t status;
	uint32_t reserved;
	uint64_t name;
	uint64_t text; /* the conditions as written */
};
static_assert(sizeof(struct shm_rule) == 40, "ABI: shm_rule");

/*
 * The backends area: a file of its own next to the segment (shm_file +
 * ".backends"), written by the master for each configuration generation
 * with reverse-proxy backends, renamed into place like the rules area.
 *
 *   header | backend records | server records | rows[n_rows][n_servers]
 *
 * A server record's health part is written only by the health checker (a
 * child of the master); each row of per-server counters only by its
 * worker.  Readers sum the rows.
 */
#define SHM_BACKENDS_MAGIC 0x53444e454b434150ULL /* "PACKENDS" */
#define SHM_BACKENDS_SUFFIX ".backends"
#define SHM_BACKENDS_MAX_ROWS 256

enum shm_server_state {
	SHM_SERVER_UP = 0,
	SHM_SERVER_DOWN = 1,
};

/* Why a server is down, or what the last check said. */
enum shm_check_result {
	SHM_CHECK_NONE = 0,    /* not checked yet, or checks off */
	SHM_CHECK_OK = 1,      /* answered as expected */
	SHM_CHECK_REFUSED = 2, /* connect failed */
	SHM_CHECK_TIMEOUT = 3,
	SHM_CHECK_STATUS = 4,  /* answered with another status */
	SHM_CHECK_BAD = 5,     /* answered something not HTTP */
	SHM_CHECK_PASSIVE = 6, /* requests failed `fall` times in a row */
	SHM_CHECK_TLS = 7,     /* the TLS handshake failed */
};

/* ABI: bump the major version. */
struct shm_backends_header {
	uint64_t magic;
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t size;
	int64_t master_pid;
	uint32_t generation;
	uint32_t n_backends;
	uint32_t n_servers;
	uint32_t n_rows; /* one per worker of the generation */
	uint64_t backends_off;
	uint64_t servers_off;
	uint64_t rows_off;
	int64_t checker_pid;        /* written by the checker */
	uint64_t checker_heartbeat; /* unix ms, by the checker */
	uint64_t reserved[4];
};
static_assert(sizeof(struct shm_backends_header) == 120,
              "ABI: backends header");

/* ABI: bump the major version. */
struct shm_backend {
	char name[64];
	char check[128];  /* as configured: off, tcp, GET /path */
	uint32_t balance; /* enum balance (common/config-t.h) */
	uint32_t first_server;
	uint32_t n_servers;
	uint32_t reserved;
};
static_assert(sizeof(struct shm_backend) == 208, "ABI: shm_backend");

/* ABI: bump the major version.  The first line is set when published;
 * the rest is the checker's. */
struct shm_server {
	char name[128]; /* HOST:PORT as configured */
	uint32_t backend;
	uint32_t weight;
	uint32_t max_conns;
	uint32_t backup;
	uint8_t pad[SHM_LINE - 16];
	/* the checker's line */
	uint32_t state;       /* enum shm_server_state */
	uint32_t result;      /* enum shm_check_result of the last check */
	uint32_t last_status; /* HTTP status of the last check, or 0 */
	uint32_t streak;      /* checks in a row with the same outcome */
	uint64_t last_check;  /* unix ms */
	uint64_t last_change; /* unix ms of the last up/down change */
	uint64_t changes;     /* up/down changes */
	uint64_t check_ms;    /* how long the last check took */
	uint64_t reserved[2];
};
static_assert(sizeof(struct shm_server) == 128 + 2 * SHM_LINE,
              "ABI: shm_server");

/* One worker's counters for one server: a cache line, one writer.
 * ABI: bump the major version. */
struct shm_server_row {
	uint64_t active;      /* requests in flight now (gauge) */
	uint64_t requests;    /* sent to this server */
	uint64_t failures;    /* connect errors, timeouts, closed unanswered */
	uint64_t fail_streak; /* failures since the last success (gauge) */
	uint64_t last_fail;   /* unix ms */
	uint64_t retries;     /* requests moved from it to another server */
	uint64_t reserved[2];
};
static_assert(sizeof(struct shm_server_row) == SHM_LINE, "ABI: server row");

#endif
