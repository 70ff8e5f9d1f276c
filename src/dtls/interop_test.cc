// Interop with an independent DTLS implementation: Debian's `openssl s_client` / `s_server` CLI, over real
// UDP on 127.0.0.1 (ephemeral ports), driven by a small poll() loop with the wall clock as `now`. It proves
// that what the transport puts on the wire is real DTLS 1.2 with use_srtp, and that the RFC 5764 §4.2 keying
// material matches what the other implementation exports. Bounded: every wait has a deadline, and the child
// is killed at the end.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "dtls/dtls_test_pair.h"
#include "dtls/dtls_transport.h"

namespace tandem::dtls {
namespace {

const std::string kTestData = TANDEM_DTLS_TESTDATA;
const std::string kCliCert = kTestData + "/openssl_cli_cert.pem";
const std::string kCliKey = kTestData + "/openssl_cli_key.pem";
constexpr auto kBudget = std::chrono::seconds(15);

Timestamp WallNow() {
  return Timestamp::Micros(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count());
}

// A child process with its stdin on a pipe and stdout+stderr on another.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(out[1], 2);
      close(in[1]);
      close(out[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    fcntl(stdout_, F_SETFL, O_NONBLOCK);
  }
  ~Child() {
    if (stdin_ >= 0) close(stdin_);
    if (stdout_ >= 0) close(stdout_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  int stdout_fd() const { return stdout_; }
  void Write(const std::string& text) {
    ASSERT_EQ(write(stdin_, text.data(), text.size()), ssize_t(text.size()));
  }
  void ReadAvailable() {
    char buf[4096];
    ssize_t n;
    while ((n = read(stdout_, buf, sizeof(buf))) > 0) output_.append(buf, static_cast<size_t>(n));
    if (n == 0) exited_ = true;  // end of its output: the child has exited
  }
  bool exited() const { return exited_; }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::string output_;
  bool exited_ = false;
};

class OpensslInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
    socklen_t len = sizeof(local);
    ASSERT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len), 0);
    port_ = ntohs(local.sin_port);
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
  }

  static DtlsConfig Config(Role role) {
    DtlsConfig config;
    config.role = role;
    config.certificate = testing::TestCertificate(0);
    // The CLI peer's certificate is authenticated by its fingerprint, as an SDP answer would carry it.
    config.remote_fingerprints = {
        *Fingerprint::Parse("sha-256",
                            "D2:EE:C6:4D:78:2F:16:9A:FB:DB:7C:4D:86:A1:BA:EF:DC:E0:3B:69:F0:28:54:3A:F4:"
                            "01:C8:6E:AC:75:24:CC")};
    config.srtp_profiles = {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80};
    return config;
  }

