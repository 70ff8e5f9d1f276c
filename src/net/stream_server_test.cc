// Real TCP/TLS on loopback, ephemeral ports. Clients are Asio sockets on the same loop; the loop is driven by
// RunUntil with a deadline (no sleeping).
#include "net/stream_server.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "net/event_loop.h"

namespace tandem::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

constexpr TimeDelta kDeadline = TimeDelta::Seconds(5);

tcp::endpoint ToEndpoint(const SocketAddress& a) {
  return tcp::endpoint(asio::ip::make_address(a.ip().ToString()), a.port());
}

std::string Frame(const std::string& payload) {
  std::string f(2, '\0');
  f[0] = static_cast<char>(payload.size() >> 8);
  f[1] = static_cast<char>(payload.size() & 0xff);
  return f + payload;
}

// Echo server logic with 2-byte length framing; counts what it sees per connection.
struct EchoServer {
  StreamHandlers Handlers() {
    StreamHandlers h;
    h.on_open = [this](StreamConnection& c) {
      ++opened;
      last = &c;
      EXPECT_GT(c.id(), 0u);
      EXPECT_TRUE(c.remote_address().ip().IsLoopback());
    };
    h.on_data = [this](StreamConnection& c, ByteSpan buffered) -> long {
      ++data_calls;
      size_t used = 0;
      while (buffered.size() - used >= 2) {
        size_t len = LoadBe16(buffered.data() + used);
        if (buffered.size() - used - 2 < len) {
          ++partial_frames;
          break;
        }
        ++frames;
        EXPECT_TRUE(c.Send(buffered.subspan(used, 2), buffered.subspan(used + 2, len)));
        used += 2 + len;
      }
      return static_cast<long>(used);
    };
    h.on_close = [this](StreamConnection& c) {
      ++closes[c.id()];
      if (last == &c) last = nullptr;
    };
    return h;
  }
  int opened = 0, data_calls = 0, frames = 0, partial_frames = 0;
  std::map<uint64_t, int> closes;
  StreamConnection* last = nullptr;
};

// An Asio client (TCP or TLS) that collects everything it reads.
template <class Stream>
struct Client {
  template <class... Args>
  explicit Client(Args&&... args) : stream(std::forward<Args>(args)...) {}

  tcp::socket& socket() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream;
    } else {
      return stream.next_layer();
    }
  }
  void StartReading() {
    stream.async_read_some(asio::buffer(buf), [this](const error_code& ec, size_t n) {
      if (ec) {
        ended = true;
        return;
      }
      received.append(buf, n);
      StartReading();
    });
  }
  void Write(const std::string& data) {
    auto owned = std::make_shared<std::string>(data);
    asio::async_write(stream, asio::buffer(*owned), [owned](const error_code&, size_t) {});
  }

  Stream stream;
  char buf[4096];
  std::string received;
  bool ended = false;
};

using TcpClient = Client<tcp::socket>;
using TlsClient = Client<asio::ssl::stream<tcp::socket>>;

std::unique_ptr<StreamServer> MustListen(EventLoop& loop, StreamHandlers handlers,
                                         StreamServerOptions options = {},
                                         std::shared_ptr<TlsServerContext> tls = nullptr,
                                         SocketAddress at = SocketAddress(IpAddress::LoopbackV4(), 0)) {
  auto r = StreamServer::Listen(loop, at, std::move(tls), std::move(handlers), options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).value() : nullptr;
}

std::unique_ptr<TcpClient> Connect(EventLoop& loop, const StreamServer& server) {
  auto client = std::make_unique<TcpClient>(loop.context());
  bool connected = false;
  client->stream.async_connect(ToEndpoint(server.local_address()), [&](const error_code& ec) {
    EXPECT_FALSE(ec) << ec.message();
    connected = true;
  });
  EXPECT_TRUE(loop.RunUntil([&] { return connected; }, kDeadline));
  error_code ignored;
  client->socket().set_option(tcp::no_delay(true), ignored);  // small test writes leave at once
  return client;
}

