/*
 * `proxyctl backends [--json]`: the reverse-proxy backends read back from
 * the backends area next to the segment: per server its state, weight,
 * requests in flight, requests, failures, the last health check, summed
 * over the workers.
 */
#include "ctl/ctl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/config_reverse.h"
#include "shm/backends.h"

/* up, down, backup (up, waiting for the others to fail), or draining
 * (down, still finishing requests). */
static const char *
state_name(const struct shm_server *sv, const struct shm_server_row *sum)
{
	if (sv->state != SHM_SERVER_UP)
		return sum->active ? "draining" : "down";
	return sv->backup ? "backup" : "up";
}

static void
last_check(const struct shm_server *sv, char *buf, size_t n)
{
	const char *r = shm_check_result_name(sv->result);
	long ago;

	if (sv->result == 0 || sv->last_check == 0) {
		snprintf(buf, n, "%s", r);
		return;
	}
	ago = (long)(time(NULL) - (time_t)(sv->last_check / 1000));
	if (sv->last_status)
		snprintf(buf, n, "%s %u, %llums, %lds ago", r, sv->last_status,
		         (unsigned long long)sv->check_ms, ago < 0 ? 0 : ago);
	else
		snprintf(buf, n, "%s, %lds ago", r, ago < 0 ? 0 : ago);
}

static void
print_table(const struct shm_backends_view *v)
{
	struct shm_server_row sum;
	char check[96];
	unsigned i, j;

	printf("%-16s %-10s %-24s %-8s %6s %6s %10s %8s %7s  %s\n", "backend",
	       "balance", "server", "state", "weight", "active", "requests",
	       "failures", "retries", "last check");
	for (i = 0; i < v->h->n_backends; i++) {
		const struct shm_backend *b = shm_backends_view_backend(v, i);

		for (j = 0; j < b->n_servers; j++) {
			const struct shm_server *sv = shm_backends_view_server(
			        v, b->first_server + j);

			shm_backends_view_sum(v, b->first_server + j, &sum);
			last_check(sv, check, sizeof(check));
			printf("%-16.63s %-10s %-24.127s %-8s %6u %6llu %10llu "
			       "%8llu %7llu  %s\n",
			       b->name,
			       config_balance_name((enum balance)b->balance),
			       sv->name, state_name(sv, &sum), sv->weight,
			       (unsigned long long)sum.active,
			       (unsigned long long)sum.requests,
			       (unsigned long long)sum.failures,
			       (unsigned long long)sum.retries, check);
		}
	}
}

static void
print_json(const struct shm_backends_view *v)
{
	struct shm_server_row sum;
	unsigned i, j;

	printf("{\"generation\":%u,\"checker_pid\":%lld,\"backends\":[",
	       v->h->generation, (long long)v->h->checker_pid);
	for (i = 0; i < v->h->n_backends; i++) {
		const struct shm_backend *b = shm_backends_view_backend(v, i);

		/* names come from proxyd.ini: no quotes, no controls */
		printf("%s{\"name\":\"%s\",\"balance\":\"%s\",\"check\":\"%s\","
		       "\"servers\":[",
		       i ? "," : "", b->name,
		       config_balance_name((enum balance)b->balance), b->check);
		for (j = 0; j < b->n_servers; j++) {
			const struct shm_server *sv = shm_backends_view_server(
			        v, b->first_server + j);

			shm_backends_view_sum(v, b->first_server + j, &sum);
			printf("%s{\"server\":\"%s\",\"state\":\"%s\","
			       "\"backup\":%s,\"weight\":%u,\"max_conns\":%u,"
			       "\"active\":%llu,\"requests\":%llu,"
			       "\"failures\":%llu,\"retries\":%llu,"
			       "\"last_check\":{\"result\":\"%s\","
			       "\"status\":%u,\"ms\":%llu,\"at\":%llu},"
			       "\"changes\":%llu}",
			       j ? "," : "", sv->name, state_name(sv, &sum),
			       sv->backup ? "true" : "false", sv->weight,
			       sv->max_conns, (unsigned long long)sum.active,
			       (unsigned long long)sum.requests,
			       (unsigned long long)sum.failures,
			       (unsigned long long)sum.retries,
			       shm_check_result_name(sv->result),
			       sv->last_status,
			       (unsigned long long)sv->check_ms,
			       (unsigned long long)sv->last_check,
			       (unsigned long long)sv->changes);
		}
		printf("]}");
	}
	printf("]}\n");
}

int
ctl_backends(const char *shm_path, int json)
{
	struct shm_backends_view v;
	char err[4400];
	int rc = shm_backends_attach(&v, shm_path, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "proxyctl: %s\n", err);
		return 1;
	}
	if (rc > 0) {
		printf("no backends configured\n");
		return 0;
	}
	if (json)
		print_json(&v);
	else
		print_table(&v);
	shm_backends_detach(&v);
	return 0;
}
