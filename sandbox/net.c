/* Network namespace setup: the new namespace has only a loopback device,
 * down. It comes up only when the policy allows "loopback".
 * Trust: runs in init as root inside the sandbox's own net namespace. */
#include "internal.h"

#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

int sbx_loopback_up(cx_error *err)
{
	struct ifreq ifr;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return cx_err(err, CX_E_SPAWN, errno, "loopback: socket: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "loopback: get flags: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return cx_err(err, CX_E_SPAWN, errno, "loopback: up: %s", strerror(errno));
	return 0;
}
