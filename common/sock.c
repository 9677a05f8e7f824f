/*
 * Socket helpers: address formatting, non-blocking connect and listen.
 */
#include "common/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *
sock_ip_str(const struct sockaddr *sa, char *out, size_t len)
{
	const void *a;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (!inet_ntop(sa->sa_family, a, out, (socklen_t)len))
		snprintf(out, len, "?");
	return out;
}

int
sock_is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

unsigned
sock_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		                     ->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
		                     ->sin_port);
	return 0;
}

const char *
sock_addr_str(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	sock_ip_str(sa, ip, sizeof(ip));
	if (sa->sa_family == AF_INET6) {
		port = ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		                     ->sin6_port);
		snprintf(out, len, "[%s]:%u", ip, port);
	} else {
		port = ntohs(((const struct sockaddr_in *)(const void *)sa)
		                     ->sin_port);
		snprintf(out, len, "%s:%u", ip, port);
	}
	return out;
}

int
sock_connect(const struct sockaddr *sa, socklen_t len)
{
	int fd, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_connect_result(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return errno;
	if (err)
		return err;
	/* SO_ERROR is 0 while the handshake is still running too. */
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return errno == ENOTCONN ? EINPROGRESS : errno;
	return 0;
}

int
sock_listen(const struct sockaddr *sa, socklen_t len, int backlog, char *err,
            size_t errlen)
{
	char name[SOCK_ADDRSTRLEN];
	int fd, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		                 sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen on %s: %s",
	         sock_addr_str(sa, name, sizeof(name)), strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}
