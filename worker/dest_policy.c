/*
 * Destinations a forward proxy refuses whatever the rules say: cloud
 * metadata services (which hand out credentials to anything on the host),
 * link-local and unspecified addresses, this host's loopback unless the
 * listener allows it (services bound to 127.0.0.1 trust their callers);
 * and CONNECT ports not listed.
 */
#include "worker/session.h"

#include <netinet/in.h>
#include <string.h>

static int
v4_allowed(uint32_t a)
{
	if ((a >> 16) == 0xa9fe) /* 169.254.0.0/16, metadata included */
		return 0;
	if ((a >> 24) == 0) /* 0.0.0.0/8 */
		return 0;
	if (a == 0x646464c8U) /* 100.100.100.200 (Alibaba Cloud) */
		return 0;
	return 1;
}

static int
v6_allowed(const struct in6_addr *a)
{
	/* fd00:ec2::254, AWS's IPv6 instance metadata service */
	static const uint8_t ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0,
	                                0,    0,    0,    0,    0, 0,
	                                0,    0,    0x02, 0x54};
	uint32_t v4;

	if (IN6_IS_ADDR_V4MAPPED(a)) {
		memcpy(&v4, &a->s6_addr[12], 4);
		return v4_allowed(ntohl(v4));
	}
	if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_UNSPECIFIED(a))
		return 0;
	return memcmp(a->s6_addr, ec2, sizeof(ec2)) != 0;
}

static int
loopback(const struct sockaddr *sa)
{
	const struct in6_addr *a6;
	uint32_t v4;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)
		                      ->sin_addr.s_addr) >>
		        24) == 127;
	a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(&v4, &a6->s6_addr[12], 4);
		return (ntohl(v4) >> 24) == 127;
	}
	return IN6_IS_ADDR_LOOPBACK(a6);
}

int
dest_policy_allowed(const struct config_listen *l, const struct sockaddr *sa)
{
	if ((sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    loopback(sa) && !l->allow_loopback)
		return 0;
	if (sa->sa_family == AF_INET)
		return v4_allowed(
		        ntohl(((const struct sockaddr_in *)(const void *)sa)
		                      ->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_allowed(
		        &((const struct sockaddr_in6 *)(const void *)sa)
		                 ->sin6_addr);
	return 0;
}

int
dest_policy_port_allowed(const struct config_listen *l, uint16_t port)
{
	unsigned i;

	for (i = 0; i < l->n_connect_ports; i++)
		if (l->connect_ports[i] == port)
			return 1;
	return 0;
}
