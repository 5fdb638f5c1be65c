/* The interfaces, addresses and routes a program sees, through the libc
 * calls that ask route netlink (getifaddrs, if_nameindex, if_nametoindex)
 * and through raw NETLINK_ROUTE dumps; then the netlink errors a program
 * can meet. Run by tests/integration/netlink.py natively in a network
 * namespace made to look like mote's network and under mote, outputs
 * compared. Prints nothing that differs between two such hosts (MAC
 * addresses, counters, interface indexes: those are checked against each
 * other instead). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h, which clashes with net/if.h */
#endif

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL %s\n", what);
        failures++;
    }
}

static const char *ip4(const void *p, char *buf)
{
    return inet_ntop(AF_INET, p, buf, INET_ADDRSTRLEN);
}

/* Which index has this name: if_nametoindex, and -1 for none. */
static int index_of(const char *name)
{
    unsigned i = if_nametoindex(name);
    return i ? (int)i : -1;
}

static void list_ifaddrs(void)
{
    struct ifaddrs *ifa, *p;
    if (getifaddrs(&ifa) != 0) {
        printf("getifaddrs: %s\n", strerror(errno));
        return;
    }
    for (p = ifa; p; p = p->ifa_next) {
        char a[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
        unsigned flags = p->ifa_flags & (IFF_UP | IFF_BROADCAST | IFF_LOOPBACK | IFF_RUNNING |
                                         IFF_MULTICAST);
        if (!p->ifa_addr) {
            printf("ifaddr %s (no address) flags %#x\n", p->ifa_name, flags);
            continue;
        }
        int family = p->ifa_addr->sa_family;
        if (family == AF_INET) {
            const struct sockaddr_in *sa = (const void *)p->ifa_addr;
            const struct sockaddr_in *nm = (const void *)p->ifa_netmask;
            printf("ifaddr %s inet %s netmask %s", p->ifa_name, ip4(&sa->sin_addr, a),
                   nm ? ip4(&nm->sin_addr, m) : "-");
            if ((p->ifa_flags & IFF_BROADCAST) && p->ifa_broadaddr)
                printf(" broadcast %s",
                       ip4(&((const struct sockaddr_in *)(const void *)p->ifa_broadaddr)->sin_addr, b));
            printf(" flags %#x\n", flags);
        } else if (family == AF_PACKET) {
            /* The link: its flags; the MAC and counters differ between hosts. */
            printf("ifaddr %s packet flags %#x data %s\n", p->ifa_name, flags,
                   p->ifa_data ? "yes" : "no");
        }
        /* AF_INET6: mote has no IPv6 addresses; the namespace's are
           turned off by the test (disable_ipv6), so none are listed. */
        else if (family == AF_INET6)
            printf("ifaddr %s inet6\n", p->ifa_name);
    }
    freeifaddrs(ifa);
}

static void list_nameindex(void)
{
    struct if_nameindex *ni = if_nameindex(), *p;
    if (!ni) {
        printf("if_nameindex: %s\n", strerror(errno));
        return;
    }
    for (p = ni; p->if_index; ++p) {
        char name[IF_NAMESIZE];
        check(if_indextoname(p->if_index, name) && strcmp(name, p->if_name) == 0,
              "if_indextoname agrees with if_nameindex");
        check(index_of(p->if_name) == (int)p->if_index, "if_nametoindex agrees with if_nameindex");
        printf("nameindex %s%s\n", p->if_name, p->if_index == 1 ? " (index 1)" : "");
    }
    if_freenameindex(ni);
    errno = 0;
    check(if_nametoindex("nosuch0") == 0 && errno == ENODEV, "if_nametoindex(nosuch0) is ENODEV");
}

/* One request on a fresh socket; the answers into buf (several datagrams
   until NLMSG_DONE or an error), returning their total length. */
static int request(int fd, int type, int flags, const void *body, int body_len, char *buf,
                   int cap, unsigned seq)
{
    struct {
        struct nlmsghdr h;
        char body[64];
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = NLMSG_LENGTH(body_len);
    req.h.nlmsg_type = type;
    req.h.nlmsg_flags = NLM_F_REQUEST | flags;
    req.h.nlmsg_seq = seq;
    memcpy(req.body, body, body_len);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        printf("sendto: %s\n", strerror(errno));
        return -1;
    }
    int total = 0;
    for (;;) {
        struct sockaddr_nl from;
        socklen_t fl = sizeof from;
        int n = recvfrom(fd, buf + total, cap - total, 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            printf("recvfrom: %s\n", strerror(errno));
            return -1;
        }
        check(fl == sizeof from && from.nl_family == AF_NETLINK && from.nl_pid == 0,
              "answers come from the kernel (nl_pid 0)");
        struct nlmsghdr *h = (struct nlmsghdr *)(buf + total);
        int left = n, done = 0;
        for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            check(h->nlmsg_seq == seq, "answers carry the request's sequence number");
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = 1;
            if (!(h->nlmsg_flags & NLM_F_MULTI)) done = 1;
        }
        check(left == 0, "datagrams hold whole messages");
        total += n;
        if (done) return total;
    }
}

