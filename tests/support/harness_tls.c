/*
 * Integration test kit (see harness.h), TLS and what TLS tests need
 * besides: certificates made with OpenSSL's C API in the test's temp
 * folder (a CA, leaves signed by it, any validity dates, so an expired
 * certificate needs no faked clock), openssl s_client with a stdin that
 * stays open a moment (a TLS 1.3 session ticket comes after the
 * handshake, and `echo |` ends the connection before it is read),
 * proxyd's counters from `proxyctl stats --json`, clients run in the
 * background while a test does something else, and a small blocking TLS
 * client for what curl and s_client cannot do (pipelined requests, a
 * PROXY header before the handshake).  Bounded like the rest of
 * the kit; P-256 keys, so making a certificate takes a millisecond.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/support/harness.h"
#include "tests/support/harness_int.h"

#define CTL_MS 10000 /* one proxyctl run */

/* ---- certificates -------------------------------------------------- */

static int
tmp_file(char *out, size_t outlen, const char *name, const char *suffix)
{
	int n = snprintf(out, outlen, "%s/%s%s", harness_tmpdir(), name,
	                 suffix);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (e == NULL)
		return -1;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

/* The issuer's certificate and key, from the files it was made into. */
static int
load_issuer(const char *name, X509 **cert, EVP_PKEY **key)
{
	char path[PATH_MAX];
	FILE *f;

	*cert = NULL;
	*key = NULL;
	if (tmp_file(path, sizeof(path), name, ".pem") < 0 ||
	    (f = fopen(path, "re")) == NULL)
		return -1;
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (tmp_file(path, sizeof(path), name, ".key") < 0 ||
	    (f = fopen(path, "re")) == NULL)
		return -1;
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return *cert != NULL && *key != NULL ? 0 : -1;
}

static int
fill_cert(X509 *x, EVP_PKEY *key, const struct harness_cert *c, X509 *issuer,
          EVP_PKEY *issuer_key)
{
	static long seq;
	X509_NAME *name;
	long serial = c->serial > 0
	                      ? c->serial
	                      : (long)(harness_now_ms() % 1000000) * 1000 +
	                                (++seq % 1000);
	long from = c->not_before_s != 0 ? c->not_before_s : -3600;
	long to = c->not_after_s != 0 ? c->not_after_s : 90L * 86400;

	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), from) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), to) ||
	    !X509_set_pubkey(x, key))
		return -1;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                (const unsigned char *)c->cn, -1, -1,
	                                0) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
	                                    : name))
		return -1;
	if (add_ext(x, issuer ? issuer : x, NID_basic_constraints,
	            c->ca ? "critical,CA:TRUE" : "CA:FALSE") < 0 ||
	    add_ext(x, issuer ? issuer : x, NID_key_usage,
	            c->ca ? "critical,keyCertSign,cRLSign"
	                  : "critical,digitalSignature") < 0 ||
	    add_ext(x, issuer ? issuer : x, NID_subject_key_identifier,
	            "hash") < 0)
		return -1;
	if (issuer != NULL && add_ext(x, issuer, NID_authority_key_identifier,
	                              "keyid:always") < 0)
		return -1;
	if (!c->ca && add_ext(x, issuer ? issuer : x, NID_ext_key_usage,
	                      "serverAuth,clientAuth") < 0)
		return -1;
	if (c->san != NULL &&
	    add_ext(x, issuer ? issuer : x, NID_subject_alt_name, c->san) < 0)
		return -1;
	return X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0
	               ? 0
	               : -1;
}

static int
write_pem(const char *path, X509 *x, EVP_PKEY *key)
{
	FILE *f = fopen(path, "we");
	int ok;

	if (f == NULL)
		return -1;
	ok = x ? PEM_write_X509(f, x)
	       : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -1;
}

