// Real-socket interop check of the sans-IO TurnClient against coturn's `turnserver` (Debian `coturn`): starts
// turnserver on loopback, drives a TurnClient over a UDP socket (or a TCP stream framed with
// turn::NextFrameLength) through Allocate, CreatePermission, Send indications, ChannelBind, ChannelData both
// ways with an in-process UDP echo peer, and Release. Meant to run in its own network namespace
// (tests/interop/isolated.sh) and bounded in time: every wait has a deadline and the whole run gives up after
// kOverallTimeout.
//
//   coturn_interop [--turnserver PATH] [--transport udp|tcp] [--keep-log]
// Exit status 0 on success; on failure the reason and coturn's log go to stderr.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/socket_address.h"
#include "turn/framing.h"
#include "turn_client/turn_client.h"

namespace {

using namespace tandem;  // NOLINT(google-build-using-namespace): test program only

constexpr auto kOverallTimeout = std::chrono::seconds(60);

Timestamp Now() {
  using namespace std::chrono;
  return Timestamp::Micros(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

[[noreturn]] void Die(const std::string& why);

// A free loopback port for coturn (UDP and TCP both free). Inside a private namespace nobody races us for it.
uint16_t FreePort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(u, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        getsockname(u, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      close(u);
      continue;
    }
    const uint16_t port = ntohs(a.sin_port);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    const bool tcp_free = bind(t, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(t);
    close(u);
    if (tcp_free) return port;
  }
  Die("no free port");
}

int BoundUdp(SocketAddress* bound) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) Die("bind udp");
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  return fd;
}

struct Coturn {
  pid_t pid = -1;
  std::string dir;
  std::string log;

  void Start(const std::string& binary, uint16_t port) {
    char tmpl[] = "/tmp/tandem-coturn-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp");
    dir = tmpl;
    log = dir + "/turn.log";
    const std::string port_s = std::to_string(port);
    std::vector<std::string> args = {binary,
                                     "-n",
                                     "--listening-ip=127.0.0.1",
                                     "--relay-ip=127.0.0.1",
                                     "--listening-port=" + port_s,
                                     "--allow-loopback-peers",
                                     "--lt-cred-mech",
                                     "--user=u:p",
                                     "--realm=test",
                                     "--fingerprint",
                                     "--no-tls",
                                     "--no-dtls",
                                     "--no-cli",
                                     "--cli-password=x",
                                     "--min-port=49152",
                                     "--max-port=65535",
                                     "--userdb=" + dir + "/turndb",
                                     "--pidfile=" + dir + "/turn.pid",
                                     "--log-file=stdout",
                                     "--simple-log"};
    pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) {
      const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  void Stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      for (int i = 0; i < 50; ++i) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
          pid = -1;
          break;
        }
        usleep(100 * 1000);
      }
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        pid = -1;
      }
    }
  }
  void DumpLog() const {
    std::ifstream in(log);
    std::cerr << "---- coturn log ----\n" << in.rdbuf() << "\n--------------------\n";
  }
  void Cleanup() const {
    if (!dir.empty()) {
      const std::string cmd = "rm -rf '" + dir + "'";
      if (std::system(cmd.c_str()) != 0) std::cerr << "could not remove " << dir << "\n";
    }
  }
};

Coturn* g_coturn = nullptr;

[[noreturn]] void Die(const std::string& why) {
  std::cerr << "coturn_interop: FAIL: " << why << "\n";
  if (g_coturn != nullptr) {
    g_coturn->Stop();
    g_coturn->DumpLog();
    g_coturn->Cleanup();
  }
  std::exit(1);
}