  // Runs the transport against the socket (and collects the child's output) until `done` or the budget is
  // spent.
  bool Drive(DtlsTransport& t, Child& child, const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + kBudget;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      while (auto d = t.PollTransmit()) {
        if (have_peer_) {
          sendto(fd_, d->data(), d->size(), 0, reinterpret_cast<const sockaddr*>(&peer_), sizeof(peer_));
        }
      }
      while (auto e = t.PollEvent()) events_.push_back(*e);
      while (auto r = t.PollApplicationData()) received_.append(AsStringView(*r));
      if (done()) return true;
      int wait_ms = 50;
      const Timestamp deadline = t.PollTimeout();
      if (!deadline.IsInfinite()) {
        wait_ms = static_cast<int>(std::clamp<int64_t>((deadline - WallNow()).ms() + 1, 0, 50));
      }
      pollfd fds[2] = {{fd_, POLLIN, 0}, {child.stdout_fd(), POLLIN, 0}};
      poll(fds, 2, wait_ms);
      if ((fds[0].revents & POLLIN) != 0) {
        uint8_t buf[65536];
        sockaddr_in from{};
        socklen_t len = sizeof(from);
        const ssize_t n = recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0) {
          peer_ = from;
          have_peer_ = true;
          t.HandleReceive(WallNow(), ByteSpan(buf, static_cast<size_t>(n)));
        }
      }
      if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) child.ReadAvailable();
      if (t.PollTimeout() <= WallNow()) t.HandleTimeout(WallNow());
    }
    return true;
  }

  bool Connected(const DtlsTransport& t) const { return t.state() == DtlsState::kConnected; }

  // The child's "Keying material: HEX" line, lower-cased.
  static std::string ExportedByChild(const std::string& output) {
    std::smatch m;
    static const std::regex kLine("Keying material: ([0-9A-Fa-f]+)");
    if (!std::regex_search(output, m, kLine)) return {};
    std::string hex = m[1];
    for (char& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return hex;
  }

  // RFC 5764 §4.2 layout: client key | server key | client salt | server salt.
  static std::string Layout(const SrtpKeyingMaterial& k, bool we_are_client) {
    auto cat = [](std::initializer_list<const std::vector<uint8_t>*> parts) {
      std::vector<uint8_t> all;
      for (auto* p : parts) all.insert(all.end(), p->begin(), p->end());
      return crypto::HexEncode(all);
    };
    return we_are_client ? cat({&k.local_key, &k.remote_key, &k.local_salt, &k.remote_salt})
                         : cat({&k.remote_key, &k.local_key, &k.remote_salt, &k.local_salt});
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  sockaddr_in peer_{};
  bool have_peer_ = false;
  std::vector<DtlsEvent> events_;
  std::string received_;
};

TEST_F(OpensslInteropTest, OpensslClientToOurServer) {
  DtlsTransport server(Config(Role::kServer));
  server.Start(WallNow());
  Child client({"openssl", "s_client", "-dtls1_2", "-connect", "127.0.0.1:" + std::to_string(port_), "-cert",
                kCliCert, "-key", kCliKey, "-use_srtp", "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
                "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "56", "-mtu", "1200"});
  ASSERT_TRUE(client.started());
  ASSERT_TRUE(Drive(server, client, [&] {
    return Connected(server) || server.state() == DtlsState::kFailed;
  })) << client.output();
  ASSERT_EQ(server.state(), DtlsState::kConnected) << (events_.empty() ? "" : events_.back().reason) << "\n"
                                                   << client.output();
  EXPECT_EQ(server.srtp_profile(), SrtpProfile::kAeadAes128Gcm);
  // OpenSSL's server honours the client's order, and s_client puts AES-256-GCM first.
  EXPECT_EQ(server.negotiated()->cipher_suite, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
  EXPECT_TRUE(server.negotiated()->extended_master_secret);

  // Application data both ways: s_client sends each stdin line as a record and prints what it receives.
  client.Write("hello from openssl\n");
  ASSERT_TRUE(Drive(server, client, [&] { return received_.find('\n') != std::string::npos; }))
      << client.output();
  EXPECT_EQ(received_, "hello from openssl\n");
  ASSERT_TRUE(server.Send(AsBytes("hello from tandem\n")).ok());
  ASSERT_TRUE(Drive(server, client, [&] {
    return client.output().find("hello from tandem") != std::string::npos;
  })) << client.output();

  const std::string out = client.output();
  EXPECT_NE(out.find("SRTP Extension negotiated, profile=SRTP_AEAD_AES_128_GCM"), std::string::npos) << out;
  auto keys = server.ExportSrtpKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(ExportedByChild(out), Layout(*keys, /*we_are_client=*/false)) << out;

  // close_notify ends s_client.
  server.Close(WallNow());
  Drive(server, client, [&] { return client.exited(); });
  EXPECT_TRUE(client.exited());
  EXPECT_NE(client.output().find("closed"), std::string::npos) << client.output();
}

TEST_F(OpensslInteropTest, OurClientToOpensslServer) {
  Child server({"openssl",
                "s_server",
                "-dtls1_2",
                "-accept",
                "127.0.0.1:0",
                "-cert",
                kCliCert,
                "-key",
                kCliKey,
                "-verify",
                "1",
                "-use_srtp",
                "SRTP_AES128_CM_SHA1_80",
                "-keymatexport",
                "EXTRACTOR-dtls_srtp",
                "-keymatexportlen",
                "60",
                "-mtu",
                "1200",
                "-naccept",
                "1"});
  ASSERT_TRUE(server.started());
  // s_server prints "ACCEPT 127.0.0.1:PORT" once it listens.
  const auto give_up = std::chrono::steady_clock::now() + kBudget;
  std::smatch m;
  static const std::regex kAccept("ACCEPT 127\\.0\\.0\\.1:([0-9]+)");
  while (!std::regex_search(server.output(), m, kAccept) && std::chrono::steady_clock::now() < give_up) {
    pollfd p{server.stdout_fd(), POLLIN, 0};
    poll(&p, 1, 50);
    server.ReadAvailable();
  }
  ASSERT_TRUE(std::regex_search(server.output(), m, kAccept)) << server.output();
  peer_.sin_family = AF_INET;
  peer_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  peer_.sin_port = htons(static_cast<uint16_t>(std::stoi(m[1])));
  have_peer_ = true;

  DtlsTransport client(Config(Role::kClient));
  client.Start(WallNow());
  ASSERT_TRUE(Drive(client, server, [&] {
    return Connected(client) || client.state() == DtlsState::kFailed;
  })) << server.output();
  ASSERT_EQ(client.state(), DtlsState::kConnected) << (events_.empty() ? "" : events_.back().reason) << "\n"
                                                   << server.output();
  EXPECT_EQ(client.srtp_profile(), SrtpProfile::kAes128CmSha1_80);

  ASSERT_TRUE(client.Send(AsBytes("ping from tandem\n")).ok());
  ASSERT_TRUE(Drive(client, server, [&] {
    return server.output().find("ping from tandem") != std::string::npos;
  })) << server.output();
  server.Write("pong from openssl\n");
  ASSERT_TRUE(Drive(client, server, [&] { return received_.find('\n') != std::string::npos; }))
      << server.output();
  EXPECT_EQ(received_, "pong from openssl\n");

  auto keys = client.ExportSrtpKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(ExportedByChild(server.output()), Layout(*keys, /*we_are_client=*/true)) << server.output();

  // Our close_notify makes s_server print DONE (its SSL_ERROR_ZERO_RETURN case) and exit (-naccept 1).
  client.Close(WallNow());
  Drive(client, server, [&] { return server.exited(); });
  EXPECT_TRUE(server.exited());
  EXPECT_NE(server.output().find("DONE"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace tandem::dtls
