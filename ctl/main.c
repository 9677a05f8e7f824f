/*
 * proxyctl: reads proxyd's counters, workers and rules straight from the
 * shared-memory segment (never talking to the daemon), and signals the
 * master for reload and stop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "ctl/ctl.h"

#define DEFAULT_CONFIG PROXYD_SYSCONFDIR "/proxyd/proxyd.ini"

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: proxyctl [-s SHM_FILE | -c proxyd.ini] COMMAND\n"
	        "commands:\n"
	        "  stats [--json | --prometheus]  counters, totals and rates\n"
	        "  workers                        worker processes\n"
	        "  rules                          the rules the workers run\n"
	        "  backends [--json]              reverse-proxy servers, "
	        "health, load\n"
	        "  explain URL [--src IP] [--method M] [--sni NAME] [--dst "
	        "IP]\n"
	        "              [--user NAME]\n"
	        "                                 which rule decides, and why\n"
	        "  top [-1]                       live view (q quits)\n"
	        "  reload                         SIGHUP the master\n"
	        "  stop                           graceful stop (SIGQUIT)\n"
	        "default segment: shm_file of " DEFAULT_CONFIG "\n");
}

/* The segment path: -s, else -c's shm_file, else the default config's,
 * else the built-in default. */
static int
segment_path(const char *shm, const char *conf, char *out, size_t len)
{
	static struct config cfg;
	char err[1024];

	if (shm) {
		snprintf(out, len, "%s", shm);
		return 0;
	}
	if (conf && config_load(&cfg, conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "proxyctl: %s\n", err);
		return -1;
	}
	if (!conf && (access(DEFAULT_CONFIG, R_OK) != 0 ||
	              config_load(&cfg, DEFAULT_CONFIG, err, sizeof(err)) < 0))
		config_defaults(&cfg);
	snprintf(out, len, "%s", cfg.shm_file);
	return 0;
}

static int
run(const struct shm_view *v, const char *path, int argc, char **argv)
{
	const char *cmd = argv[0], *opt = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "stats") == 0)
		return ctl_stats(v, strcmp(opt, "--json") == 0 ? CTL_FORMAT_JSON
		                    : strcmp(opt, "--prometheus") == 0
		                            ? CTL_FORMAT_PROMETHEUS
		                            : CTL_FORMAT_TABLE);
	if (strcmp(cmd, "workers") == 0)
		return ctl_workers(v);
	if (strcmp(cmd, "rules") == 0)
		return ctl_rules(path);
	if (strcmp(cmd, "backends") == 0)
		return ctl_backends(path, strcmp(opt, "--json") == 0);
	if (strcmp(cmd, "explain") == 0)
		return ctl_explain(path, argc, argv);
	if (strcmp(cmd, "top") == 0)
		return ctl_top(v, strcmp(opt, "-1") == 0);
	if (strcmp(cmd, "reload") == 0)
		return ctl_signal_master(v, SIGHUP, "reload");
	if (strcmp(cmd, "stop") == 0)
		return ctl_signal_master(v, SIGQUIT, "stop");
	fprintf(stderr, "proxyctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}

static int
known_option(const char *cmd, const char *opt)
{
	static const char *const commands[] = {
	        "stats", "workers", "rules", "backends", "explain",
	        "top",   "reload",  "stop",  NULL,
	};
	const char *const *c;

	for (c = commands; *c && strcmp(*c, cmd) != 0; c++)
		;
	if (!*c) {
		fprintf(stderr, "proxyctl: unknown command '%s'\n", cmd);
		return 0;
	}
	if (!opt || strcmp(cmd, "explain") == 0)
		return 1; /* explain reads its own arguments */
	if (strcmp(cmd, "stats") == 0)
		return !strcmp(opt, "--json") || !strcmp(opt, "--prometheus");
	if (strcmp(cmd, "backends") == 0)
		return !strcmp(opt, "--json");
	if (strcmp(cmd, "top") == 0)
		return !strcmp(opt, "-1");
	return 0;
}

int
main(int argc, char **argv)
{
	const char *shm = NULL, *conf = NULL;
	char path[4096], err[4200];
	struct shm_view v;
	int c, rc;

	while ((c = getopt(argc, argv, "+s:c:hV")) != -1) {
		switch (c) {
		case 's':
			shm = optarg;
			break;
		case 'c':
			conf = optarg;
			break;
		case 'V':
			printf("proxyctl %s\n", PROXYD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (argc > 2 && strcmp(argv[0], "explain") != 0) ||
	    !known_option(argv[0], argv[1])) {
		usage(stderr);
		return 2;
	}
	if (segment_path(shm, conf, path, sizeof(path)) < 0)
		return 1;
	if (shm_attach(&v, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "proxyctl: %s\n", err);
		return 1;
	}
	if (!shm_master_alive(&v)) {
		fprintf(stderr,
		        "proxyctl: %s: left behind by a dead master (pid "
		        "%lld); "
		        "is proxyd running?\n",
		        path, (long long)v.h->master_pid);
		shm_detach(&v);
		return 1;
	}
	rc = run(&v, path, argc, argv);
	shm_detach(&v);
	return rc;
}