class Driver {
 public:
  Driver(turn_client::Transport transport, SocketAddress server, Rng& rng) : transport_(transport) {
    turn_client::Config c;
    c.server = server;
    c.transport = transport;
    c.username = "u";
    c.password = "p";
    c.software = "tandem interop";
    client_ = std::make_unique<turn_client::TurnClient>(c, rng);
    peer_fd_ = BoundUdp(&peer_);
    if (transport == turn_client::Transport::kUdp) {
      SocketAddress local;
      fd_ = BoundUdp(&local);
    } else {
      fd_ = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_storage ss{};
      const socklen_t len = server.ToSockaddr(&ss);
      const Timestamp deadline = Now() + TimeDelta::Seconds(10);
      // coturn may still be starting: retry the connect for a while.
      while (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        if (Now() > deadline) Die("cannot connect to coturn over TCP");
        close(fd_);
        usleep(100 * 1000);
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
      }
      const int one = 1;
      setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    server_ = server;
  }
  ~Driver() {
    close(fd_);
    close(peer_fd_);
  }

  turn_client::TurnClient& client() { return *client_; }
  const SocketAddress& peer() const { return peer_; }

  // Runs IO until `done` holds or the deadline passes; returns whether `done` held.
  template <typename Pred>
  bool RunUntil(Pred done, TimeDelta limit) {
    const Timestamp deadline = Now() + limit;
    while (true) {
      Flush();
      DrainEvents();
      if (done()) return true;
      const Timestamp now = Now();
      if (now >= deadline) return false;
      const Timestamp wake = std::min(deadline, client_->PollTimeout());
      const int wait_ms = wake <= now ? 0 : static_cast<int>(std::min<int64_t>((wake - now).ms() + 1, 1000));
      pollfd fds[2] = {{fd_, POLLIN, 0}, {peer_fd_, POLLIN, 0}};
      if (poll(fds, 2, wait_ms) < 0) Die("poll");
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) ReadServer();
      if (fds[1].revents & POLLIN) EchoPeer();
      if (Now() >= client_->PollTimeout()) client_->HandleTimeout(Now());
    }
  }

  std::vector<turn_client::Event> events;
  std::vector<std::string> received;
  int echoed = 0;

 private:
  void Flush() {
    while (auto t = client_->PollTransmit()) {
      ssize_t n;
      if (transport_ == turn_client::Transport::kUdp) {
        sockaddr_storage ss{};
        const socklen_t len = server_.ToSockaddr(&ss);
        n = sendto(fd_, t->data(), t->size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
      } else {
        n = send(fd_, t->data(), t->size(), MSG_NOSIGNAL);  // small frames: written whole on loopback
      }
      if (n != static_cast<ssize_t>(t->size())) Die("short send to coturn");
    }
  }
  void DrainEvents() {
    while (auto e = client_->PollEvent()) events.push_back(*e);
  }
  void Deliver(ByteSpan frame) {
    if (auto d = client_->HandleReceive(Now(), frame)) {
      if (!(d->peer == peer_)) Die("data from an unexpected peer " + d->peer.ToString());
      received.emplace_back(AsStringView(d->data));
    }
  }
  void ReadServer() {
    uint8_t buf[65536];
    if (transport_ == turn_client::Transport::kUdp) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) Deliver(ByteSpan(buf, static_cast<size_t>(n)));
      return;
    }
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) Die("coturn closed the TCP connection");
    stream_.insert(stream_.end(), buf, buf + n);
    size_t pos = 0;
    while (true) {
      auto len = turn::NextFrameLength(ByteSpan(stream_).subspan(pos));
      if (!len.ok()) Die("coturn sent something that is not STUN/ChannelData");
      if (*len == 0) break;
      Deliver(ByteSpan(stream_).subspan(pos, *len));
      pos += *len;
    }
    stream_.erase(stream_.begin(), stream_.begin() + static_cast<ptrdiff_t>(pos));
  }
  // The echo peer: whatever reaches it goes back to the sender (coturn's relayed address).
  void EchoPeer() {
    uint8_t buf[65536];
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = recvfrom(peer_fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    const auto sender = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&from), from_len);
    if (!sender || !(*sender == client_->relayed_address())) Die("echo peer got data not from the relay");
    sendto(peer_fd_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    ++echoed;
  }

  turn_client::Transport transport_;
  std::unique_ptr<turn_client::TurnClient> client_;
  SocketAddress server_;
  SocketAddress peer_;
  int fd_ = -1;
  int peer_fd_ = -1;
  std::vector<uint8_t> stream_;
};

bool HasEvent(const Driver& d, turn_client::Event::Kind kind) {
  for (const auto& e : d.events) {
    if (e.kind == kind) return true;
  }
  return false;
}

