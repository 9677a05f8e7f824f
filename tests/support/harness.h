/*
 * Integration test kit: starts the real proxyd and the test origin as child
 * processes on loopback, writes their configuration into a private temporary
 * folder, and drives them with raw sockets and real curl.  Every wait here is
 * bounded in time, and nothing talks to anything but 127.0.0.1.
 *
 * Check's fork mode _exit()s a failing test without running its teardown, so
 * suites assert with HCHECK(), which shows the proxy's logs first.  Children
 * stay in the test's process group, which Check kills after every test.
 */
#ifndef TESTS_SUPPORT_HARNESS_H
#define TESTS_SUPPORT_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* Default bound for one network wait (a response, a close). */
#define HARNESS_WAIT_MS 10000
/* Largest decoded body a raw-socket response keeps (the rest is counted). */
#define HARNESS_BODY_CAP (16u << 20)
#define HARNESS_HEAD_MAX 65536
#define HARNESS_MAX_PIDS 256

/*
 * The origin's body pattern: 16-byte records, each the record's own byte
 * offset as 15 lower-case hex digits and a newline.  Any shifted, dropped
 * or duplicated byte shows, and a dump of a body says where it came from.
 * Inline so the origin (which does not link this kit) shares it.
 */
static inline void
harness_pattern_fill(char *buf, size_t len, uint64_t off)
{
	static const char hex[] = "0123456789abcdef";
	char rec[16];
	uint64_t v = off & ~(uint64_t)15;
	size_t skip = off & 15, n;
	int i;

	for (i = 14; i >= 0; i--, v >>= 4)
		rec[i] = hex[v & 15];
	rec[15] = '\n';
	while (len > 0) {
		n = 16 - skip < len ? 16 - skip : len;
		memcpy(buf, rec + skip, n);
		buf += n;
		len -= n;
		skip = 0;
		/* next record: add 1 to the 14 digits above the constant 0 */
		for (i = 13; i >= 0; i--) {
			if (rec[i] == 'f') {
				rec[i] = '0';
				continue;
			}
			rec[i] = rec[i] == '9' ? 'a' : (char)(rec[i] + 1);
			break;
		}
	}
}

/* Checksum the origin's /sink reports: byte-wise Fletcher, mod 2^64. */
struct harness_sum {
	uint64_t a;
	uint64_t b;
};

static inline void
harness_sum_update(struct harness_sum *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		s->a += p[i];
		s->b += s->a;
	}
}

static inline uint64_t
harness_sum_value(const struct harness_sum *s)
{
	return s->b ^ (s->a << 32);
}

/* 0 when buf[0..len) is the pattern starting at offset off. */
int harness_pattern_check(const char *buf, size_t len, uint64_t off);

/* ---- assertions ---------------------------------------------------- */

/* Shows the running proxies' logs and where the temp folder is, then
 * stops the children: called on the failure path of HCHECK. */
void harness_on_failure(const char *expr, const char *file, int line);

