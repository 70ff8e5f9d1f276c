// The signaling service over real loopback sockets: the sans-IO core, the Beast HTTP/WebSocket server and the
// driver together, exercised with a Beast client (asynchronous operations bounded by timeouts, so a broken
// server fails a test instead of hanging it).
#include "server/signal/signal_service.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/signal/web_assets.h"
#include "signal/json.h"
#include "signal/token.h"

namespace tandem::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using signaling::Json;

constexpr char kTokenSecret[] = "token-secret";
constexpr char kApiKey[] = "api-key";
constexpr auto kTimeout = std::chrono::seconds(5);

// Runs `ioc` until `done` or the timeout; on timeout, `cancel` aborts the operation, which is then run to
// completion (so nothing it references dangles).
bool Await(asio::io_context& ioc, const bool& done, const std::function<void()>& cancel,
           std::chrono::steady_clock::duration timeout = kTimeout) {
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) ioc.run_one_until(deadline);
  if (done) return true;
  cancel();
  ioc.restart();
  while (!done) ioc.run_one();
  return false;
}

struct HttpResult {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string cache_control;
  std::string allow_origin;
};

HttpResult Request(uint16_t port, http::verb method, const std::string& target, const std::string& body = "",
                   const std::string& authorization = "",
                   const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  for (const auto& [k, v] : extra) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == http::verb::post) req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  // Interim 1xx responses (100 Continue) come first; the final response follows.
  do {
    parser.emplace();
    parser->body_limit(16 << 20);
    if (method == http::verb::head) parser->skip(true);
    bool done = false;
    beast::error_code ec;
    http::async_read(stream, buffer, *parser, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    if (!Await(ioc, done, [&] { stream.cancel(); })) return {};
    if (ec) return {};
  } while (parser->get().result_int() / 100 == 1);
  auto& res = parser->get();
  return {static_cast<int>(res.result_int()), res.body(), std::string(res[http::field::content_type]),
          std::string(res[http::field::cache_control]),
          std::string(res[http::field::access_control_allow_origin])};
}

std::string ErrorCode(const HttpResult& r) {
  auto json = signaling::ParseJson(r.body);
  return json && json->contains("error") ? (*json)["error"].value("code", "") : "";
}

