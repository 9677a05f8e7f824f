/*
 * Publishing the backends area (layout in shm/shm-t.h), built under a
 * temporary name and renamed into place like the rules area.  Health
 * carries over a reload by backend and server name, so a server that was
 * down stays down until the new checker sees it rise.
 */
#include "shm/backends.h"
#include "shm/shm.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t
align64(uint64_t n)
{
	return (n + 63) & ~(uint64_t)63;
}

static void
layout(struct shm_backends_header *h, const struct config *cfg, unsigned rows)
{
	h->magic = SHM_BACKENDS_MAGIC;
	h->abi_major = SHM_ABI_MAJOR;
	h->abi_minor = SHM_ABI_MINOR;
	h->n_backends = cfg->n_backends;
	h->n_servers = cfg->n_servers;
	h->n_rows = rows;
	h->backends_off = align64(sizeof(*h));
	h->servers_off =
	        align64(h->backends_off +
	                (uint64_t)cfg->n_backends * sizeof(struct shm_backend));
	h->rows_off =
	        align64(h->servers_off +
	                (uint64_t)cfg->n_servers * sizeof(struct shm_server));
	h->size = h->rows_off + (uint64_t)rows * cfg->n_servers *
	                                sizeof(struct shm_server_row);
	h->master_pid = getpid();
}

/* The same server in the previous generation's area, or NULL. */
static const struct shm_server *
old_server(const struct backends_area *old, const char *backend,
           const char *name)
{
	const struct shm_backends_header *h;
	const struct shm_backend *b;
	const struct shm_server *sv;
	unsigned i, j;

	if (!old || !old->base)
		return NULL;
	h = old->base;
	b = (const struct shm_backend *)((const char *)old->base +
	                                 h->backends_off);
	sv = shm_backends_servers(old);
	for (i = 0; i < h->n_backends; i++) {
		if (strcmp(b[i].name, backend) != 0)
			continue;
		for (j = 0; j < b[i].n_servers; j++)
			if (strcmp(sv[b[i].first_server + j].name, name) == 0)
				return &sv[b[i].first_server + j];
	}
	return NULL;
}

static void
fill(void *base, const struct config *cfg, const struct backends_area *old)
{
	struct shm_backends_header *h = base;
	struct shm_backend *b =
	        (struct shm_backend *)((char *)base + h->backends_off);
	struct shm_server *sv =
	        (struct shm_server *)((char *)base + h->servers_off);
	const struct config_backend *cb;
	const struct config_server *cs;
	const struct shm_server *was;
	unsigned i, j, at = 0;

	/* a backend's server lines all sit in its one section, so the
	 * config's server indexes are already backend by backend: area
	 * index == config index, which the workers rely on */
	for (i = 0; i < cfg->n_backends; i++) {
		cb = &cfg->backends[i];
		snprintf(b[i].name, sizeof(b[i].name), "%s", cb->name);
		snprintf(b[i].check, sizeof(b[i].check), "%s", cb->check);
		b[i].balance = cb->balance;
		b[i].first_server = at;
		b[i].n_servers = cb->n_servers;
		for (j = 0; j < cb->n_servers; j++, at++) {
			cs = &cfg->servers[cb->server[j]];
			snprintf(sv[at].name, sizeof(sv[at].name), "%s",
			         cs->name);
			sv[at].backend = i;
			sv[at].weight = cs->weight;
			sv[at].max_conns = cs->max_conns;
			sv[at].backup = (uint32_t)cs->backup;
			if ((was = old_server(old, cb->name, cs->name))) {
				sv[at].state = was->state;
				sv[at].result = was->result;
				sv[at].last_status = was->last_status;
				sv[at].last_check = was->last_check;
				sv[at].last_change = was->last_change;
				sv[at].changes = was->changes;
			}
		}
	}
}

int
shm_backends_publish(struct backends_area *a, const char *shm_path,
                     const struct config *cfg, unsigned n_rows,
                     unsigned generation, gid_t gid,
                     const struct backends_area *old, char *err, size_t errlen)
{
	struct shm_backends_header probe = {0};
	char path[4200], tmp[4300];

	a->base = NULL;
	if (cfg->n_backends == 0) {
		shm_backends_remove(shm_path);
		return 0;
	}
	layout(&probe, cfg, n_rows);
	snprintf(path, sizeof(path), "%s%s", shm_path, SHM_BACKENDS_SUFFIX);
	a->size = probe.size;
	a->base =
	        shm_file_new(path, a->size, gid, tmp, sizeof(tmp), err, errlen);
	if (!a->base)
		return -1;
	memcpy(a->base, &probe, sizeof(probe));
	shm_backends_header(a)->generation = generation;
	fill(a->base, cfg, old);
	if (shm_file_commit(a->base, a->size, tmp, path, err, errlen) == 0)
		return 0;
	a->base = NULL;
	return -1;
}

struct shm_server_row *
shm_backends_row(const struct backends_area *a, unsigned row)
{
	const struct shm_backends_header *h = a->base;

	if (!a->base || row >= h->n_rows)
		return NULL;
	return (struct shm_server_row *)((char *)a->base + h->rows_off) +
	       (size_t)row * h->n_servers;
}

void
shm_backends_unmap(struct backends_area *a)
{
	if (a->base)
		munmap(a->base, a->size);
	a->base = NULL;
}

void
shm_backends_remove(const char *shm_path)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s%s", shm_path, SHM_BACKENDS_SUFFIX);
	unlink(path);
}