int
harness_cert_make(struct harness_cert *c)
{
	X509 *x = X509_new(), *issuer = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256"), *issuer_key = NULL;
	int rc = -1;

	c->cert[0] = c->key[0] = '\0';
	if (x == NULL || key == NULL || c->name == NULL || c->cn == NULL)
		goto out;
	if (c->issuer != NULL &&
	    load_issuer(c->issuer, &issuer, &issuer_key) < 0) {
		fprintf(stderr, "harness: certificate %s: no issuer %s\n",
		        c->name, c->issuer);
		goto out;
	}
	if (fill_cert(x, key, c, issuer, issuer_key) < 0 ||
	    tmp_file(c->cert, sizeof(c->cert), c->name, ".pem") < 0 ||
	    tmp_file(c->key, sizeof(c->key), c->name, ".key") < 0 ||
	    write_pem(c->cert, x, NULL) < 0 || write_pem(c->key, NULL, key) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		fprintf(stderr, "harness: cannot make certificate %s\n",
		        c->name ? c->name : "(no name)");
		ERR_print_errors_fp(stderr);
	}
	X509_free(issuer);
	EVP_PKEY_free(issuer_key);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int
harness_cat_files(const char *name, char *out, size_t outlen, ...)
{
	char buf[8192];
	const char *part;
	va_list ap;
	FILE *to, *from;
	size_t n;
	int rc = 0;

	if (tmp_file(out, outlen, name, "") < 0 ||
	    (to = fopen(out, "we")) == NULL)
		return -1;
	va_start(ap, outlen);
	while (rc == 0 && (part = va_arg(ap, const char *)) != NULL) {
		if ((from = fopen(part, "re")) == NULL) {
			rc = -1;
			break;
		}
		while ((n = fread(buf, 1, sizeof(buf), from)) > 0)
			if (fwrite(buf, 1, n, to) != n)
				rc = -1;
		fclose(from);
	}
	va_end(ap);
	return fclose(to) == 0 ? rc : -1;
}

/* ---- openssl s_client ---------------------------------------------- */

int
harness_s_client(struct harness_run *r, int port, int stdin_ms, ...)
{
	/* sh waits for the whole pipeline: the sleep bounds the stdin that
	 * s_client sees as open, the exit status is s_client's */
	static const char script[] =
	        "s=$1; shift; sleep \"$s\" | exec openssl s_client \"$@\"";
	const char *argv[64];
	char secs[32], connect[32];
	va_list ap;
	int n = 0, rc;

	snprintf(secs, sizeof(secs), "%d.%03d", stdin_ms / 1000,
	         stdin_ms % 1000);
	snprintf(connect, sizeof(connect), "127.0.0.1:%d", port);
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = "sh";
	argv[n++] = secs;
	argv[n++] = "-connect";
	argv[n++] = connect;
	va_start(ap, stdin_ms);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	r->argv = argv;
	if (r->timeout_ms == 0)
		r->timeout_ms = HARNESS_WAIT_MS + stdin_ms;
	rc = harness_run(r);
	r->argv = NULL;
	return rc;
}

/* ---- proxyd's counters --------------------------------------------- */

/* The number after "name": within [p, end); 0 or -1. */
static int
json_u64(const char *p, const char *end, const char *name, uint64_t *out)
{
	char pat[96];
	const char *at;
	char *stop;
	int n = snprintf(pat, sizeof(pat), "\"%s\":", name);

	if (n < 0 || (size_t)n >= sizeof(pat) || p == NULL || end <= p)
		return -1;
	at = memmem(p, (size_t)(end - p), pat, (size_t)n);
	if (at == NULL)
		return -1;
	*out = strtoull(at + n, &stop, 10);
	return stop == at + n ? -1 : 0;
}

/* Where slot's counters object is in stats --json, and its end. */
static const char *
slot_counters(const char *json, int slot, const char **end)
{
	char pat[32];
	const char *w = strstr(json, "\"workers\":["), *c;

	snprintf(pat, sizeof(pat), "{\"slot\":%d,", slot);
	if (w == NULL || (w = strstr(w, pat)) == NULL ||
	    (c = strstr(w, "\"counters\":{")) == NULL)
		return NULL;
	*end = strchr(c, '}');
	return *end ? c : NULL;
}

static int
proxyctl_stats(const struct harness_proxy *p, struct harness_run *r)
{
	const char *bin = getenv("PROXYCTL_BIN");
	const char *argv[] = {bin && bin[0] ? bin : "build/proxyctl",
	                      "-s",
	                      p->shm_file,
	                      "stats",
	                      "--json",
	                      NULL};

	memset(r, 0, sizeof(*r));
	r->argv = argv;
	r->timeout_ms = CTL_MS;
	harness_run(r);
	r->argv = NULL;
	if (r->code == 0)
		return 0;
	fprintf(stderr, "harness: proxyctl stats: exit %d: %s\n", r->code,
	        r->err);
	harness_run_free(r);
	return -1;
}

int
harness_stat(const struct harness_proxy *p, const char *name, int slot,
             uint64_t *out)
{
	struct harness_run r;
	const char *from, *end = NULL;
	int rc;

	if (proxyctl_stats(p, &r) < 0)
		return -1;
	if (slot < 0) {
		from = strstr(r.out, "\"totals\":{");
		end = from ? strchr(from, '}') : NULL;
	} else {
		from = slot_counters(r.out, slot, &end);
	}
	rc = from && end ? json_u64(from, end, name, out) : -1;
	harness_run_free(&r);
	return rc;
}

int
harness_stat_wait(const struct harness_proxy *p, const char *name, int slot,
                  uint64_t min, int timeout_ms, uint64_t *out)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	uint64_t v = 0;

	do {
		if (harness_stat(p, name, slot, &v) == 0 && v >= min) {
			if (out)
				*out = v;
			return 0;
		}
		harness_sleep_ms(50);
	} while (harness_now_ms() < deadline);
	if (out)
		*out = v;
	return -1;
}