class WsClient {
 public:
  // Connects and upgrades; returns the HTTP status (101 on success).
  int Connect(uint16_t port, const std::string& target, int receive_buffer = 0) {
    tcp::socket& socket = beast::get_lowest_layer(ws_).socket();
    socket.open(tcp::v4());
    if (receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    bool done = false;
    beast::error_code ec;
    ws_.async_handshake(response_, "127.0.0.1:" + std::to_string(port), target, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    if (!Await(ioc_, done, [&] { beast::get_lowest_layer(ws_).cancel(); })) return 0;
    return static_cast<int>(response_.result_int());
  }

  // The refusal's body when the upgrade was declined.
  const std::string& refusal_body() const { return response_.body(); }

  bool Send(const Json& frame) { return SendText(frame.dump()); }
  bool SendText(const std::string& text) {
    ws_.text(true);
    beast::error_code ec;
    ws_.write(asio::buffer(text), ec);
    return !ec;
  }

  // The next frame, or nullopt on timeout or close (then close_code() says why). After a timeout the stream
  // is unusable (a cancelled WebSocket read fails the stream): time out only where nothing more is expected.
  std::optional<Json> Read(std::chrono::steady_clock::duration timeout = kTimeout) {
    beast::flat_buffer buffer;
    bool done = false;
    beast::error_code ec;
    ws_.async_read(buffer, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    if (!Await(
            ioc_, done, [&] { beast::get_lowest_layer(ws_).cancel(); }, timeout))
      return std::nullopt;
    if (ec) {
      closed_ = true;
      return std::nullopt;
    }
    return signaling::ParseJson(beast::buffers_to_string(buffer.data()));
  }

  // Reads until a frame of `type` (skipping others), or nullopt.
  std::optional<Json> ReadType(const std::string& type) {
    for (int i = 0; i < 1000; ++i) {
      auto frame = Read();
      if (!frame) return std::nullopt;
      if ((*frame)["type"] == type) return frame;
    }
    return std::nullopt;
  }

  bool closed() const { return closed_; }
  uint16_t close_code() const { return static_cast<uint16_t>(ws_.reason().code); }

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  websocket::response_type response_;
  bool closed_ = false;
};

class RunningSignal {
 public:
  explicit RunningSignal(SignalServiceConfig config) : service_(std::move(config)) {
    thread_ = std::thread([this] { service_.Run(); });
  }
  ~RunningSignal() {
    service_.Stop();
    thread_.join();
  }
  SignalService& service() { return service_; }
  uint16_t port() const { return service_.local_address().port(); }

 private:
  SignalService service_;
  std::thread thread_;
};

SignalServiceConfig Config() {
  SignalServiceConfig c;
  c.listen = SocketAddress(IpAddress::LoopbackV4(), 0);
  c.core.token_secret = kTokenSecret;
  c.core.api_key = kApiKey;
  c.core.ice.urls = {"stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"};
  c.core.ice.turn_secret = "turn-secret";
  return c;
}

std::string Mint(const std::string& room, const std::string& identity, int64_t issued_offset = 0,
                 int64_t ttl = 3600) {
  signaling::TokenClaims c;
  c.room = room;
  c.identity = identity;
  c.issued_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() +
      issued_offset;
  c.expires_at = c.issued_at + ttl;
  c.jti = "test";
  return signaling::TokenCodec(kTokenSecret).Mint(c);
}

template <typename F>
bool Eventually(F condition) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

TEST(SignalService, TwoPeersJoinAndExchangeOfferAnswerCandidates) {
  RunningSignal s(Config());
  WsClient alice;
  auto bob = std::make_unique<WsClient>();
  ASSERT_EQ(alice.Connect(s.port(), "/ws?token=" + Mint("demo", "alice")), 101);
  auto welcome_a = alice.Read();
  ASSERT_TRUE(welcome_a);
  EXPECT_EQ((*welcome_a)["type"], "welcome");
  EXPECT_TRUE((*welcome_a)["peers"].empty());
  EXPECT_EQ((*welcome_a)["iceServers"].size(), 2u);
  const std::string alice_id = (*welcome_a)["peerId"];

  ASSERT_EQ(bob->Connect(s.port(), "/ws?token=" + Mint("demo", "bob")), 101);
  auto welcome_b = bob->Read();
  ASSERT_TRUE(welcome_b);
  ASSERT_EQ((*welcome_b)["peers"].size(), 1u);
  EXPECT_EQ((*welcome_b)["peers"][0]["peerId"], alice_id);
  const std::string bob_id = (*welcome_b)["peerId"];

  auto joined = alice.Read();
  ASSERT_TRUE(joined);
  EXPECT_EQ((*joined)["type"], "peer-joined");
  EXPECT_EQ((*joined)["peer"]["peerId"], bob_id);
  EXPECT_EQ((*joined)["peer"]["identity"], "bob");

  alice.Send({{"type", "offer"}, {"to", bob_id}, {"sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}});
  auto offer = bob->Read();
  ASSERT_TRUE(offer);
  EXPECT_EQ(*offer,
            (Json{{"type", "offer"}, {"from", alice_id}, {"sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}}));

  bob->Send({{"type", "answer"}, {"to", alice_id}, {"sdp", "v=0 answer"}});
  auto answer = alice.Read();
  ASSERT_TRUE(answer);
  EXPECT_EQ((*answer)["type"], "answer");
  EXPECT_EQ((*answer)["from"], bob_id);

  Json candidate = {{"candidate", "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"},
                    {"sdpMid", "0"},
                    {"sdpMLineIndex", 0}};
  bob->Send({{"type", "candidate"}, {"to", alice_id}, {"candidate", candidate}});
  bob->Send({{"type", "candidate"}, {"to", alice_id}, {"candidate", nullptr}});
  auto c1 = alice.Read();
  auto c2 = alice.Read();
  ASSERT_TRUE(c1 && c2);
  EXPECT_EQ((*c1)["candidate"], candidate);
  EXPECT_TRUE((*c2)["candidate"].is_null());

  // Errors keep the socket open and carry the ref.
  alice.Send({{"type", "offer"}, {"to", "p-nobody"}, {"sdp", "x"}, {"id", 5}});
  auto error = alice.Read();
  ASSERT_TRUE(error);
  EXPECT_EQ((*error)["code"], "unknown_peer");
  EXPECT_EQ((*error)["ref"], 5);
  alice.SendText("{oops");
  EXPECT_EQ((*alice.Read())["code"], "bad_json");
  alice.Send({{"type", "ping"}, {"ts", 99}});
  EXPECT_EQ(*alice.Read(), (Json{{"type", "pong"}, {"ts", 99}}));

  // Presence over HTTP, then bob leaves.
  auto presence = Request(s.port(), http::verb::get, "/api/rooms/demo", "", "Bearer " + Mint("demo", "x"));
  EXPECT_EQ(presence.status, 200);
  EXPECT_EQ((*signaling::ParseJson(presence.body))["peers"].size(), 2u);
  bob.reset();  // closes the socket without a close frame
  auto left = alice.ReadType("peer-left");
  ASSERT_TRUE(left);
  EXPECT_EQ((*left)["peerId"], bob_id);
  EXPECT_TRUE(Eventually([&] { return s.service().Stats().peers == 1; }));
}

TEST(SignalService, HttpMessageArrivesOnTheSocket) {
  RunningSignal s(Config());
  WsClient alice;
  ASSERT_EQ(alice.Connect(s.port(), "/ws?token=" + Mint("demo", "alice")), 101);
  const std::string alice_id = (*alice.Read())["peerId"];
  auto r = Request(s.port(), http::verb::post, "/api/rooms/demo/messages",
                   Json{{"to", alice_id}, {"data", {{"hello", "world"}}}}.dump(),
                   "Bearer " + Mint("demo", "backend"));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"delivered":1})");
  EXPECT_EQ(r.cache_control, "no-store");
  auto frame = alice.Read();
  ASSERT_TRUE(frame);
  EXPECT_EQ(*frame, (Json{{"type", "message"}, {"from", "http:backend"}, {"data", {{"hello", "world"}}}}));
  // Broadcast, and a body that expects 100-continue (curl sends that for bodies above 1 KiB).
  std::string big = Json{{"data", std::string(4000, 'x')}}.dump();
  r = Request(s.port(), http::verb::post, "/api/rooms/demo/messages", big,
              "Bearer " + Mint("demo", "backend"), {{"Expect", "100-continue"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ((*alice.Read())["data"].get<std::string>().size(), 4000u);
}

TEST(SignalService, BadAndExpiredTokensAreRefusedWith401OnUpgrade) {
  RunningSignal s(Config());
  WsClient bad;
  EXPECT_EQ(bad.Connect(s.port(), "/ws?token=" + Mint("demo", "a") + "x"), 401);
  EXPECT_EQ((*signaling::ParseJson(bad.refusal_body()))["error"]["code"], "bad_token");
  WsClient none;
  EXPECT_EQ(none.Connect(s.port(), "/ws"), 401);
  WsClient expired;
  EXPECT_EQ(expired.Connect(s.port(), "/ws?token=" + Mint("demo", "a", -7200, 3600)), 401);
  EXPECT_EQ((*signaling::ParseJson(expired.refusal_body()))["error"]["code"], "token_expired");
  WsClient wrong_path;
  EXPECT_EQ(wrong_path.Connect(s.port(), "/other?token=" + Mint("demo", "a")), 404);
  EXPECT_TRUE(Eventually([&] { return s.service().Stats().core.upgrades_refused == 4; }));
}

TEST(SignalService, RoomFullAndPerIpLimitsAnswerWithHttpStatus) {
  SignalServiceConfig config = Config();
  config.core.limits.max_peers_per_room = 1;
  config.core.limits.max_peers_per_ip = 2;
  RunningSignal s(config);
  WsClient a, b, c, d;
  ASSERT_EQ(a.Connect(s.port(), "/ws?token=" + Mint("r1", "a")), 101);
  EXPECT_EQ(b.Connect(s.port(), "/ws?token=" + Mint("r1", "b")), 409);
  ASSERT_EQ(c.Connect(s.port(), "/ws?token=" + Mint("r2", "c")), 101);
  EXPECT_EQ(d.Connect(s.port(), "/ws?token=" + Mint("r3", "d")), 429);
}

TEST(SignalService, OversizeFrameGetsAnErrorAndClose4009) {
  SignalServiceConfig config = Config();
  config.core.max_message_bytes = 1024;
  RunningSignal s(config);
  WsClient a;
  ASSERT_EQ(a.Connect(s.port(), "/ws?token=" + Mint("demo", "a")), 101);
  ASSERT_TRUE(a.Read());
  a.SendText(R"({"type":"message","data":")" + std::string(100000, 'x') + "\"}");
  auto error = a.Read();
  ASSERT_TRUE(error);
  EXPECT_EQ((*error)["code"], "too_large");
  EXPECT_FALSE(a.Read());
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(a.close_code(), 4009);
}

TEST(SignalService, SlowReaderIsDisconnectedWithItsQueueBounded) {
  SignalServiceConfig config = Config();
  config.core.limits.messages_per_second = 0;  // unlimited: this test floods on purpose
  config.http.max_send_queue_bytes = 256 * 1024;
  RunningSignal s(config);
  WsClient reader, writer;
  // A small receive window so the kernel buffers fill quickly; the reader then never reads.
  ASSERT_EQ(reader.Connect(s.port(), "/ws?token=" + Mint("demo", "slow"), 4096), 101);
  const std::string reader_id = (*reader.Read())["peerId"];
  ASSERT_EQ(writer.Connect(s.port(), "/ws?token=" + Mint("demo", "fast")), 101);
  ASSERT_TRUE(writer.Read());
  const std::string payload(60000, 'x');
  // 18 MB: far more than the kernel's socket buffers (4 MiB at most here) and the 256 KiB queue can hold. The
  // server reads the writer as fast as it can; only the path to the reader backs up.
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(writer.Send({{"type", "message"}, {"to", reader_id}, {"data", payload}}));
  auto left = writer.ReadType("peer-left");
  ASSERT_TRUE(left);
  EXPECT_EQ((*left)["peerId"], reader_id);
  EXPECT_TRUE(Eventually([&] { return s.service().Stats().http.slow_readers_closed >= 1; }));
  const auto stats = s.service().Stats();
  EXPECT_LE(stats.http.peak_send_queue_bytes, 256 * 1024 + 61000);
  EXPECT_EQ(stats.peers, 1u);
}

TEST(SignalService, TokenApiNeedsTheKeyAndMintsUsableTokens) {
  RunningSignal s(Config());
  const std::string body = R"({"room":"demo","identity":"carol"})";
  EXPECT_EQ(Request(s.port(), http::verb::post, "/api/token", body).status, 401);
  auto r = Request(s.port(), http::verb::post, "/api/token", body, std::string("Bearer ") + kApiKey);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string token = (*signaling::ParseJson(r.body))["token"];
  WsClient c;
  EXPECT_EQ(c.Connect(s.port(), "/ws?token=" + token), 101);
  auto ice = Request(s.port(), http::verb::get, "/api/ice-servers", "", "Bearer " + token);
  EXPECT_EQ(ice.status, 200);
  auto json = signaling::ParseJson(ice.body);
  ASSERT_TRUE(json);
  const std::string username = (*json)["iceServers"][1]["username"];
  EXPECT_EQ(username.substr(username.find(':')), ":carol");
}

TEST(SignalService, HttpLimitsAndErrors) {
  RunningSignal s(Config());
  auto health = Request(s.port(), http::verb::get, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"ok":true})");
  EXPECT_EQ(health.content_type, "application/json");
  auto too_big = Request(s.port(), http::verb::post, "/api/rooms/demo/messages", std::string(70000, 'x'),
                         "Bearer " + Mint("demo", "x"));
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(ErrorCode(too_big), "too_large");
  auto big_header =
      Request(s.port(), http::verb::get, "/healthz", "", "", {{"X-Filler", std::string(9000, 'y')}});
  EXPECT_EQ(big_header.status, 431);
  EXPECT_EQ(Request(s.port(), http::verb::get, "/api/none").status, 404);
  EXPECT_EQ(Request(s.port(), http::verb::delete_, "/api/token").status, 405);
  EXPECT_EQ(Request(s.port(), http::verb::get, "/ws").status, 426);
  // CORS: preflight and the header on API responses.
  auto preflight = Request(s.port(), http::verb::options, "/api/token", "", "",
                           {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.allow_origin, "*");
  EXPECT_EQ(health.allow_origin, "*");

  // Garbage instead of HTTP: 400 and the connection closes.
  asio::io_context ioc;
  tcp::socket raw(ioc);
  raw.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
  asio::write(raw, asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
  std::string reply(64, '\0');
  beast::error_code ec;
  size_t n = raw.read_some(asio::buffer(reply), ec);
  EXPECT_EQ(reply.substr(0, std::min<size_t>(n, 12)), "HTTP/1.1 400");
}

TEST(SignalService, ServesStaticFilesFromDiskWithoutEscapingTheRoot) {
  char tmpl[] = "/tmp/tandem-web-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path root(tmpl);
  std::filesystem::create_directories(root / "sdk");
  std::ofstream(root / "index.html") << "<!doctype html><title>Tandem</title>";
  std::ofstream(root / "sdk" / "tandem.js") << "export const x = 1;";
  SignalServiceConfig config = Config();
  config.web_root = root.string();
  RunningSignal s(config);

  auto index = Request(s.port(), http::verb::get, "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>Tandem</title>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index.cache_control, "no-cache");
  auto sdk = Request(s.port(), http::verb::get, "/sdk/tandem.js?v=1");
  EXPECT_EQ(sdk.status, 200);
  EXPECT_EQ(sdk.content_type, "text/javascript; charset=utf-8");
  auto head = Request(s.port(), http::verb::head, "/index.html");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(Request(s.port(), http::verb::get, "/../../etc/passwd").status, 404);
  EXPECT_EQ(Request(s.port(), http::verb::get, "/%2e%2e/%2e%2e/etc/passwd").status, 404);
  EXPECT_EQ(Request(s.port(), http::verb::get, "/missing.js").status, 404);
  EXPECT_EQ(Request(s.port(), http::verb::post, "/index.html", "x").status, 405);
  std::filesystem::remove_all(root);
}

TEST(SignalService, ServesTheEmbeddedWebUi) {
  RunningSignal s(Config());
  EXPECT_EQ(s.service().embedded_file_count(), web_assets::kAssetCount);
  bool has_index = false;
  for (size_t i = 0; i < web_assets::kAssetCount; ++i)
    has_index |= std::string(web_assets::kAssets[i].path) == "index.html";
  ASSERT_TRUE(has_index) << "web/index.html must be embedded at build time";
  auto index = Request(s.port(), http::verb::get, "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<"), std::string::npos);
}

TEST(SignalService, StopClosesSocketsWithGoingAway) {
  auto s = std::make_unique<RunningSignal>(Config());
  WsClient a;
  ASSERT_EQ(a.Connect(s->port(), "/ws?token=" + Mint("demo", "a")), 101);
  ASSERT_TRUE(a.Read());
  s.reset();
  EXPECT_FALSE(a.Read());
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(a.close_code(), 1001);
}

// A self-signed P-256 certificate for "localhost" in a temporary directory.
class TempCertificate {
 public:
  TempCertificate() {
    char tmpl[] = "/tmp/tandem-cert-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(x, key, EVP_sha256());
    FILE* f = std::fopen(cert_path().c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(key_path().c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
  }
  ~TempCertificate() { std::filesystem::remove_all(dir_); }
  std::string cert_path() const { return (dir_ / "cert.pem").string(); }
  std::string key_path() const { return (dir_ / "key.pem").string(); }

 private:
  std::filesystem::path dir_;
};

TEST(SignalService, ServesHttpsAndWss) {
  TempCertificate cert;
  SignalServiceConfig config = Config();
  config.cert_file = cert.cert_path();
  config.key_file = cert.key_path();
  RunningSignal s(config);
  EXPECT_EQ(s.service().BaseUrl(), "https://127.0.0.1:" + std::to_string(s.port()));

  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(cert.cert_path());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), "localhost");
  ws.next_layer().set_verify_callback(asio::ssl::host_name_verification("localhost"));
  bool done = false;
  beast::error_code ec;
  ws.next_layer().async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  ASSERT_TRUE(Await(ioc, done, [&] { beast::get_lowest_layer(ws).cancel(); }));
  ASSERT_FALSE(ec) << ec.message();
  done = false;
  ws.async_handshake("localhost", "/ws?token=" + Mint("demo", "tls"), [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  ASSERT_TRUE(Await(ioc, done, [&] { beast::get_lowest_layer(ws).cancel(); }));
  ASSERT_FALSE(ec) << ec.message();
  beast::flat_buffer buffer;
  done = false;
  ws.async_read(buffer, [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  });
  ASSERT_TRUE(Await(ioc, done, [&] { beast::get_lowest_layer(ws).cancel(); }));
  ASSERT_FALSE(ec) << ec.message();
  auto welcome = signaling::ParseJson(beast::buffers_to_string(buffer.data()));
  ASSERT_TRUE(welcome);
  EXPECT_EQ((*welcome)["type"], "welcome");
  EXPECT_EQ((*welcome)["identity"], "tls");
}

TEST(SignalService, TlsRequiresBothFiles) {
  SignalServiceConfig config = Config();
  config.cert_file = "/nonexistent.pem";
  EXPECT_THROW(SignalService{config}, std::runtime_error);
}

// A WebSocket client that writes frames exactly as the test builds them (masked or not, fragmented,
// malformed) and reads the server's frames raw: the server's RFC 6455 framing rules, which a library client
// would never break. Blocking socket with a receive timeout, so a broken server fails the test instead of
// hanging it.
class RawClient {
 public:
  struct Frame {
    uint8_t opcode = 0;
    bool fin = false;
    std::string payload;
  };

  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Upgrades with the RFC 6455 §1.3 sample key; true on 101 with the matching Sec-WebSocket-Accept.
  bool Connect(uint16_t port, const std::string& target) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return false;
    Write("GET " + target +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    while (rx_.find("\r\n\r\n") == std::string::npos) {
      if (!Fill()) return false;
    }
    const size_t end = rx_.find("\r\n\r\n");
    const std::string head = rx_.substr(0, end);
    rx_.erase(0, end + 4);
    return head.rfind("HTTP/1.1 101", 0) == 0 &&
           head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos;
  }

  // One frame: `first` is the first header byte (FIN, RSV, opcode); masked with a fixed key unless told not
  // to.
  static std::string Build(uint8_t first, std::string_view payload, bool mask = true) {
    std::string f(1, static_cast<char>(first));
    const uint8_t mask_bit = mask ? 0x80 : 0;
    if (payload.size() < 126) {
      f += static_cast<char>(mask_bit | payload.size());
    } else {
      f += static_cast<char>(mask_bit | 126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xFF);
    }
    const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) f.append(reinterpret_cast<const char*>(key), 4);
    for (size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ (mask ? key[i % 4] : 0));
    return f;
  }

  void Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // The next server frame; nullopt on EOF or timeout.
  std::optional<Frame> Read() {
    while (true) {
      if (rx_.size() >= 2) {
        const auto* h = reinterpret_cast<const uint8_t*>(rx_.data());
        EXPECT_EQ(h[1] & 0x80, 0) << "server frames are not masked";
        uint64_t len = h[1] & 0x7F;
        size_t header = len == 126 ? 4 : len == 127 ? 10 : 2;
        if (rx_.size() >= header) {
          if (header == 4) len = (uint64_t{h[2]} << 8) | h[3];
          if (header == 10) {
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
          }
          if (rx_.size() >= header + len) {
            Frame f{static_cast<uint8_t>(h[0] & 0x0F), (h[0] & 0x80) != 0, rx_.substr(header, len)};
            rx_.erase(0, header + len);
            return f;
          }
        }
      }
      if (!Fill()) return std::nullopt;
    }
  }

  // The next text frame parsed as JSON (control frames in between are checked by the caller, so none
  // expected).
  std::optional<Json> ReadJson() {
    auto f = Read();
    if (!f || f->opcode != 0x1) return std::nullopt;
    return signaling::ParseJson(f->payload);
  }

  // True when the server closed the TCP connection (recv returns 0) with nothing more to read.
  bool AtEof() {
    char c;
    return rx_.empty() && ::recv(fd_, &c, 1, 0) == 0;
  }

  static uint16_t CloseCode(const Frame& f) {
    if (f.payload.size() < 2) return 0;
    return static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                                 static_cast<uint8_t>(f.payload[1]));
  }

 private:
  bool Fill() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    rx_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string rx_;
};

std::string AppPing(const std::string& ts) { return R"({"type":"ping","ts":)" + ts + "}"; }

TEST(SignalService, WebSocketFramingFollowsRfc6455) {
  RunningSignal s(Config());
  RawClient c;
  ASSERT_TRUE(c.Connect(s.port(), "/ws?token=" + Mint("demo", "raw")));
  auto welcome = c.ReadJson();
  ASSERT_TRUE(welcome);
  EXPECT_EQ((*welcome)["type"], "welcome");

  // A fragmented message with a ping between its fragments (§5.4, §5.5.2): the pong comes first, with the
  // ping's data, then the answer to the reassembled message.
  c.Write(RawClient::Build(0x01, R"({"type":"pi)") + RawClient::Build(0x89, "hb") +
          RawClient::Build(0x00, R"(ng","ts")") + RawClient::Build(0x80, ":7}"));
  auto pong = c.Read();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, 0xA);
  EXPECT_EQ(pong->payload, "hb");
  EXPECT_EQ(c.ReadJson(), (Json{{"type", "pong"}, {"ts", 7}}));

  // Several frames in one write, one of them with a 16-bit length; then a frame trickled byte by byte; then a
  // UTF-8 character split across two fragments.
  std::string batch;
  for (int i = 1; i <= 3; ++i) batch += RawClient::Build(0x81, AppPing(std::to_string(i)));
  const std::string long_ts(300, 'x');
  batch += RawClient::Build(0x81, AppPing("\"" + long_ts + "\""));
  c.Write(batch);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(c.ReadJson(), (Json{{"type", "pong"}, {"ts", i}}));
  EXPECT_EQ(c.ReadJson(), (Json{{"type", "pong"}, {"ts", long_ts}}));
  for (char ch : RawClient::Build(0x81, AppPing("4"))) c.Write(std::string(1, ch));
  EXPECT_EQ(c.ReadJson(), (Json{{"type", "pong"}, {"ts", 4}}));
  c.Write(RawClient::Build(0x01, AppPing("\"caf\xc3").substr(0, 25)) +
          RawClient::Build(0x80, AppPing("\"caf\xc3\xa9\"").substr(25)));
  EXPECT_EQ(c.ReadJson(), (Json{{"type", "pong"}, {"ts", "caf\xc3\xa9"}}));

  // The client closes: the server answers with the same status code and closes the connection first (§5.5.1,
  // §7.1.1).
  c.Write(RawClient::Build(0x88, std::string("\x03\xe8", 2)));
  auto close = c.Read();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, 0x8);
  EXPECT_EQ(RawClient::CloseCode(*close), 1000);
  EXPECT_TRUE(c.AtEof());
  EXPECT_TRUE(Eventually([&] { return s.service().Stats().peers == 0; }));
}

TEST(SignalService, WebSocketProtocolViolationsFailTheConnection) {
  RunningSignal s(Config());
  struct Case {
    const char* name;
    std::string bytes;
    uint16_t code;
  };
  const std::vector<Case> cases = {
      {"unmasked client frame (§5.1)", RawClient::Build(0x81, AppPing("1"), /*mask=*/false), 1002},
      {"RSV1 without an extension (§5.2)", RawClient::Build(0xC1, AppPing("1")), 1002},
      {"unknown opcode", RawClient::Build(0x83, "x"), 1002},
      {"continuation of nothing (§5.4)", RawClient::Build(0x80, AppPing("1")), 1002},
      {"new message inside a fragmented one (§5.4)",
       RawClient::Build(0x01, "{") + RawClient::Build(0x81, "{}"), 1002},
      {"fragmented control frame (§5.5)", RawClient::Build(0x09, "x"), 1002},
      {"control frame above 125 bytes (§5.5)", RawClient::Build(0x89, std::string(126, 'p')), 1002},
      {"invalid UTF-8 in a text message (§8.1)",
       RawClient::Build(0x81, "{\"type\":\"ping\",\"ts\":\"\xc3\x28\"}"), 1007},
      {"surrogate encoded in UTF-8 (RFC 3629 §3)", RawClient::Build(0x81, "\"\xed\xa0\x80\""), 1007},
  };
  for (const Case& k : cases) {
    RawClient c;
    ASSERT_TRUE(c.Connect(s.port(), "/ws?token=" + Mint("demo", "raw"))) << k.name;
    ASSERT_TRUE(c.ReadJson()) << k.name;
    c.Write(k.bytes);
    auto close = c.Read();
    ASSERT_TRUE(close) << k.name;
    EXPECT_EQ(close->opcode, 0x8) << k.name;
    EXPECT_EQ(RawClient::CloseCode(*close), k.code) << k.name;
    EXPECT_TRUE(c.AtEof()) << k.name;
  }
  EXPECT_TRUE(Eventually([&] { return s.service().Stats().peers == 0; }));
}

TEST(SignalService, OversizeFragmentedMessageIsSkippedUnbuffered) {
  SignalServiceConfig config = Config();
  config.core.max_message_bytes = 1024;
  RunningSignal s(config);
  RawClient c;
  ASSERT_TRUE(c.Connect(s.port(), "/ws?token=" + Mint("demo", "big")));
  ASSERT_TRUE(c.ReadJson());
  // 600 + 600 bytes: over the limit only together. The application answers too_large and closes with 4009;
  // the rest of the message is skipped, and the client's close frame completes the closing handshake.
  c.Write(RawClient::Build(0x01, std::string(600, ' ')) + RawClient::Build(0x00, std::string(600, ' ')) +
          RawClient::Build(0x80, std::string(600, ' ')));
  auto error = c.ReadJson();
  ASSERT_TRUE(error);
  EXPECT_EQ((*error)["code"], "too_large");
  auto close = c.Read();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->opcode, 0x8);
  EXPECT_EQ(RawClient::CloseCode(*close), 4009);
  c.Write(RawClient::Build(0x88, std::string("\x0f\xa9", 2)));
  EXPECT_TRUE(c.AtEof());
  EXPECT_TRUE(Eventually([&] { return s.service().Stats().peers == 0; }));
}

}  // namespace
}  // namespace tandem::server