static void dump_routes(int fd)
{
    static char buf[65536];
    struct rtmsg rt = {.rtm_family = AF_INET};
    int n = request(fd, RTM_GETROUTE, NLM_F_DUMP, &rt, sizeof rt, buf, sizeof buf, 7);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    for (; n > 0 && NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE) {
            printf("route dump done\n");
            break;
        }
        if (h->nlmsg_type != RTM_NEWROUTE) {
            printf("route: message type %d\n", h->nlmsg_type);
            continue;
        }
        struct rtmsg *r = NLMSG_DATA(h);
        if (r->rtm_family != AF_INET) continue;
        char dst[INET_ADDRSTRLEN] = "default", gw[INET_ADDRSTRLEN] = "", src[INET_ADDRSTRLEN] = "";
        char dev[IF_NAMESIZE] = "?";
        unsigned table = r->rtm_table;
        struct rtattr *a = RTM_RTA(r);
        int alen = RTM_PAYLOAD(h);
        for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            switch (a->rta_type) {
            case RTA_DST: ip4(RTA_DATA(a), dst); break;
            case RTA_GATEWAY: ip4(RTA_DATA(a), gw); break;
            case RTA_PREFSRC: ip4(RTA_DATA(a), src); break;
            case RTA_OIF: if_indextoname(*(unsigned *)RTA_DATA(a), dev); break;
            case RTA_TABLE: table = *(unsigned *)RTA_DATA(a); break;
            }
        }
        printf("route table %u type %u proto %u scope %u %s/%u%s%s dev %s%s%s\n", table,
               r->rtm_type, r->rtm_protocol, r->rtm_scope, dst, r->rtm_dst_len,
               gw[0] ? " via " : "", gw, dev, src[0] ? " src " : "", src);
    }
}

/* The link dump by hand: names, types, flags, MTU, and the address length. */
static void dump_links(int fd)
{
    static char buf[65536];
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    int n = request(fd, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi, buf, sizeof buf, 5);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    for (; n > 0 && NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE) {
            printf("link dump done\n");
            break;
        }
        if (h->nlmsg_type != RTM_NEWLINK) continue;
        struct ifinfomsg *i = NLMSG_DATA(h);
        const char *name = "?";
        unsigned mtu = 0;
        int addr_len = -1;
        struct rtattr *a = IFLA_RTA(i);
        int alen = IFLA_PAYLOAD(h);
        for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type == IFLA_IFNAME) name = RTA_DATA(a);
            if (a->rta_type == IFLA_MTU) mtu = *(unsigned *)RTA_DATA(a);
            if (a->rta_type == IFLA_ADDRESS) addr_len = RTA_PAYLOAD(a);
        }
        check(i->ifi_index == index_of(name), "the link's index is if_nametoindex's");
        printf("link %s type %u flags %#x mtu %u address bytes %d\n", name, i->ifi_type,
               i->ifi_flags & (IFF_UP | IFF_BROADCAST | IFF_LOOPBACK | IFF_RUNNING |
                               IFF_MULTICAST | IFF_LOWER_UP),
               mtu, addr_len);
    }
}

