/*
 * `proxyctl top`: the counter table with per-second rates, redrawn every
 * second with plain ANSI clear-screen (works over ssh, no curses), until
 * 'q' is typed or the segment goes away.
 */
#include "ctl/ctl.h"

#include <poll.h>
#include <stdio.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static int raw_on;

static void
raw_mode(int on)
{
	struct termios t;

	if (!isatty(STDIN_FILENO))
		return;
	if (on && tcgetattr(STDIN_FILENO, &saved) == 0) {
		t = saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		raw_on = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	} else if (!on && raw_on) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		raw_on = 0;
	}
}

/* Waits a second for a key; 1 if it was 'q' or the terminal went away.
 * Without a terminal (cron, ssh -n) there is no key to wait for: just
 * wait the second, so the view refreshes at its pace, never spinning. */
static int
quit_key(void)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	char c;

	if (!isatty(STDIN_FILENO)) {
		poll(NULL, 0, 1000);
		return 0;
	}
	if (poll(&p, 1, 1000) <= 0)
		return 0;
	if (read(STDIN_FILENO, &c, 1) <= 0)
		return 1;
	return c == 'q' || c == 'Q';
}

static void
draw(const struct shm_view *v, const struct shm_snapshot *s,
     const struct shm_snapshot *prev, int clear)
{
	if (clear)
		fputs("\033[H\033[2J", stdout);
	shm_render_table(v, s, prev, stdout);
	fputc('\n', stdout);
	shm_render_workers(v, s, stdout);
	if (clear)
		fputs("\n(q quits)\n", stdout);
	fflush(stdout);
}

int
ctl_top(const struct shm_view *v, int once)
{
	struct shm_snapshot prev = {0}, cur;
	int have_prev = 0;

	if (!once)
		raw_mode(1);
	for (;;) {
		if (shm_snapshot_take(v, &cur) < 0 || !shm_master_alive(v)) {
			raw_mode(0);
			fprintf(stderr, "proxyctl: proxyd went away\n");
			shm_snapshot_free(&prev);
			return 1;
		}
		draw(v, &cur, have_prev ? &prev : NULL, !once);
		shm_snapshot_free(&prev);
		prev = cur;
		have_prev = 1;
		if (once || quit_key())
			break;
	}
	shm_snapshot_free(&prev);
	raw_mode(0);
	return 0;
}