#define HCHECK(cond, ...)                                              \
	do {                                                           \
		if (!(cond)) {                                         \
			harness_on_failure(#cond, __FILE__, __LINE__); \
			ck_abort_msg(__VA_ARGS__);                     \
		}                                                      \
	} while (0)

/* Checked teardown: stops every child, removes the temp folder. */
void harness_teardown(void);

/* The test's private temporary folder (created on first use). */
const char *harness_tmpdir(void);
/* Writes data to NAME in the temp folder; its path goes into out.
 * 0 or -1. */
int harness_write_file(const char *name, const void *data, size_t len,
                       char *out, size_t outlen);
/* A file of len pattern bytes (for uploads). 0 or -1. */
int harness_write_pattern_file(const char *name, uint64_t len, char *out,
                               size_t outlen);

/* A port on 127.0.0.1 that was free a moment ago; -1 on error. */
int harness_free_port(void);
/* 0 once something accepts on 127.0.0.1:port within timeout_ms, else -1. */
int harness_wait_port(int port, int timeout_ms);
void harness_sleep_ms(int ms);
/* Monotonic milliseconds. */
int64_t harness_now_ms(void);

/* ---- the origin ---------------------------------------------------- */

struct harness_origin {
	pid_t pid;
	int port;
	int tls;
};

/* Starts $ORIGIN_BIN (default build/tests/origin) and reads its port. */
int harness_origin_start(struct harness_origin *o, int tls);
/* Starts the origin with extra arguments (NULL-terminated argv tail, e.g.
 * {"-n", "b1", NULL}; NULL for none; see tests/support/origin.c for the
 * options).  0, or -1 when it did not start (e.g. -l PORT still taken). */
int harness_origin_start_args(struct harness_origin *o, int tls,
                              const char *const *args);
void harness_origin_stop(struct harness_origin *o);

/* ---- proxyd -------------------------------------------------------- */

/* What the suites vary in proxyd.ini; NULL/0 fields take the defaults. */
struct harness_config {
	int port;                 /* 0: pick a free one */
	unsigned workers;         /* 0: 2 */
	const char *log_level;    /* NULL: info */
	const char *proxyd_extra; /* more "key = value\n" lines in [proxyd] */
	const char *listen_extra; /* more lines in [listen main] */
	const char *timeouts;     /* lines in [timeouts] */
	const char *raw;          /* used verbatim instead of all the above */
};

struct harness_proxy {
	pid_t pid;
	int port;
	unsigned workers;
	char name[32]; /* file prefix inside the temp folder */
	char conf[PATH_MAX];
	char error_log[PATH_MAX];
	char stderr_log[PATH_MAX]; /* proxyd's own stdout/stderr */
	char access_log[PATH_MAX];
	char pid_file[PATH_MAX];
	char shm_file[PATH_MAX];
	char url[64]; /* http://127.0.0.1:PORT */
};

/* Picks the port and writes the config (name: file prefix, e.g. "p").
 * 0 or -1. */
int harness_proxy_init(struct harness_proxy *p, const char *name,
                       const struct harness_config *cfg);
/* Rewrites the config (same files, same port), e.g. before SIGHUP. */
int harness_proxy_write_config(struct harness_proxy *p,
                               const struct harness_config *cfg);
/* Starts `$PROXYD_BIN -f -c conf` and waits (bounded) until the port
 * accepts and the workers exist; from then on a failing HCHECK shows its
 * logs.  0 or -1 (logs shown). */
int harness_proxy_start(struct harness_proxy *p);
/* init with the file prefix "proxyd", then start. */
int harness_proxy_up(struct harness_proxy *p, const struct harness_config *c);
/* Sends sig, waits up to timeout_ms for the exit, SIGKILL after that.
 * Returns the wait status, or -1 if it had to be killed. */
int harness_proxy_stop(struct harness_proxy *p, int sig, int timeout_ms);
/* Waits up to timeout_ms for the proxy to exit by itself (after a signal
 * the test sent).  Wait status, or -1 on timeout (it keeps running). */
int harness_proxy_wait_exit(struct harness_proxy *p, int timeout_ms);
/* The tails of the error log (up to cap/2) and of the captured stderr,
 * NUL-terminated.  Returns the length. */
size_t harness_proxy_log(const struct harness_proxy *p, char *buf, size_t cap);
void harness_proxy_dump_log(const struct harness_proxy *p);
/* Fills pids with the worker processes (children of the master), sorted.
 * Returns how many, or -1. */
int harness_proxy_workers(const struct harness_proxy *p, pid_t *pids, int max);
/* Waits until exactly n workers are alive and none is in old (pass
 * NULL/0 to only count). 0 or -1 on timeout. */
int harness_proxy_wait_workers(const struct harness_proxy *p, int n,
                               const pid_t *old, int nold, int timeout_ms);

/* ---- processes ----------------------------------------------------- */

/* Children of pid (from /proc/PID/task/PID/children, else a /proc scan). */
int harness_children(pid_t pid, pid_t *pids, int max);
/* A "Vm..." field of /proc/PID/status in kB, or -1. */
long harness_proc_kb(pid_t pid, const char *field);
int harness_pid_alive(pid_t pid);
/* waitpid on a child, bounded: its status, or -1 (SIGKILLed and reaped)
 * when it did not exit within timeout_ms. */
int harness_wait_pid(pid_t pid, int timeout_ms);

/* Runs a program to completion, bounded; stdout captured (or counted and
 * checked against the pattern), stderr captured. */
struct harness_run {
	/* in */
	const char *const *argv;
	int timeout_ms;         /* 0: 60 s; killed with SIGKILL after */
	size_t out_cap;         /* 0: 1 MiB kept; the rest is counted */
	int check_pattern;      /* compare stdout with the pattern */
	uint64_t stdin_pattern; /* feed this many pattern bytes on stdin */
	/* out */
	int code; /* exit code; -1 if signalled or timed out */
	int timed_out;
	char *out; /* malloc'd, NUL-terminated */
	size_t out_len;
	uint64_t out_total;
	int pattern_ok; /* with check_pattern */
	char err[8192]; /* stderr, NUL-terminated, truncated */
};

int harness_run(struct harness_run *r);
void harness_run_free(struct harness_run *r);

/* curl -sS --max-time MAX [args...] NULL; r's inputs as for harness_run. */
int harness_curl(struct harness_run *r, int max_time_s, ...)
        __attribute__((sentinel));

/* ---- raw-socket client --------------------------------------------- */

struct harness_conn {
	int fd;
	size_t len; /* bytes in buf */
	size_t pos; /* bytes of buf consumed */
	char buf[262144];
};

struct harness_resp {
	int status;
	int minor;                   /* HTTP/1.minor */
	char head[HARNESS_HEAD_MAX]; /* NUL-terminated, CRLFCRLF included */
	size_t head_len;
	char *body; /* decoded (de-chunked), malloc'd, capped */
	size_t body_len;
	uint64_t body_total; /* all body bytes, even past the cap */
	int chunked;
	int close_delimited;
	char error[256]; /* why harness_conn_response() failed */
};

/* 0 or -1; the connection is blocking with SOCK_CLOEXEC. */
int harness_conn_open(struct harness_conn *c, int port);
void harness_conn_close(struct harness_conn *c);
int harness_conn_send(struct harness_conn *c, const void *data, size_t len);
int harness_conn_sendf(struct harness_conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Reads one response (is_head: it answers a HEAD), bounded by timeout_ms.
 * 1xx responses are returned on their own.  0, or -1 with r->error. */
int harness_conn_response(struct harness_conn *c, struct harness_resp *r,
                          int is_head, int timeout_ms);
void harness_resp_free(struct harness_resp *r);
/* 1 when the peer closed (EOF or reset) with no more bytes, 0 when bytes
 * came instead, -1 when nothing happened within timeout_ms. */
int harness_conn_closed(struct harness_conn *c, int timeout_ms);
/* Everything until the peer closes (or timeout); NUL-terminated.
 * Returns the byte count, or -1 on timeout. */
ssize_t harness_conn_read_all(struct harness_conn *c, char *out, size_t cap,
                              int timeout_ms);

/* Sends a WebSocket upgrade for /ws through a reverse proxy listening on
 * 127.0.0.1:port (raw socket; Host: host, or 127.0.0.1:port when NULL),
 * checks the 101 and its Sec-WebSocket-Accept, then sends one masked text
 * frame with msg and reads the echoed frame (the origin's GET /ws); then a
 * close, whose answer is waited for at most 1 s and not judged.  0 when
 * the echo is a final unmasked text frame equal to msg, -1 otherwise
 * (errmsg[errlen] explains).  Bounded by HARNESS_WAIT_MS. */
int harness_ws_echo(int port, const char *host, const char *msg, char *errmsg,
                    size_t errlen);

/* The value of the first field called name in a head (case-insensitive),
 * copied into out; NULL when absent. */
const char *harness_head_value(const char *head, const char *name, char *out,
                               size_t outlen);
/* How many fields called name the head has. */
int harness_head_count(const char *head, const char *name);

/* main() of every suite: runs it in fork mode as a subreaper (so workers
 * of a killed proxy are reaped), returns the exit status. */
struct Suite;
int harness_main(struct Suite *s);

/* ---- TLS (harness_tls.c) ------------------------------------------- */

/* A certificate made with OpenSSL in the temp folder: an EC P-256 key and
 * a SHA-256 signature, files NAME.pem and NAME.key. */
struct harness_cert {
	/* in */
	const char *name;   /* file names in the temp folder */
	const char *cn;     /* subject CN */
	const char *san;    /* subjectAltName, e.g. "DNS:a.test,IP:127.0.0.1";
	                     * NULL: none */
	const char *issuer; /* name of a certificate made before, whose key
	                     * signs this one; NULL: self-signed */
	int ca;             /* a CA (CA:TRUE, keyCertSign) */
	long not_before_s;  /* valid from now + this (0: one hour ago) */
	long not_after_s;   /* until now + this (0: 90 days); negative for an
	                     * expired certificate */
	long serial;        /* 0: a fresh one */
	/* out */
	char cert[PATH_MAX];
	char key[PATH_MAX];
};

/* 0 or -1 (OpenSSL's errors printed). */
int harness_cert_make(struct harness_cert *c);
/* Concatenates files (NULL-terminated list) into NAME in the temp folder,
 * e.g. a chain; its path into out.  0 or -1. */
int harness_cat_files(const char *name, char *out, size_t outlen, ...)
        __attribute__((sentinel));

/* `openssl s_client -connect 127.0.0.1:PORT [args...]` NULL, with a stdin
 * that stays open (and empty) for stdin_ms and then ends, which ends the
 * connection: long enough for a TLS 1.3 session ticket to be read.
 * Bounded by r->timeout_ms (0: HARNESS_WAIT_MS + stdin_ms); stdout in
 * r->out, stderr in r->err, s_client's exit code in r->code. */
int harness_s_client(struct harness_run *r, int port, int stdin_ms, ...)
        __attribute__((sentinel));

/* A counter from `proxyctl -s SHM stats --json` ($PROXYCTL_BIN, default
 * build/proxyctl): the totals when slot < 0, else worker slot's.  0, or -1
 * (no such counter or slot, or proxyctl failed). */
int harness_stat(const struct harness_proxy *p, const char *name, int slot,
                 uint64_t *out);
/* Polls until the counter is at least min (its last value in *out).  0,
 * or -1 when it is not within timeout_ms. */
int harness_stat_wait(const struct harness_proxy *p, const char *name, int slot,
                      uint64_t min, int timeout_ms, uint64_t *out);
/* The slots stats --json lists workers in, up to max; how many, or -1. */
int harness_stat_slots(const struct harness_proxy *p, int *slots, int max);

/* Starts argv in the background (stdin /dev/null, stdout and stderr into
 * out_path, truncated); it dies with the test.  The pid, or -1; reap it
 * with harness_wait_pid(), which bounds the wait. */
pid_t harness_start_bg(const char *const *argv, const char *out_path);

/* A blocking TLS client connection (OpenSSL's own types, opaque here). */
struct ssl_st;
struct ssl_ctx_st;
struct harness_tls_conn {
	int fd;
	struct ssl_ctx_st *ctx;
	struct ssl_st *ssl;
};

/* Connects to 127.0.0.1:port, sends pre[0..prelen) in the clear first
 * (e.g. a PROXY header; NULL for none), then a TLS handshake with SNI sni
 * (NULL: none), verified against the CA file ca and for sni (ca NULL: not
 * verified).  Every wait bounded by HARNESS_WAIT_MS.  0 or -1 (closed). */
int harness_tls_open(struct harness_tls_conn *c, int port, const char *sni,
                     const char *ca, const void *pre, size_t prelen);
int harness_tls_send(struct harness_tls_conn *c, const void *data, size_t len);
/* Everything until the peer closes (close_notify, EOF or reset), at most
 * cap-1 bytes kept, NUL-terminated.  The bytes kept, or -1 on timeout. */
ssize_t harness_tls_read_all(struct harness_tls_conn *c, char *out, size_t cap,
                             int timeout_ms);
void harness_tls_close(struct harness_tls_conn *c);

#endif
