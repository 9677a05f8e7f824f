/*
 * Publishing the rules into the shared-memory rules area (layout in
 * shm/shm-t.h), so that proxyctl shows the rules exactly as the workers
 * run them, with their hit counts, without reading rules.ini again.
 * Built under a temporary name and renamed into place, like the segment.
 */
#include "rules/rules.h"
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t
align64(uint64_t n)
{
	return (n + 63) & ~(uint64_t)63;
}

static uint64_t
strings_size(const struct rules *r)
{
	uint64_t n = 1; /* offset 0 is the empty string */
	unsigned i;

	for (i = 0; i < r->n; i++)
		n += strlen(r->rule[i].name) + 1 + strlen(r->rule[i].text) + 1;
	return n;
}

static void
layout(struct shm_rules_header *h, const struct rules *r, unsigned rows)
{
	h->magic = SHM_RULES_MAGIC;
	h->abi_major = SHM_ABI_MAJOR;
	h->abi_minor = SHM_ABI_MINOR;
	h->n_rules = r->n;
	h->n_rows = rows;
	h->default_action = r->default_action;
	h->rules_off = align64(sizeof(*h));
	h->strings_off =
	        h->rules_off + (uint64_t)r->n * sizeof(struct shm_rule);
	h->strings_size = strings_size(r);
	h->hits_off = align64(h->strings_off + h->strings_size);
	h->size = h->hits_off + (uint64_t)rows * r->n * sizeof(uint64_t);
	if (h->size == h->hits_off)
		h->size += 8; /* never an empty tail */
	h->master_pid = getpid();
}

static uint64_t
put_string(char *strings, uint64_t *at, const char *s)
{
	uint64_t off = *at;

	strcpy(strings + off, s);
	*at += strlen(s) + 1;
	return off;
}

static void
fill(void *base, const struct rules *r)
{
	struct shm_rules_header *h = base;
	struct shm_rule *out = (struct shm_rule *)((char *)base + h->rules_off);
	char *strings = (char *)base + h->strings_off;
	uint64_t at = 1;
	struct stat st;
	unsigned i;

	size_t n = strlen(r->path);

	/* a longer path is cut: it is shown, never opened, from here */
	if (n >= sizeof(h->path))
		n = sizeof(h->path) - 1;
	memcpy(h->path, r->path, n);
	if (stat(r->path, &st) == 0) {
		h->file_size = (uint64_t)st.st_size;
		h->file_mtime = (int64_t)st.st_mtime;
	}
	for (i = 0; i < r->n; i++) {
		const struct rule *rl = &r->rule[i];

		out[i].id = rl->id;
		out[i].line = (uint32_t)rl->line;
		out[i].action = rl->action;
		out[i].monitor = (uint32_t)rl->monitor;
		out[i].status = rl->status;
		out[i].name = put_string(strings, &at, rl->name);
		out[i].text = put_string(strings, &at, rl->text);
	}
}

int
rules_publish(struct rules_area *a, const char *shm_path, const struct rules *r,
              unsigned n_rows, unsigned generation, gid_t gid, char *err,
              size_t errlen)
{
	struct shm_rules_header probe = {0};
	char path[4200], tmp[4300];

	layout(&probe, r, n_rows);
	snprintf(path, sizeof(path), "%s%s", shm_path, SHM_RULES_SUFFIX);
	a->size = probe.size;
	a->base =
	        shm_file_new(path, a->size, gid, tmp, sizeof(tmp), err, errlen);
	if (!a->base)
		return -1;
	memcpy(a->base, &probe, sizeof(probe));
	((struct shm_rules_header *)a->base)->generation = generation;
	fill(a->base, r);
	if (shm_file_commit(a->base, a->size, tmp, path, err, errlen) == 0)
		return 0;
	a->base = NULL;
	return -1;
}

uint64_t *
rules_area_hits(const struct rules_area *a, unsigned row)
{
	const struct shm_rules_header *h = a->base;

	if (!a->base || row >= h->n_rows)
		return NULL;
	return (uint64_t *)((char *)a->base + h->hits_off) +
	       (size_t)row * h->n_rules;
}

void
rules_area_unmap(struct rules_area *a)
{
	if (a->base)
		munmap(a->base, a->size);
	a->base = NULL;
}

void
rules_area_remove(const char *shm_path)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s%s", shm_path, SHM_RULES_SUFFIX);
	unlink(path);
}
