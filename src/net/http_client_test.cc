// HttpFetch and WebSocketClient against the project's HttpServer on loopback, both on one EventLoop (RunUntil bounds
// every wait, so a broken client fails instead of hanging).
#include "net/http_client.h"

#include <gtest/gtest.h>

#include "net/event_loop.h"
#include "net/http_server.h"

namespace tandem::net {
namespace {

constexpr TimeDelta kTimeout = TimeDelta::Seconds(5);

TEST(UrlTest, ParsesSchemesHostsPortsAndTargets) {
  auto u = Url::Parse("http://127.0.0.1:8080");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->HostHeader(), "127.0.0.1:8080");

  u = Url::Parse("WSS://example.org/ws?token=a.b.c#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "wss");
  EXPECT_TRUE(u->secure());
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/ws?token=a.b.c");
  EXPECT_EQ(u->HostHeader(), "example.org");

  u = Url::Parse("ws://[::1]:9/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->HostHeader(), "[::1]:9");

  u = Url::Parse("http://host?q=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?q=1");

  for (const char* bad : {"", "127.0.0.1:80", "ftp://x/", "http://", "http://:80/", "http://h:0/", "http://h:70000/",
                          "http://h:8x/", "http://user@h/", "http://[::1/"}) {
    EXPECT_FALSE(Url::Parse(bad)) << bad;
  }
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpHandlers handlers;
    handlers.on_request = [this](const HttpRequest& req) {
      last_request_ = req;
      HttpResponse response;
      response.status = req.target == "/missing" ? 404 : 200;
      response.body = req.method + " " + req.target + " " + req.body;
      return response;
    };
    handlers.on_upgrade = [](uint64_t, const HttpRequest& req) -> std::optional<HttpResponse> {
      if (req.target == "/ws?ok=1") return std::nullopt;
      HttpResponse refused;
      refused.status = 401;
      refused.body = "no";
      return refused;
    };
    handlers.on_message = [this](uint64_t id, std::string_view message, bool) {
      if (message == "bye") {
        server_->Close(id, 4001, "asked to");
        return;
      }
      server_->Send(id, std::make_shared<const std::string>("echo:" + std::string(message)));
    };
    handlers.on_close = [this](uint64_t) { ++server_closes_; };
    auto server = HttpServer::Listen(loop_, *SocketAddress::Parse("127.0.0.1:0"), nullptr, std::move(handlers));
    ASSERT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(*server);
    base_ = "http://127.0.0.1:" + std::to_string(server_->local_address().port());
  }

  EventLoop loop_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  HttpRequest last_request_;
  int server_closes_ = 0;
};

TEST_F(HttpClientTest, FetchSendsMethodHeadersAndBodyAndReturnsTheResponse) {
  HttpClientRequest request;
  request.method = "POST";
  request.url = *Url::Parse(base_ + "/api/token");
  request.headers = {{"Authorization", "Bearer k"}, {"Content-Type", "application/json"}};
  request.body = R"({"room":"r"})";
  std::optional<HttpClientResponse> response;
  HttpFetch(loop_, request, [&](HttpClientResponse r) { response = std::move(r); });
  ASSERT_TRUE(loop_.RunUntil([&] { return response.has_value(); }, kTimeout));
  EXPECT_EQ(response->error, "");
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"(POST /api/token {"room":"r"})");
  EXPECT_EQ(last_request_.Header("authorization"), "Bearer k");

