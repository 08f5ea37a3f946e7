/* Network reach: socket families beyond AF_UNIX (raw/packet sockets for
 * spoofing and sniffing, netlink for the kernel's routing/netfilter
 * surface — e.g. CVE-2022-1015 nf_tables, CVE-2023-32233 —, vsock to the
 * hypervisor, AF_ALG/AF_XDP/... kernel attack surface), a TCP connection
 * to a server the harness runs on the host's 127.0.0.1, and an abstract
 * unix socket the harness listens on in the host's network namespace.
 *   sockets PORT ABSTRACT_NAME [loopback]
 * With "loopback" (a lease with network "loopback"), AF_INET/AF_INET6 are
 * allowed but live in the sandbox's own network namespace: the host's
 * 127.0.0.1:PORT must stay unreachable. */
#include "probe.h"

#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

static void try_socket(const char *attempt, int fam, int type, int proto, const char *what)
{
	int fd = socket(fam, type | SOCK_CLOEXEC, proto);
	if (fd >= 0) {
		note("ESCAPED", attempt, "socket(%s) succeeded", what);
		close(fd);
	} else
		expect_fail(attempt, -1, what);
}

int main(int argc, char **argv)
{
	bool loopback = argc > 3 && strcmp(argv[3], "loopback") == 0;
	int port = argc > 1 ? atoi(argv[1]) : 0;
	const char *abstract = argc > 2 ? argv[2] : "calyx-adv-host";

	probe_init("sockets");
	if (!loopback) {
		try_socket("inet-stream", AF_INET, SOCK_STREAM, 0, "AF_INET, SOCK_STREAM");
		try_socket("inet-dgram", AF_INET, SOCK_DGRAM, 0, "AF_INET, SOCK_DGRAM");
		try_socket("inet6-stream", AF_INET6, SOCK_STREAM, 0, "AF_INET6, SOCK_STREAM");
	}
	try_socket("inet-raw", AF_INET, SOCK_RAW, IPPROTO_RAW, "AF_INET, SOCK_RAW");
	try_socket("inet-icmp", AF_INET, SOCK_DGRAM, IPPROTO_ICMP, "AF_INET, SOCK_DGRAM, ICMP") ;
	try_socket("inet6-raw", AF_INET6, SOCK_RAW, IPPROTO_RAW, "AF_INET6, SOCK_RAW");
	try_socket("netlink-route", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "AF_NETLINK, NETLINK_ROUTE");
	try_socket("netlink-netfilter", AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER,
		   "AF_NETLINK, NETLINK_NETFILTER");
	try_socket("netlink-audit", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, "AF_NETLINK, NETLINK_AUDIT");
	try_socket("packet", AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), "AF_PACKET, SOCK_RAW");
	try_socket("vsock", AF_VSOCK, SOCK_STREAM, 0, "AF_VSOCK, SOCK_STREAM");
	try_socket("alg", AF_ALG, SOCK_SEQPACKET, 0, "AF_ALG");
	try_socket("xdp", AF_XDP, SOCK_RAW, 0, "AF_XDP");
	try_socket("key", AF_KEY, SOCK_RAW, 2, "AF_KEY");
	try_socket("bluetooth", AF_BLUETOOTH, SOCK_RAW, 0, "AF_BLUETOOTH");
	try_socket("tipc", AF_TIPC, SOCK_RDM, 0, "AF_TIPC");
	try_socket("rds", AF_RDS, SOCK_SEQPACKET, 0, "AF_RDS");

	/* socketpair() is a syscall of its own: it must not create sockets of
	 * the refused families either (the family's create code would run). */
	{
		static const struct { const char *name; int fam, type; } sp[] = {
			{ "socketpair-inet", AF_INET, SOCK_STREAM },
			{ "socketpair-netlink", AF_NETLINK, SOCK_RAW },
			{ "socketpair-packet", AF_PACKET, SOCK_RAW },
			{ "socketpair-tipc", AF_TIPC, SOCK_RDM },
			{ "socketpair-vsock", AF_VSOCK, SOCK_STREAM },
		};
		for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++) {
			int sv[2];
			if (loopback && sp[i].fam == AF_INET)
				continue;
			if (socketpair(sp[i].fam, sp[i].type | SOCK_CLOEXEC, 0, sv) == 0) {
				note("ESCAPED", sp[i].name, "socketpair succeeded");
				close(sv[0]);
				close(sv[1]);
			} else if (errno == EAFNOSUPPORT || errno == EPERM || errno == EACCES)
				note("DENIED", sp[i].name, "socketpair: %s", strerror(errno));
			else
				note("INFO", sp[i].name,
				     "socketpair: %s (errno %d): not filtered; the kernel created and released a socket of this family",
				     strerror(errno), errno);
		}
	}

	/* TCP to the host's 127.0.0.1:PORT. */
	if (port > 0) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			expect_fail("tcp-host", -1, "socket(AF_INET) for the host connection");
		else {
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			char what[64];
			snprintf(what, sizeof(what), "connect(127.0.0.1:%d)", port);
			expect_fail("tcp-host", connect(fd, (struct sockaddr *)&a, sizeof(a)), what);
			close(fd);
		}
	} else
		note("ERROR", "tcp-host", "no port given");

	/* Abstract unix socket of the host. */
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		size_t n = strlen(abstract);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || n + 1 > sizeof(a.sun_path))
			note("ERROR", "abstract-host", "socket(AF_UNIX): %s", strerror(errno));
		else {
			char what[160];
			memcpy(a.sun_path + 1, abstract, n);
			snprintf(what, sizeof(what), "connect(@%s)", abstract);
			expect_fail("abstract-host",
				    connect(fd, (struct sockaddr *)&a,
					    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)),
				    what);
			close(fd);
		}
	}
	probe_done();
}
