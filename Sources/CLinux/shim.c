#define _GNU_SOURCE
#include "CLinux.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cl_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  return accept4(fd, addr, len, flags);
}

int cl_block_signal(int signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cl_signalfd_for(const int *signals) {
  sigset_t set;
  sigemptyset(&set);
  for (const int *s = signals; *s != 0; s++) sigaddset(&set, *s);
  return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cl_signalfd_read(int fd) {
  struct signalfd_siginfo info;
  ssize_t n;
  do { n = read(fd, &info, sizeof info); } while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof info) return -1;
  return (int)info.ssi_signo;
}

int cl_timerfd_arm(int fd, uint64_t deadline_ns) {
  struct itimerspec spec;
  memset(&spec, 0, sizeof spec);
  if (deadline_ns != 0) {
    // An absolute deadline of 0 disarms, so never pass it for a real deadline.
    spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}
