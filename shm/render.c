/*
 * Rendering snapshots for people and programs: a table, JSON, and the
 * Prometheus text exposition format 0.0.4.  All of them walk the segment's
 * own counter descriptions, so a new counter shows up everywhere at once.
 */
#include "shm/shm.h"

#include <string.h>

static const char *const slot_state_names[] = {
        [SHM_SLOT_FREE] = "free",
        [SHM_SLOT_RUNNING] = "running",
        [SHM_SLOT_DRAINING] = "draining",
};

const char *
shm_slot_state_name(uint32_t state)
{
	if (state >= sizeof(slot_state_names) / sizeof(slot_state_names[0]))
		return "unknown";
	return slot_state_names[state];
}

static double
seconds_since(uint64_t now_ms, uint64_t then_ms)
{
	return now_ms > then_ms ? (double)(now_ms - then_ms) / 1000.0 : 0.0;
}

/* Counter names come from the file: print only the safe ones. */
static int
metric_name_ok(const char *name)
{
	if (!*name)
		return 0;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') || *name == '_' ||
		      (*name >= '0' && *name <= '9')))
			return 0;
	return 1;
}

static void
json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void
json_counters(const struct shm_view *v, const uint64_t *c, FILE *out)
{
	unsigned k;

	fputc('{', out);
	for (k = 0; k < v->h->n_counters; k++) {
		if (k)
			fputc(',', out);
		json_string(out, shm_view_desc(v, k)->name);
		fprintf(out, ":%llu", (unsigned long long)c[k]);
	}
	fputc('}', out);
}

void
shm_render_json(const struct shm_view *v, const struct shm_snapshot *s,
                FILE *out)
{
	unsigned i;

	fprintf(out,
	        "{\"generation\":%u,\"master\":{\"pid\":%lld,\"start_time\":"
	        "%llu,\"uptime_seconds\":%.0f,\"counters\":",
	        s->generation, (long long)s->master_pid,
	        (unsigned long long)s->start_time,
	        seconds_since(s->taken_at, s->start_time));
	json_counters(v, s->master, out);
	fputs("},\"totals\":", out);
	json_counters(v, s->totals, out);
	fputs(",\"workers\":[", out);
	for (i = 0; i < s->n_workers; i++) {
		const struct shm_worker_snap *w = &s->workers[i];

		fprintf(out,
		        "%s{\"slot\":%u,\"pid\":%d,\"state\":\"%s\","
		        "\"generation\":%u,\"uptime_seconds\":%.0f,"
		        "\"counters\":",
		        i ? "," : "", w->slot, (int)w->head.pid,
		        shm_slot_state_name(w->head.state), w->head.generation,
		        seconds_since(s->taken_at, w->head.start_time));
		json_counters(v, w->counters, out);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void
prom_help(FILE *out, const char *family, const struct shm_counter_desc *d)
{
	const char *h;

	fprintf(out, "# HELP %s ", family);
	for (h = d->help; *h; h++) {
		if (*h == '\\')
			fputs("\\\\", out);
		else if (*h == '\n')
			fputs("\\n", out);
		else
			fputc(*h, out);
	}
	fprintf(out, "\n# TYPE %s %s\n", family,
	        d->kind == SHM_KIND_GAUGE ? "gauge" : "counter");
}

/* Totals are one family per counter; the per-worker series are a second
 * family (proxyd_worker_*) so that sum() over either never counts twice. */
void
shm_render_prometheus(const struct shm_view *v, const struct shm_snapshot *s,
                      FILE *out)
{
	const struct shm_counter_desc *d;
	char family[SHM_NAME_MAX + 32];
	const char *suffix;
	unsigned k, i;

	for (k = 0; k < s->n_counters; k++) {
		d = shm_view_desc(v, k);
		if (!metric_name_ok(d->name))
			continue;
		suffix = d->kind == SHM_KIND_GAUGE ? "" : "_total";
		snprintf(family, sizeof(family), "proxyd_%s%s", d->name,
		         suffix);
		prom_help(out, family, d);
		fprintf(out, "%s %llu\n", family,
		        (unsigned long long)s->totals[k]);
		snprintf(family, sizeof(family), "proxyd_worker_%s%s", d->name,
		         suffix);
		prom_help(out, family, d);
		for (i = 0; i < s->n_workers; i++)
			fprintf(out, "%s{worker=\"%u\"} %llu\n", family,
			        s->workers[i].slot,
			        (unsigned long long)s->workers[i].counters[k]);
	}
}

static void
rate(FILE *out, const struct shm_counter_desc *d, uint64_t now, uint64_t before,
     double dt)
{
	if (d->kind == SHM_KIND_GAUGE || dt <= 0 || now < before)
		fprintf(out, " %12s\n", "-");
	else
		fprintf(out, " %12.1f\n", (double)(now - before) / dt);
}

void
shm_render_table(const struct shm_view *v, const struct shm_snapshot *s,
                 const struct shm_snapshot *prev, FILE *out)
{
	double up = seconds_since(s->taken_at, s->start_time), dt;
	unsigned k;

	dt = prev ? seconds_since(s->taken_at, prev->taken_at) : up;
	fprintf(out, "proxyd pid %lld, up %.0fs, generation %u, %u workers\n",
	        (long long)s->master_pid, up, s->generation, s->n_workers);
	fprintf(out, "%-28s %14s %12s\n", "counter", "value",
	        prev ? "per second" : "avg/s");
	for (k = 0; k < s->n_counters; k++) {
		const struct shm_counter_desc *d = shm_view_desc(v, k);

		fprintf(out, "%-28.28s %14llu", d->name,
		        (unsigned long long)s->totals[k]);
		rate(out, d, s->totals[k], prev ? prev->totals[k] : 0, dt);
	}
}

/* Index of a counter by name, or -1 (the table is the segment's own). */
static int
counter_index(const struct shm_snapshot *s, const struct shm_view *v,
              const char *name)
{
	unsigned k;

	for (k = 0; k < s->n_counters; k++)
		if (strcmp(shm_view_desc(v, k)->name, name) == 0)
			return (int)k;
	return -1;
}

void
shm_render_workers(const struct shm_view *v, const struct shm_snapshot *s,
                   FILE *out)
{
	int active = counter_index(s, v, "conn_active");
	int requests = counter_index(s, v, "requests");
	unsigned i;

	fprintf(out, "%-5s %-8s %-9s %4s %10s %8s %12s\n", "slot", "pid",
	        "state", "gen", "uptime", "active", "requests");
	for (i = 0; i < s->n_workers; i++) {
		const struct shm_worker_snap *w = &s->workers[i];

		fprintf(out, "%-5u %-8d %-9s %4u %9.0fs %8llu %12llu\n",
		        w->slot, (int)w->head.pid,
		        shm_slot_state_name(w->head.state), w->head.generation,
		        seconds_since(s->taken_at, w->head.start_time),
		        active < 0 ? 0ULL
		                   : (unsigned long long)w->counters[active],
		        requests < 0
		                ? 0ULL
		                : (unsigned long long)w->counters[requests]);
	}
}