/* The error answer to a request: NLMSG_ERROR's errno, or 0 for an ack. */
static int error_of(int fd, int type, int flags, const void *body, int body_len)
{
    char buf[4096];
    int n = request(fd, type, flags, body, body_len, buf, sizeof buf, 9);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n <= 0 || !NLMSG_OK(h, n) || h->nlmsg_type != NLMSG_ERROR) return 1000;
    struct nlmsgerr *e = NLMSG_DATA(h);
    check(e->msg.nlmsg_type == type && e->msg.nlmsg_seq == 9, "the error quotes the request");
    return -e->error;
}

static void errors(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = 9999};
    printf("get link 9999: %s\n", strerror(error_of(fd, RTM_GETLINK, 0, &ifi, sizeof ifi)));
    ifi.ifi_index = index_of("lo");
    char buf[4096];
    int n = request(fd, RTM_GETLINK, 0, &ifi, sizeof ifi, buf, sizeof buf, 11);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    check(n > 0 && h->nlmsg_type == RTM_NEWLINK && !(h->nlmsg_flags & NLM_F_MULTI),
          "get link lo: one RTM_NEWLINK");
    /* An acknowledged no-op: a message below NLMSG_MIN_TYPE. */
    printf("noop with ack: %s\n", strerror(error_of(fd, NLMSG_NOOP, NLM_F_ACK, "", 0)));
    /* 98: a "get" with no handler (96 is RTM_NEWCACHEREPORT, alone). */
    printf("unknown type 98: %s\n", strerror(error_of(fd, 98, 0, "\0\0\0", 4)));
    /* A request without even the family byte is ignored, but acked. */
    printf("empty get link with ack: %s\n", strerror(error_of(fd, RTM_GETLINK, NLM_F_ACK, "", 0)));

    close(fd);

    /* Unbound: port 0; after the first send (autobind) a port of its own. */
    fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE);
    struct sockaddr_nl me;
    socklen_t ml = sizeof me;
    check(getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && me.nl_pid == 0,
          "an unbound socket's port is 0");
    struct sockaddr_nl want = {.nl_family = AF_NETLINK};
    check(bind(fd, (struct sockaddr *)&want, sizeof want) == 0, "bind to port 0");
    ml = sizeof me;
    check(getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && me.nl_pid != 0,
          "a bound socket has a port");
    int fd2 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    want.nl_pid = me.nl_pid;
    check(bind(fd2, (struct sockaddr *)&want, sizeof want) < 0 && errno == EADDRINUSE,
          "a port in use: EADDRINUSE");
    /* Nothing queued: a non-blocking read is EAGAIN. */
    check(recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == EAGAIN, "empty: EAGAIN");
    /* A short buffer: the datagram is cut (MSG_TRUNC) and dropped. */
    struct ifinfomsg all = {.ifi_family = AF_UNSPEC};
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } req = {{NLMSG_LENGTH(sizeof all), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 3, 0}, all};
    check(send(fd, &req, sizeof req, 0) == sizeof req, "send a link dump request");
    struct iovec iov = {buf, 20};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    n = recvmsg(fd, &mh, MSG_PEEK | MSG_TRUNC);
    check(n > 20 && (mh.msg_flags & MSG_TRUNC), "MSG_PEEK|MSG_TRUNC gives the datagram's length");
    n = recvmsg(fd, &mh, 0);
    check(n == 20 && (mh.msg_flags & MSG_TRUNC), "a short read is cut to the buffer");
    close(fd);
    close(fd2);
}

/* mote only (natively root may): changing the network is EPERM. */
static int changes(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct {
        struct ifaddrmsg a;
        struct rtattr r;
        unsigned char addr[4];
    } add = {{AF_INET, 24, 0, 0, 1}, {RTA_LENGTH(4), IFA_LOCAL}, {10, 9, 9, 9}};
    printf("new address: %s\n",
           strerror(error_of(fd, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &add, sizeof add)));
    struct ifinfomsg up = {.ifi_family = AF_UNSPEC, .ifi_index = 1};
    printf("set link: %s\n", strerror(error_of(fd, RTM_SETLINK, 0, &up, sizeof up)));
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "changes") == 0) return changes();
    list_ifaddrs();
    list_nameindex();
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0) {
        printf("socket(AF_NETLINK): %s\n", strerror(errno));
        return 1;
    }
    dump_links(fd);
    dump_routes(fd);
    close(fd);
    errors();
    printf("%d failures\n", failures);
    return failures != 0;
}
