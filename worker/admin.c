/*
 * The [admin] endpoint, served by the workers from the shared-memory
 * segment they already map: GET /metrics (the same text as proxyctl stats
 * --prometheus) and GET /stats.json.  Anything else is 404.
 */
#include "worker/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "shm/shm.h"
#include "worker/stats.h"
#include "worker/worker.h"

static struct shm_view view;
static int view_ok;

void
admin_init(const void *shm_base, size_t shm_size)
{
	char err[256];

	view_ok = shm_base && shm_view_init(&view, shm_base, shm_size, err,
	                                    sizeof(err)) == 0;
	if (shm_base && !view_ok)
		log_error("admin endpoint: %s", err);
}

/* Renders into memory; NULL on failure. */
static char *
render(int json, size_t *len)
{
	struct shm_snapshot snap;
	char *text = NULL;
	FILE *f;

	if (!view_ok || shm_snapshot_take(&view, &snap) < 0)
		return NULL;
	if ((f = open_memstream(&text, len)) != NULL) {
		if (json)
			shm_render_json(&view, &snap, f);
		else
			shm_render_prometheus(&view, &snap, f);
		fclose(f);
	}
	shm_snapshot_free(&snap);
	return text;
}

/* A buffer just big enough for the answer; buf_put frees it because its
 * size is not the pool's. */
static struct buf *
answer(const char *type, const char *body, size_t len, int head_only)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	                 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	                 "Connection: close\r\n\r\n",
	                 type, len);
	size_t total = (size_t)n + (head_only ? 0 : len);
	struct buf *b = malloc(sizeof(*b) + total);

	if (!b)
		return NULL;
	b->start = b->end = 0;
	b->cap = total;
	b->next_free = NULL;
	buf_append(b, head, (size_t)n);
	if (!head_only)
		buf_append(b, body, len);
	return b;
}

static int
path_is(struct session *s, const char *path)
{
	const char *b = buf_head(s->cli.in);

	return s->req.target_form == HTTP_TARGET_ORIGIN &&
	       s->req.target.len == strlen(path) &&
	       memcmp(b + s->req.target.off, path, s->req.target.len) == 0;
}

void
admin_request(struct session *s)
{
	int json = path_is(s, "/stats.json"), head_only;
	const char *type = json ? "application/json"
	                        : "text/plain; version=0.0.4; charset=utf-8";
	struct buf *b;
	char *body;
	size_t len;

	head_only = s->req.method == HTTP_METHOD_HEAD;
	if (!json && !path_is(s, "/metrics")) {
		http_error_send(s, 404, "no such admin page");
		return;
	}
	if (s->req.method != HTTP_METHOD_GET && !head_only) {
		http_error_send(s, 405, "admin pages are read with GET");
		return;
	}
	if (!(body = render(json, &len)) ||
	    !(b = answer(type, body, len, head_only))) {
		free(body);
		http_error_send(s, 503, "cannot render the counters");
		return;
	}
	free(body);
	buf_put(s->cli.out);
	s->cli.out = b;
	s->status = 200;
	s->resp_started = 1;
	access_log_write(s);
	session_end(s);
}