TEST(StreamServerTest, TcpEchoWithFramesSplitAcrossReads) {
  EventLoop loop;
  EchoServer echo;
  auto server = MustListen(loop, echo.Handlers());
  ASSERT_TRUE(server);
  EXPECT_NE(server->local_address().port(), 0);
  auto client = Connect(loop, *server);
  client->StartReading();
  ASSERT_TRUE(loop.RunUntil([&] { return echo.opened == 1; }, kDeadline));
  EXPECT_EQ(server->connection_count(), 1u);
  ASSERT_NE(echo.last, nullptr);
  EXPECT_FALSE(echo.last->is_tls());

  // Three frames in one write.
  std::string three = Frame("one") + Frame("two") + Frame("three");
  client->Write(three);
  ASSERT_TRUE(loop.RunUntil([&] { return client->received.size() == three.size(); }, kDeadline));
  EXPECT_EQ(client->received, three);

  // One frame split across two reads: the first part is kept (on_data consumed nothing) and completed later.
  std::string split = Frame("split across reads");
  client->received.clear();
  client->Write(split.substr(0, 5));
  ASSERT_TRUE(loop.RunUntil([&] { return echo.partial_frames == 1; }, kDeadline));
  EXPECT_EQ(echo.frames, 3);
  client->Write(split.substr(5));
  ASSERT_TRUE(loop.RunUntil([&] { return client->received == split; }, kDeadline));
  EXPECT_EQ(echo.frames, 4);

  // A big frame (bigger than one read) arrives in pieces and is echoed whole.
  std::string big = Frame(std::string(60000, 'b'));
  client->received.clear();
  client->Write(big + Frame("after"));
  ASSERT_TRUE(loop.RunUntil([&] { return client->received.size() == big.size() + 7; }, kDeadline));
  EXPECT_EQ(client->received, big + Frame("after"));

  // The client leaves: on_close once.
  client->socket().close();
  ASSERT_TRUE(loop.RunUntil([&] { return echo.closes.size() == 1; }, kDeadline));
  EXPECT_EQ(echo.closes.begin()->second, 1);
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST(StreamServerTest, SendReturnsFalseOverTheLimitForAReaderThatNeverReads) {
  EventLoop loop;
  EchoServer echo;
  StreamServerOptions options;
  options.max_send_buffer = 64 * 1024;
  auto server = MustListen(loop, echo.Handlers(), options);
  ASSERT_TRUE(server);
  auto client = std::make_unique<TcpClient>(loop.context());
  client->socket().open(tcp::v4());
  client->socket().set_option(asio::socket_base::receive_buffer_size(4096));  // keep the kernel's share small
  bool connected = false;
  client->socket().async_connect(ToEndpoint(server->local_address()),
                                 [&](const error_code&) { connected = true; });
  ASSERT_TRUE(loop.RunUntil([&] { return connected && echo.last != nullptr; }, kDeadline));

  StreamConnection& conn = *echo.last;
  std::string chunk(16 * 1024, 'x');
  size_t accepted = 0;
  bool refused = false;
  // Bounded: the kernel's buffers on both sides plus our 64 KiB limit fill long before 100 MiB.
  for (int i = 0; i < 6400 && !refused; ++i) {
    if (conn.Send(AsBytes(chunk))) {
      ++accepted;
    } else {
      refused = true;
    }
    if (i % 4 == 3) loop.RunFor(TimeDelta::Millis(1));  // let the flush write what the kernel will take
  }
  EXPECT_TRUE(refused) << accepted << " chunks accepted";
  // Refusing data does not close the connection.
  EXPECT_EQ(server->connection_count(), 1u);
  EXPECT_TRUE(echo.closes.empty());
  // Once the client reads, everything accepted arrives, and the connection takes data again.
  client->StartReading();
  size_t expected = accepted * chunk.size();
  ASSERT_TRUE(loop.RunUntil([&] { return client->received.size() >= expected; }, kDeadline))
      << client->received.size() << " of " << expected;
  EXPECT_EQ(client->received.size(), expected);
  EXPECT_EQ(client->received.find_first_not_of('x'), std::string::npos);
  EXPECT_TRUE(conn.Send(AsBytes("more")));
  ASSERT_TRUE(loop.RunUntil([&] { return client->received.size() == expected + 4; }, kDeadline));
  server->Shutdown();
  EXPECT_EQ(echo.closes.size(), 1u);
}

TEST(StreamServerTest, OnCloseRunsExactlyOnceOnEveryPath) {
  EventLoop loop;
  EchoServer echo;
  auto server = MustListen(loop, echo.Handlers());
  ASSERT_TRUE(server);

  // Server-side Close() after a Send: the data is delivered, then EOF; on_close runs later, once.
  auto closer = Connect(loop, *server);
  closer->StartReading();
  ASSERT_TRUE(loop.RunUntil([&] { return echo.opened == 1; }, kDeadline));
  StreamConnection* conn = echo.last;
  EXPECT_TRUE(conn->Send(AsBytes("bye")));
  conn->Close();
  conn->Close();  // idempotent
  EXPECT_FALSE(conn->Send(AsBytes("late")));
  EXPECT_TRUE(echo.closes.empty());  // never inside Close()
  ASSERT_TRUE(loop.RunUntil([&] { return closer->ended; }, kDeadline));
  EXPECT_EQ(closer->received, "bye");
  EXPECT_EQ(echo.closes.size(), 1u);

  // Two more connections still open at Shutdown().
  auto c2 = Connect(loop, *server);
  auto c3 = Connect(loop, *server);
  ASSERT_TRUE(loop.RunUntil([&] { return echo.opened == 3; }, kDeadline));
  EXPECT_EQ(server->connection_count(), 2u);
  server->Shutdown();
  EXPECT_EQ(echo.closes.size(), 3u);
  EXPECT_EQ(server->connection_count(), 0u);
  server->Shutdown();  // idempotent
  // Clients see the close; nothing more reaches the handlers.
  c2->StartReading();
  ASSERT_TRUE(loop.RunUntil([&] { return c2->ended; }, kDeadline));
  server.reset();
  loop.RunFor(TimeDelta::Millis(5));
  for (auto& [id, n] : echo.closes) EXPECT_EQ(n, 1) << "connection " << id;
}

TEST(StreamServerTest, UnconsumedBytesOverTheReceiveLimitClose) {
  EventLoop loop;
  StreamServerOptions options;
  options.max_receive_buffer = 1024;
  int closes = 0;
  size_t largest_seen = 0;
  StreamHandlers h;
  h.on_data = [&](StreamConnection&, ByteSpan buffered) -> long {
    largest_seen = std::max(largest_seen, buffered.size());
    return 0;  // waits for a frame that never completes
  };
  h.on_close = [&](StreamConnection&) { ++closes; };
  auto server = MustListen(loop, std::move(h), options);
  ASSERT_TRUE(server);
  auto client = Connect(loop, *server);
  client->StartReading();
  client->Write(std::string(600, 'a'));
  ASSERT_TRUE(loop.RunUntil([&] { return largest_seen == 600; }, kDeadline));
  EXPECT_EQ(closes, 0);
  client->Write(std::string(600, 'b'));
  ASSERT_TRUE(loop.RunUntil([&] { return closes == 1 && client->ended; }, kDeadline));
  EXPECT_EQ(server->connection_count(), 0u);
}

TEST(StreamServerTest, NegativeOnDataCloses) {
  EventLoop loop;
  int closes = 0;
  StreamHandlers h;
  h.on_data = [&](StreamConnection&, ByteSpan) -> long { return -1; };
  h.on_close = [&](StreamConnection&) { ++closes; };
  auto server = MustListen(loop, std::move(h));
  ASSERT_TRUE(server);
  auto client = Connect(loop, *server);
  client->StartReading();
  client->Write("garbage");
  ASSERT_TRUE(loop.RunUntil([&] { return closes == 1 && client->ended; }, kDeadline));
}

TEST(StreamServerTest, MaxConnectionsRefusesExtraClients) {
  EventLoop loop;
  EchoServer echo;
  StreamServerOptions options;
  options.max_connections = 1;
  auto server = MustListen(loop, echo.Handlers(), options);
  ASSERT_TRUE(server);
  auto first = Connect(loop, *server);
  ASSERT_TRUE(loop.RunUntil([&] { return echo.opened == 1; }, kDeadline));
  auto second = Connect(loop, *server);
  second->StartReading();
  ASSERT_TRUE(loop.RunUntil([&] { return second->ended; }, kDeadline));
  EXPECT_EQ(echo.opened, 1);
  EXPECT_EQ(server->connection_count(), 1u);
}

TEST(StreamServerTest, IdleTimeoutCloses) {
  EventLoop loop;
  EchoServer echo;
  StreamServerOptions options;
  options.idle_timeout_seconds = 1;
  auto server = MustListen(loop, echo.Handlers(), options);
  ASSERT_TRUE(server);
  auto client = Connect(loop, *server);
  client->StartReading();
  ASSERT_TRUE(loop.RunUntil([&] { return echo.opened == 1; }, kDeadline));
  Timestamp opened_at = loop.Now();
  ASSERT_TRUE(loop.RunUntil([&] { return echo.closes.size() == 1; }, kDeadline));
  EXPECT_GE(loop.Now() - opened_at, TimeDelta::Millis(900));
}

TEST(StreamServerTest, ReusePortLetsTwoListenersShareAPort) {
  EventLoop loop;
  EchoServer echo;
  StreamServerOptions options;
  options.reuse_port = true;
  auto first = MustListen(loop, echo.Handlers(), options);
  ASSERT_TRUE(first);
  auto second = MustListen(loop, echo.Handlers(), options, nullptr, first->local_address());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->local_address(), first->local_address());
  StreamServerOptions plain;
  auto third = StreamServer::Listen(loop, first->local_address(), nullptr, echo.Handlers(), plain);
  EXPECT_FALSE(third.ok());
}

