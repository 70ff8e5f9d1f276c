#include "bench/turn/load_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tandem::bench {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

void SleepUntilNs(int64_t deadline_ns) {
  timespec ts{static_cast<time_t>(deadline_ns / kNsPerSec), static_cast<long>(deadline_ns % kNsPerSec)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

int LatencyHistogram::Bucket(uint64_t us) {
  if (us < 4) return static_cast<int>(us);
  int msb = 63 - __builtin_clzll(us);
  int sub = static_cast<int>((us >> (msb - 2)) & 3);
  return std::min(kBuckets - 1, 4 * (msb - 1) + sub);
}

uint64_t LatencyHistogram::BucketLow(int b) {
  if (b < 4) return static_cast<uint64_t>(b);
  int msb = b / 4 + 1;
  return uint64_t{4u + static_cast<unsigned>(b % 4)} << (msb - 2);
}

void LatencyHistogram::Add(int64_t us) { counts_[Bucket(us < 0 ? 0 : static_cast<uint64_t>(us))].Add(); }

void LatencyHistogram::AddTo(std::array<uint64_t, kBuckets>& out) const {
  for (int i = 0; i < kBuckets; ++i) out[i] += counts_[i].Get();
}

int64_t LatencyHistogram::Percentile(const std::array<uint64_t, kBuckets>& counts, double p) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return -1;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen >= rank) return static_cast<int64_t>(BucketLow(i));
  }
  return static_cast<int64_t>(BucketLow(kBuckets - 1));
}

int ActiveStep(const std::vector<Step>& steps, int64_t now) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (now >= steps[i].warm_start_ns && now < steps[i].measure_end_ns) return static_cast<int>(i);
  }
  return -1;
}

int OpenUdpSocket(const SocketAddress& local, const SocketAddress* remote, int rcvbuf, SocketAddress* bound) {
  int family = local.ip().is_v6() ? AF_INET6 : AF_INET;
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "socket: %s\n", std::strerror(errno));
    return -1;
  }
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  }
  sockaddr_storage ss;
  socklen_t len = local.ToSockaddr(&ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::fprintf(stderr, "bind %s: %s\n", local.ToString().c_str(), std::strerror(errno));
    close(fd);
    return -1;
  }
  if (remote != nullptr) {
    len = remote->ToSockaddr(&ss);
    if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      std::fprintf(stderr, "connect %s: %s\n", remote->ToString().c_str(), std::strerror(errno));
      close(fd);
      return -1;
    }
  }
  if (bound != nullptr) {
    len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    *bound = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).value_or(SocketAddress());
  }
  return fd;
}

namespace {

// /proc/net/udp line: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops",
// local_address being HEX_IP:HEX_PORT.
void ReadDropsFrom(const char* path, const std::vector<uint16_t>& own_ports, UdpDropSnapshot& out) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string f[13];
    for (auto& x : f) ls >> x;
    auto colon = f[1].rfind(':');
    if (colon == std::string::npos || f[12].empty()) continue;
    auto port = static_cast<uint16_t>(std::strtoul(f[1].c_str() + colon + 1, nullptr, 16));
    const bool own = std::binary_search(own_ports.begin(), own_ports.end(), port);
    out.by_inode[std::strtoull(f[9].c_str(), nullptr, 10)] = {own, std::strtoull(f[12].c_str(), nullptr, 10)};
  }
}

}  // namespace

UdpDropSnapshot ReadUdpDrops(const std::vector<uint16_t>& own_ports) {
  UdpDropSnapshot s;
  ReadDropsFrom("/proc/net/udp", own_ports, s);
  ReadDropsFrom("/proc/net/udp6", own_ports, s);
  return s;
}

UdpDrops DropsBetween(const UdpDropSnapshot& before, const UdpDropSnapshot& after) {
  UdpDrops d;
  for (const auto& [inode, v] : after.by_inode) {
    auto it = before.by_inode.find(inode);
    const uint64_t base = it == before.by_inode.end() ? 0 : it->second.second;
    const uint64_t delta = v.second > base ? v.second - base : 0;
    (v.first ? d.own : d.other) += delta;
  }
  return d;
}

double ProcessCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void JsonWriter::Sep() {
  if (!first_) s_ += ',';
  first_ = false;
}

JsonWriter& JsonWriter::Key(const char* k) {
  Sep();
  s_ += '"';
  s_ += k;
  s_ += "\":";
  return *this;
}

JsonWriter& JsonWriter::Num(const char* k, double v) {
  Key(k);
  if (!std::isfinite(v)) {
    s_ += "null";
  } else {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    s_ += buf;
  }
  return *this;
}

JsonWriter& JsonWriter::Int(const char* k, int64_t v) {
  Key(k);
  s_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::Str(const char* k, const std::string& v) {
  Key(k);
  s_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') s_ += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    s_ += c;
  }
  s_ += '"';
  return *this;
}

JsonWriter& JsonWriter::Open(const char* k) {
  Key(k);
  s_ += '{';
  first_ = true;
  return *this;
}

JsonWriter& JsonWriter::Close() {
  s_ += '}';
  first_ = false;
  return *this;
}

std::string JsonWriter::Finish() { return s_ + "}"; }

}  // namespace tandem::bench