int
harness_stat_slots(const struct harness_proxy *p, int *slots, int max)
{
	struct harness_run r;
	const char *at;
	int n = 0;

	if (proxyctl_stats(p, &r) < 0)
		return -1;
	at = strstr(r.out, "\"workers\":[");
	while (at && n < max && (at = strstr(at, "{\"slot\":")) != NULL) {
		at += strlen("{\"slot\":");
		slots[n++] = atoi(at);
	}
	harness_run_free(&r);
	return n;
}

/* ---- background clients -------------------------------------------- */

pid_t
harness_start_bg(const char *const *argv, const char *out_path)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out =
	        open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	pid_t pid = -1;

	if (null >= 0 && out >= 0)
		pid = harness_spawn(argv, null, out, out);
	if (null >= 0)
		close(null);
	if (out >= 0)
		close(out);
	return pid;
}

/* ---- a TLS client of our own --------------------------------------- */

int
harness_tls_open(struct harness_tls_conn *c, int port, const char *sni,
                 const char *ca, const void *pre, size_t prelen)
{
	struct timeval tv = {HARNESS_WAIT_MS / 1000, 0};
	char name[256];

	memset(c, 0, sizeof(*c));
	c->fd = harness_connect_port(port, HARNESS_WAIT_MS);
	if (c->fd < 0)
		return -1;
	/* the handshake and reads block at most this long each */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (pre != NULL && prelen > 0 &&
	    send(c->fd, pre, prelen, MSG_NOSIGNAL) != (ssize_t)prelen)
		goto fail;
	if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	if ((c->ssl = SSL_new(c->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	/* a copy: OpenSSL's macro casts the const away */
	if (sni != NULL &&
	    (snprintf(name, sizeof(name), "%s", sni) >= (int)sizeof(name) ||
	     SSL_set_tlsext_host_name(c->ssl, name) != 1 ||
	     (ca != NULL && SSL_set1_host(c->ssl, sni) != 1)))
		goto fail;
	if (SSL_connect(c->ssl) == 1)
		return 0;
fail:
	ERR_print_errors_fp(stderr);
	harness_tls_close(c);
	return -1;
}

int
harness_tls_send(struct harness_tls_conn *c, const void *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t put = 0;

		if (SSL_write_ex(c->ssl, (const char *)data + done, len - done,
		                 &put) != 1)
			return -1;
		done += put;
	}
	return 0;
}

ssize_t
harness_tls_read_all(struct harness_tls_conn *c, char *out, size_t cap,
                     int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	struct pollfd pfd = {c->fd, POLLIN, 0};
	size_t n = 0, got, keep;
	char buf[16384];
	int err;

	out[0] = '\0';
	for (;;) {
		if (SSL_pending(c->ssl) == 0 &&
		    poll(&pfd, 1, harness_left_ms(deadline)) == 0)
			return -1;
		if (SSL_read_ex(c->ssl, buf, sizeof(buf), &got) == 1) {
			keep = got < cap - 1 - n ? got : cap - 1 - n;
			memcpy(out + n, buf, keep);
			n += keep;
			out[n] = '\0';
			continue;
		}
		err = SSL_get_error(c->ssl, 0);
		ERR_clear_error();
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return (ssize_t)n; /* close_notify, EOF or reset */
		if (harness_now_ms() >= deadline)
			return -1;
	}
}

void
harness_tls_close(struct harness_tls_conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}