TEST(StreamServerTest, Ipv6Echo) {
  EventLoop loop;
  EchoServer echo;
  auto r = StreamServer::Listen(loop, *SocketAddress::Parse("[::1]:0"), nullptr, echo.Handlers());
  ASSERT_TRUE(r.ok()) << "no IPv6 loopback here";
  auto server = std::move(r).value();
  auto client = Connect(loop, *server);
  client->StartReading();
  client->Write(Frame("six"));
  ASSERT_TRUE(loop.RunUntil([&] { return client->received == Frame("six"); }, kDeadline));
  ASSERT_NE(echo.last, nullptr);
  EXPECT_TRUE(echo.last->remote_address().ip().is_v6());
}

// --- TLS
// --------------------------------------------------------------------------------------------------------

// A self-signed ECDSA P-256 certificate for "localhost", written as PEM files into a fresh temporary
// directory.
class TempCertificate {
 public:
  TempCertificate() {
    char tmpl[] = "/tmp/tandem_net_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    cert_path_ = (dir_ / "cert.pem").string();
    key_path_ = (dir_ / "key.pem").string();

    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x509 = X509_new();
    X509_set_version(x509, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
    X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x509), 24 * 3600);
    X509_set_pubkey(x509, key);
    X509_NAME* name = X509_get_subject_name(x509);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                               -1, -1, 0);
    X509_set_issuer_name(x509, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x509, san, -1);
    X509_EXTENSION_free(san);
    bool ok = X509_sign(x509, key, EVP_sha256()) > 0;

    FILE* f = std::fopen(cert_path_.c_str(), "w");
    ok = ok && f != nullptr && PEM_write_X509(f, x509) == 1;
    if (f) std::fclose(f);
    f = std::fopen(key_path_.c_str(), "w");
    ok = ok && f != nullptr && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    if (f) std::fclose(f);
    X509_free(x509);
    EVP_PKEY_free(key);
    if (!ok) throw std::runtime_error("cannot create the test certificate");
  }
  ~TempCertificate() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& cert_path() const { return cert_path_; }
  const std::string& key_path() const { return key_path_; }
  std::filesystem::path dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string cert_path_, key_path_;
};

