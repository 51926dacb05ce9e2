// tapfwd: the reference TAP<->TAP forwarder every podwire throughput target
// is measured against. It does the least possible work — poll, read, write —
// so the gap between it and podwire is podwire's overhead, not the kernel's.
//
// usage: tapfwd [--no-offload] TAP_A TAP_B
// Creates both TAPs (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, vnet header 10 bytes),
// prints "ready" on stdout, then forwards every frame, header included, until
// SIGTERM/SIGINT; then it prints per-direction frame and drop counts on
// stderr. The TAPs disappear when the process exits.
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VNET_HDR_LEN 10
#define BATCH 64 // frames per fd per wakeup, so one busy side cannot starve the other

static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }

static int open_tap(const char *name, int offloads) {
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) { perror("open /dev/net/tun"); exit(1); }
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) { fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno)); exit(1); }
	int hdr = VNET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) { perror("TUNSETVNETHDRSZ"); exit(1); }
	unsigned long off = offloads ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
	if (ioctl(fd, TUNSETOFFLOAD, off) < 0) { perror("TUNSETOFFLOAD"); exit(1); }
	return fd;
}

int main(int argc, char **argv) {
	int offloads = 1, a = 1;
	if (argc > 1 && strcmp(argv[1], "--no-offload") == 0) { offloads = 0; a = 2; }
	if (argc - a != 2) { fprintf(stderr, "usage: %s [--no-offload] TAP_A TAP_B\n", argv[0]); return 2; }
	signal(SIGPIPE, SIG_IGN);
	// No SA_RESTART: the signal must interrupt poll() so we can report and exit.
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int fd[2] = { open_tap(argv[a], offloads), open_tap(argv[a + 1], offloads) };
	printf("ready\n");
	fflush(stdout);

	// Room for a 64 KiB GSO super-frame plus the header.
	static unsigned char buf[VNET_HDR_LEN + 65536 + 1024];
	unsigned long long frames[2] = { 0, 0 }, drops[2] = { 0, 0 };
	struct pollfd p[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
	while (!stop) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) continue;
			perror("poll");
			return 1;
		}
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & POLLIN)) continue;
			for (int k = 0; k < BATCH; k++) {
				ssize_t n = read(fd[i], buf, sizeof buf);
				if (n < 0) {
					if (errno == EAGAIN || errno == EINTR) break;
					perror("read");
					return 1;
				}
				// A failed write is a drop, like a full NIC ring; keep going.
				if (write(fd[1 - i], buf, (size_t)n) != n) drops[i]++;
				else frames[i]++;
			}
		}
	}
	fprintf(stderr, "tapfwd: a->b %llu frames %llu drops, b->a %llu frames %llu drops\n",
	        frames[0], drops[0], frames[1], drops[1]);
	return 0;
}
