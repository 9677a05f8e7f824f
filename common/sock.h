/*
 * Socket helpers shared by master and workers.
 */
#ifndef COMMON_SOCK_H
#define COMMON_SOCK_H

#include <stddef.h>
#include <sys/socket.h>

#define SOCK_ADDRSTRLEN 64

/* "127.0.0.1:80" / "[::1]:80" */
const char *sock_addr_str(const struct sockaddr *sa, char *out, size_t len);
/* Same without the port. */
const char *sock_ip_str(const struct sockaddr *sa, char *out, size_t len);
/* 1 if s is an IPv4 or IPv6 address literal (no brackets). */
int sock_is_ip_literal(const char *s);
/* The port of an AF_INET/AF_INET6 address, host order (0 otherwise). */
unsigned sock_port(const struct sockaddr *sa);
/* A non-blocking TCP socket connecting to sa; the fd, or -1 (errno). The
 * connect may still be in progress (EINPROGRESS is not an error). */
int sock_connect(const struct sockaddr *sa, socklen_t len);
/* The pending error of a socket after a non-blocking connect: 0 when
 * connected, EINPROGRESS/EALREADY when not yet, else the errno. */
int sock_connect_result(int fd);
/* A listening socket, close-on-exec, non-blocking; fd or -1 with err. */
int sock_listen(const struct sockaddr *sa, socklen_t len, int backlog,
                char *err, size_t errlen);

#endif