void Check(bool ok, const std::string& what) {
  if (!ok) Die(what);
  std::cout << "ok: " << what << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "/usr/bin/turnserver";
  std::string transport_name = "udp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--turnserver" && i + 1 < argc) {
      binary = argv[++i];
    } else if (a == "--transport" && i + 1 < argc) {
      transport_name = argv[++i];
    } else {
      std::cerr << "usage: coturn_interop [--turnserver PATH] [--transport udp|tcp]\n";
      return 2;
    }
  }
  if (access(binary.c_str(), X_OK) != 0) {
    std::cerr << "coturn_interop: FAIL: " << binary << " not found (install Debian's coturn)\n";
    return 1;
  }
  const auto transport =
      transport_name == "tcp" ? turn_client::Transport::kTcp : turn_client::Transport::kUdp;
  signal(SIGPIPE, SIG_IGN);
  alarm(static_cast<unsigned>(std::chrono::seconds(kOverallTimeout).count()) + 30);  // last-resort bound

  Coturn coturn;
  g_coturn = &coturn;
  const uint16_t port = FreePort();
  coturn.Start(binary, port);
  const SocketAddress server(IpAddress::LoopbackV4(), port);

  SecureRng rng;
  Driver d(transport, server, rng);
  auto& c = d.client();
  const TimeDelta step = TimeDelta::Seconds(15);

  // Allocate (401 → signed retry); over UDP the retransmissions ride out coturn's start-up.
  c.Start(Now());
  const bool allocated =
      d.RunUntil([&] { return c.state() != turn_client::State::kAllocating; }, TimeDelta::Seconds(40)) &&
      c.state() == turn_client::State::kAllocated;
  Check(allocated,
        "allocated " + c.relayed_address().ToString() + " (mapped " + c.mapped_address().ToString() + ")");
  Check(c.relayed_address().ip() == IpAddress::LoopbackV4() && c.relayed_address().port() >= 49152,
        "relayed address within coturn's relay range");
  Check(c.mapped_address().ip() == IpAddress::LoopbackV4(), "XOR-MAPPED-ADDRESS is our loopback address");

  // Permission and a Send indication, echoed back in a Data indication.
  Check(c.CreatePermission(Now(), d.peer().ip()).ok(), "CreatePermission accepted");
  Check(d.RunUntil([&] { return c.HasPermission(d.peer().ip()); }, step), "permission installed");
  Check(c.Send(Now(), d.peer(), AsBytes("via-indication")).ok(), "Send indication queued");
  Check(d.RunUntil([&] { return !d.received.empty(); }, step) && d.received[0] == "via-indication",
        "Data indication echoed back");

  // Channel binding, then ChannelData both ways.
  Check(c.BindChannel(Now(), d.peer()).ok(), "ChannelBind accepted");
  Check(d.RunUntil([&] { return HasEvent(d, turn_client::Event::kChannelBound); }, step), "channel bound");
  const uint64_t cd_before = c.stats().channel_data_received;
  constexpr int kMessages = 50;
  for (int i = 0; i < kMessages; ++i) {
    const std::string msg = "channel-" + std::to_string(i) + std::string(static_cast<size_t>(i % 7), '.');
    if (!c.Send(Now(), d.peer(), AsBytes(msg)).ok()) Die("Send on the channel failed");
    if (!d.RunUntil([&] { return d.received.size() == static_cast<size_t>(i) + 2; }, step)) {
      Die("no echo for message " + std::to_string(i));
    }
    if (d.received.back() != msg) Die("echo mismatch: " + d.received.back());
  }
  Check(c.stats().channel_data_sent == kMessages && c.stats().channel_data_received - cd_before == kMessages,
        std::to_string(kMessages) + " ChannelData messages each way");
  Check(c.stats().dropped_malformed == 0 && c.stats().dropped_bad_integrity == 0 &&
            c.stats().dropped_unknown_transaction == 0,
        "nothing from coturn dropped");

  // Release: Refresh with LIFETIME 0.
  c.Release(Now());
  Check(d.RunUntil([&] { return c.state() == turn_client::State::kReleased; }, step), "released");
  Check(c.stats().transactions_timed_out == 0, "no transaction timed out");

  coturn.Stop();
  coturn.Cleanup();
  std::cout << "coturn_interop (" << transport_name << "): PASS, " << c.stats().requests_sent << " requests, "
            << c.stats().retransmissions << " retransmissions\n";
  return 0;
}