TEST(TlsServerContextTest, FromFilesFailsClearly) {
  TempCertificate cert;
  try {
    TlsServerContext::FromFiles((cert.dir() / "missing.pem").string(), cert.key_path());
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
  TempCertificate other;  // a key that belongs to another certificate
  try {
    TlsServerContext::FromFiles(cert.cert_path(), other.key_path());
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  EXPECT_NE(TlsServerContext::FromFiles(cert.cert_path(), cert.key_path()), nullptr);
}

TEST(StreamServerTest, TlsEcho) {
  TempCertificate cert;
  auto tls = TlsServerContext::FromFiles(cert.cert_path(), cert.key_path());
  EventLoop loop;
  EchoServer echo;
  auto server = MustListen(loop, echo.Handlers(), {}, tls);
  ASSERT_TRUE(server);

  // The client trusts exactly our certificate and checks the name in it.
  asio::ssl::context client_ctx(asio::ssl::context::tls_client);
  client_ctx.load_verify_file(cert.cert_path());
  client_ctx.set_verify_mode(asio::ssl::verify_peer);
  TlsClient client(loop.context(), client_ctx);
  client.stream.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  bool handshaken = false;
  client.socket().async_connect(ToEndpoint(server->local_address()), [&](const error_code& ec) {
    ASSERT_FALSE(ec) << ec.message();
    client.stream.async_handshake(asio::ssl::stream_base::client, [&](const error_code& hs) {
      EXPECT_FALSE(hs) << hs.message();
      handshaken = true;
    });
  });
  ASSERT_TRUE(loop.RunUntil([&] { return handshaken && echo.opened == 1; }, kDeadline));
  ASSERT_NE(echo.last, nullptr);
  EXPECT_TRUE(echo.last->is_tls());
  EXPECT_EQ(SSL_version(client.stream.native_handle()) >= TLS1_2_VERSION, true);

  client.StartReading();
  std::string frames = Frame("secret") + Frame(std::string(20000, 's'));
  client.Write(frames.substr(0, 3));  // a frame split across TLS records
  ASSERT_TRUE(loop.RunUntil([&] { return echo.partial_frames == 1; }, kDeadline));
  client.Write(frames.substr(3));
  ASSERT_TRUE(loop.RunUntil([&] { return client.received.size() == frames.size(); }, kDeadline));
  EXPECT_EQ(client.received, frames);

  // Server-side graceful close: queued data, then close_notify.
  EXPECT_TRUE(echo.last->Send(AsBytes("bye")));
  echo.last->Close();
  client.received.clear();
  ASSERT_TRUE(loop.RunUntil([&] { return client.ended && echo.closes.size() == 1; }, kDeadline));
  EXPECT_EQ(client.received, "bye");
}

TEST(StreamServerTest, TlsClientThatNeverHandshakesIsNeverOpened) {
  TempCertificate cert;
  auto tls = TlsServerContext::FromFiles(cert.cert_path(), cert.key_path());
  EventLoop loop;
  EchoServer echo;
  auto server = MustListen(loop, echo.Handlers(), {}, tls);
  ASSERT_TRUE(server);
  auto client = Connect(loop, *server);
  client->StartReading();
  client->Write("this is not a TLS ClientHello\r\n\r\n");
  ASSERT_TRUE(loop.RunUntil([&] { return client->ended; }, kDeadline));
  EXPECT_EQ(echo.opened, 0);
  EXPECT_TRUE(echo.closes.empty());
  EXPECT_EQ(server->connection_count(), 0u);
}

}  // namespace
}  // namespace tandem::net