  request.method = "GET";
  request.url = *Url::Parse(base_ + "/missing");
  request.body.clear();
  response.reset();
  HttpFetch(loop_, request, [&](HttpClientResponse r) { response = std::move(r); });
  ASSERT_TRUE(loop_.RunUntil([&] { return response.has_value(); }, kTimeout));
  EXPECT_EQ(response->status, 404);
}

TEST_F(HttpClientTest, FetchReportsAConnectionFailure) {
  const uint16_t port = server_->local_address().port();
  server_.reset();  // nothing listens there any more
  HttpClientRequest request;
  request.url = *Url::Parse("http://127.0.0.1:" + std::to_string(port) + "/");
  std::optional<HttpClientResponse> response;
  HttpFetch(loop_, request, [&](HttpClientResponse r) { response = std::move(r); });
  ASSERT_TRUE(loop_.RunUntil([&] { return response.has_value(); }, kTimeout));
  EXPECT_EQ(response->status, 0);
  EXPECT_NE(response->error.find("cannot connect"), std::string::npos) << response->error;
}

TEST_F(HttpClientTest, WebSocketExchangesMessagesAndReportsTheServersCloseCode) {
  std::vector<std::string> received;
  bool opened = false;
  std::optional<std::pair<uint16_t, std::string>> closed;
  WebSocketClientHandlers handlers;
  handlers.on_open = [&] { opened = true; };
  handlers.on_message = [&](std::string_view text) { received.emplace_back(text); };
  handlers.on_close = [&](uint16_t code, std::string reason) { closed.emplace(code, std::move(reason)); };
  auto ws = WebSocketClient::Connect(loop_, *Url::Parse("ws" + base_.substr(4) + "/ws?ok=1"), std::move(handlers));
  // Queued before the socket opens: sent once it does, in order.
  EXPECT_TRUE(ws->Send("one"));
  EXPECT_TRUE(ws->Send("two"));
  ASSERT_TRUE(loop_.RunUntil([&] { return received.size() == 2; }, kTimeout));
  EXPECT_TRUE(opened);
  EXPECT_EQ(received, (std::vector<std::string>{"echo:one", "echo:two"}));
  EXPECT_TRUE(ws->is_open());
  EXPECT_TRUE(ws->Send("bye"));
  ASSERT_TRUE(loop_.RunUntil([&] { return closed.has_value(); }, kTimeout));
  EXPECT_EQ(closed->first, 4001);
  EXPECT_EQ(closed->second, "asked to");
  EXPECT_FALSE(ws->is_open());
  EXPECT_FALSE(ws->Send("late"));
}

TEST_F(HttpClientTest, RefusedUpgradeReportsTheHttpStatus) {
  std::optional<std::pair<uint16_t, std::string>> closed;
  bool opened = false;
  WebSocketClientHandlers handlers;
  handlers.on_open = [&] { opened = true; };
  handlers.on_close = [&](uint16_t code, std::string reason) { closed.emplace(code, std::move(reason)); };
  auto ws = WebSocketClient::Connect(loop_, *Url::Parse("ws" + base_.substr(4) + "/ws?ok=0"), std::move(handlers));
  ASSERT_TRUE(loop_.RunUntil([&] { return closed.has_value(); }, kTimeout));
  EXPECT_FALSE(opened);
  EXPECT_EQ(closed->first, 0);
  EXPECT_NE(closed->second.find("HTTP 401"), std::string::npos) << closed->second;
}

TEST_F(HttpClientTest, ClientCloseEndsTheSocketOnBothSides) {
  std::optional<uint16_t> closed;
  bool opened = false;
  WebSocketClientHandlers handlers;
  handlers.on_open = [&] { opened = true; };
  handlers.on_close = [&](uint16_t code, std::string) { closed = code; };
  auto ws = WebSocketClient::Connect(loop_, *Url::Parse("ws" + base_.substr(4) + "/ws?ok=1"), std::move(handlers));
  ASSERT_TRUE(loop_.RunUntil([&] { return opened; }, kTimeout));
  ws->Close(1000, "done");
  ASSERT_TRUE(loop_.RunUntil([&] { return closed.has_value() && server_closes_ == 1; }, kTimeout));
  EXPECT_EQ(*closed, 1000);
}

TEST_F(HttpClientTest, DestroyingTheClientCallsNoHandler) {
  bool called = false;
  WebSocketClientHandlers handlers;
  handlers.on_open = [&] { called = true; };
  handlers.on_close = [&](uint16_t, std::string) { called = true; };
  auto ws = WebSocketClient::Connect(loop_, *Url::Parse("ws" + base_.substr(4) + "/ws?ok=1"), std::move(handlers));
  ws.reset();
  loop_.RunFor(TimeDelta::Millis(50));
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace tandem::net
