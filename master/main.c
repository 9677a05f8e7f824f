/*
 * proxyd's entry point: command line, configuration check, start-up in
 * the order that reports every mistake on the terminal before detaching
 * (config, user, listeners, pid file), then the master loop.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "master/master.h"
#include "tls/tls.h"
#include "rules/rules.h"

#define DEFAULT_CONFIG PROXYD_SYSCONFDIR "/proxyd/proxyd.ini"

static void
usage(FILE *f)
{
	fprintf(f, "usage: proxyd [-c FILE] [-t] [-f] [-V]\n"
	           "  -c FILE  configuration (default " DEFAULT_CONFIG ")\n"
	           "  -t       check the configuration and exit (0 = valid)\n"
	           "  -f       stay in the foreground, log to stderr\n"
	           "  -V       print the version and exit\n");
}

struct options {
	const char *config;
	int test;
	int foreground;
};

static int
parse_args(int argc, char **argv, struct options *o)
{
	int c;

	o->config = DEFAULT_CONFIG;
	while ((c = getopt(argc, argv, "c:tfVh")) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->test = 1;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'V':
			printf("proxyd %s\n", PROXYD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Everything that can fail for a reason the user must fix, while the
 * terminal is still there to say so. */
static int
start(struct config *cfg, const struct options *o, int *fds, uid_t *uid,
      gid_t *gid, struct shm_segment *shm)
{
	char err[1024];

	if (master_lookup_user(cfg, uid, gid, err, sizeof(err)) < 0 ||
	    master_listeners_bind(cfg, fds, err, sizeof(err)) < 0 ||
	    shm_create(shm, cfg->shm_file, MASTER_MAX_SLOTS,
	               master_shm_group(cfg), err, sizeof(err)) < 0)
		goto fail;
	master_fit_nofile(cfg);
	master_prepare_logs(cfg, *uid, *gid, o->foreground);
	if (!o->foreground && (log_open(cfg->error_log, err, sizeof(err)) < 0 ||
	                       master_daemonize(err, sizeof(err)) < 0))
		goto fail;
	if (master_pidfile_write(cfg->pid_file, err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	log_error("%s", err);
	shm_destroy(shm);
	return -1;
}

int
main(int argc, char **argv)
{
	struct config *cfg;
	struct rules *rules = NULL;
	struct tls_set *tls = NULL;
	struct options o = {0};
	char err[1024];
	int fds[CONFIG_MAX_LISTENS], rc;
	struct shm_segment shm = {0};
	uid_t uid;
	gid_t gid;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_set_role("master");
	if (!(cfg = calloc(1, sizeof(*cfg))) ||
	    config_load(cfg, o.config, err, sizeof(err)) < 0) {
		fprintf(stderr, "proxyd: %s\n", cfg ? err : strerror(errno));
		free(cfg);
		return 1;
	}
	if (o.test) {
		rc = master_load_policy(cfg, &rules, &tls, err, sizeof(err));
		if (rc == 0)
			rc = master_lookup_user(cfg, &uid, &gid, err,
			                        sizeof(err));
		rules_free(rules);
		tls_free(tls);
		if (rc < 0)
			fprintf(stderr, "proxyd: %s\n", err);
		else
			printf("proxyd: %s: configuration is valid\n",
			       o.config);
		free(cfg);
		return rc < 0 ? 1 : 0;
	}
	log_set_level(cfg->log_level);
	if (master_load_policy(cfg, &rules, &tls, err, sizeof(err)) < 0) {
		fprintf(stderr, "proxyd: %s\n", err);
		free(cfg);
		return 1;
	}
	if (start(cfg, &o, fds, &uid, &gid, &shm) < 0) {
		rules_free(rules);
		tls_free(tls);
		free(cfg);
		return 1;
	}
	log_info("proxyd %s started: %u workers, %u listeners", PROXYD_VERSION,
	         cfg->workers, cfg->n_listens);
	return master_run(cfg, rules, tls, fds, uid, gid, &shm, o.foreground);
}
