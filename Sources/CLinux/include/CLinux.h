#ifndef CLINUX_H
#define CLINUX_H
// Linux system calls that Glibc's Swift module does not export (epoll, eventfd, timerfd,
// signalfd, accept4), re-exported for HTTPCore. Kept as thin as possible: no logic lives here.
#include <stdint.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/// accept4(2): Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module lacks.
int cl_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/// Socket type flags as plain ints (Glibc imports them as an enum).
static const int CL_SOCK_STREAM = SOCK_STREAM;
static const int CL_SOCK_NONBLOCK = SOCK_NONBLOCK;
static const int CL_SOCK_CLOEXEC = SOCK_CLOEXEC;

static const uint32_t CL_EPOLLIN = EPOLLIN;
static const uint32_t CL_EPOLLOUT = EPOLLOUT;
static const uint32_t CL_EPOLLERR = EPOLLERR;
static const uint32_t CL_EPOLLHUP = EPOLLHUP;
static const uint32_t CL_EPOLLRDHUP = EPOLLRDHUP;

/// The registration word of an epoll event. The struct is packed on x86_64; reading it in C
/// avoids any doubt about the layout Swift sees.
static inline uint64_t cl_epoll_event_data(const struct epoll_event *event) {
  return event->data.u64;
}
static inline uint32_t cl_epoll_event_mask(const struct epoll_event *event) {
  return event->events;
}
static inline int cl_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(epfd, op, fd, &ev);
}

/// Blocks `signal` in the calling thread (and every thread it creates afterwards).
int cl_block_signal(int signal);
/// A non-blocking signalfd for the given signals (a zero-terminated list).
int cl_signalfd_for(const int *signals);
/// Reads one signalfd_siginfo and returns its signal number, or -1.
int cl_signalfd_read(int fd);
/// Arms a timerfd to fire once at `deadline_ns` on CLOCK_MONOTONIC (absolute); 0 disarms.
int cl_timerfd_arm(int fd, uint64_t deadline_ns);

/// Lowers the calling thread's scheduling priority to `niceness` (Linux: nice is per thread).
static inline int cl_set_thread_niceness(int niceness) {
  return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), niceness);
}

#endif
