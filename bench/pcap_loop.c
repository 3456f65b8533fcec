/*
 * pcap_loop.c - the physical limit: a bare libpcap loop that reads every
 * packet of the captures named and touches each one's length, nothing
 * more. bench/run.py times offport against it on the same input.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	uint64_t packets = 0, bytes = 0;
	unsigned first = 0; /* XOR of first bytes, so the data is really read */
	for (int i = 1; i < argc; i++) {
		pcap_t *p = pcap_open_offline(argv[i], err);
		if (!p) {
			fprintf(stderr, "pcap_loop: %s\n", err);
			return 1;
		}
		struct pcap_pkthdr *h;
		const u_char *d;
		while (pcap_next_ex(p, &h, &d) == 1) {
			packets++;
			bytes += h->len;
			if (h->caplen)
				first ^= d[0];
		}
		pcap_close(p);
	}
	printf("%" PRIu64 " packets, %" PRIu64 " bytes (%02x)\n", packets, bytes, first);
	return 0;
}
