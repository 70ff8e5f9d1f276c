#include "server/signal/signal_service.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "core/log.h"
#include "core/rng.h"
#include "net/event_loop.h"
#include "net/stream_server.h"
#include "server/signal/static_site.h"
#include "signal/json.h"

namespace tandem::server {
namespace {

constexpr char kLog[] = "signal-service";
constexpr TimeDelta kShutdownGrace = TimeDelta::Millis(1000);
constexpr TimeDelta kShutdownPoll = TimeDelta::Millis(20);
constexpr TimeDelta kStatsInterval = TimeDelta::Seconds(1);

net::HttpResponse JsonError(int status, const char* code, std::string_view message) {
  net::HttpResponse r;
  r.status = status;
  r.body = signaling::DumpJson({{"error", {{"code", code}, {"message", message}}}});
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

net::HttpResponse FromApi(signaling::ApiResponse api) {
  net::HttpResponse r;
  r.status = api.status;
  r.body = std::move(api.body);
  r.headers.emplace_back("Cache-Control", "no-store");
  // The API authenticates with bearer tokens, never cookies, so any origin may call it (the SDK's `server` option
  // points pages on other origins here).
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  if (api.allow != nullptr && *api.allow != '\0') r.headers.emplace_back("Allow", api.allow);
  return r;
}

// CORS preflight (Fetch standard §3.2.2) for the API: bearer tokens and JSON bodies from any origin.
net::HttpResponse Preflight() {
  net::HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  r.headers = {{"Access-Control-Allow-Origin", "*"},
               {"Access-Control-Allow-Methods", "GET, POST"},
               {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
               {"Access-Control-Max-Age", "600"}};
  return r;
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

class SignalService::Impl {
 public:
  explicit Impl(SignalServiceConfig config)
      : config_(std::move(config)),
        core_(config_.core, rng_),
        timer_(loop_),
        stats_timer_(loop_),
        shutdown_timer_(loop_) {
    if (config_.serve_web) {
      site_ = config_.web_root.empty() ? MakeEmbeddedSite() : MakeDiskSite(config_.web_root);
    }
    std::shared_ptr<net::TlsServerContext> tls;
    if (!config_.cert_file.empty() || !config_.key_file.empty()) {
      if (config_.cert_file.empty() || config_.key_file.empty())
        throw std::runtime_error("TLS needs both a certificate (--cert) and a private key (--pkey)");
      tls = net::TlsServerContext::FromFiles(config_.cert_file, config_.key_file);
    }
    net::HttpServerOptions options = config_.http;
    options.max_body_bytes = config_.core.max_message_bytes;
    options.max_message_bytes = config_.core.max_message_bytes;
    // The core limits WebSockets per IP; TCP connections per IP get room for a browser's parallel HTTP
    // connections next to its sockets, and are cut at accept beyond that.
    const signaling::RegistryLimits& limits = config_.core.limits;
    if (config_.http.max_connections_per_ip == net::HttpServerOptions{}.max_connections_per_ip)
      options.max_connections_per_ip = 2 * limits.max_peers_per_ip + 16;
    if (config_.http.max_connections == net::HttpServerOptions{}.max_connections)
      options.max_connections = limits.max_peers + 1024;

    auto server = net::HttpServer::Listen(loop_, config_.listen, tls, Handlers(), options);
    if (!server.ok()) {
      throw std::runtime_error("cannot listen for HTTP on " + config_.listen.ToString() + ": " +
                               server.error().ToString());
    }
    http_ = std::move(*server);
    tls_ = tls != nullptr;
  }

  ~Impl() {
    if (http_) http_->Shutdown();
  }

  SocketAddress local_address() const { return http_->local_address(); }

  std::string BaseUrl() const {
    SocketAddress a = local_address();
    IpAddress ip = a.ip();
    if (ip.IsUnspecified()) ip = ip.is_v6() ? *IpAddress::Parse("::1") : IpAddress::LoopbackV4();
    const std::string host = ip.is_v6() ? "[" + ip.ToString() + "]" : ip.ToString();
    return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(a.port());
  }

  size_t embedded_file_count() const { return site_ && config_.web_root.empty() ? site_->file_count() : 0; }

  void Run() {
    PublishStatsLoop();
    loop_.Run();
    PublishStats();
  }

  void Stop() {
    loop_.Post([this] { BeginShutdown(); });
  }

  SignalServiceStats Stats() const {
    std::lock_guard lock(stats_mutex_);
    return stats_;
  }

 private:
  net::HttpHandlers Handlers() {
    net::HttpHandlers h;
    h.on_request = [this](const net::HttpRequest& r) { return OnRequest(r); };
    h.on_upgrade = [this](uint64_t id, const net::HttpRequest& r) -> std::optional<net::HttpResponse> {
      auto refusal = core_.HandleUpgrade(loop_.Now(), net::EventLoop::WallNow(), id, r.remote.ip(), r.target);
      AfterInput();
      if (refusal) return FromApi(std::move(*refusal));
      return std::nullopt;
    };
    h.on_message = [this](uint64_t id, std::string_view text, bool binary) {
      core_.HandleFrame(loop_.Now(), id, text, binary);
      AfterInput();
    };
    h.on_message_too_large = [this](uint64_t id) {
      core_.HandleFrameTooLarge(loop_.Now(), id);
      AfterInput();
    };
    h.on_pong = [this](uint64_t id) { core_.HandlePong(loop_.Now(), id); };
    h.on_close = [this](uint64_t id) {
      core_.HandleClosed(loop_.Now(), id);
      AfterInput();
    };
    h.error_response = [](int status, const char* code, const char* message) {
      return JsonError(status, code, message);
    };
    return h;
  }

  net::HttpResponse OnRequest(const net::HttpRequest& r) {
    if (signaling::SignalingCore::IsApiPath(r.target)) {
      if (r.method == "OPTIONS") return Preflight();
      signaling::ApiRequest api;
      api.method = r.method;
      api.target = r.target;
      api.authorization = r.Header("Authorization");
      api.body = r.body;
      api.client = r.remote.ip();
      signaling::ApiResponse response = core_.HandleApi(loop_.Now(), net::EventLoop::WallNow(), api);
      AfterInput();
      return FromApi(std::move(response));
    }
    if (PathOf(r.target) == "/ws") return JsonError(426, "bad_request", "WebSocket upgrade required");
    if (!site_) return JsonError(404, "not_found", "no such route");
    if (r.method != "GET" && r.method != "HEAD") {
      net::HttpResponse e = JsonError(405, "method_not_allowed", "method not allowed");
      e.headers.emplace_back("Allow", "GET, HEAD");
      return e;
    }
    std::optional<StaticFile> file = site_->Lookup(r.target);
    if (!file) return JsonError(404, "not_found", "no such file");
    net::HttpResponse out;
    out.content_type = std::move(file->content_type);
    out.body = std::move(file->body);
    // Always revalidate: the UI changes with the binary (or on disk with --web-root).
    out.headers.emplace_back("Cache-Control", "no-cache");
    out.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return out;
  }

  // After every input: hand the core's outputs to the IO layer, then move the timer if the deadline moved.
  void AfterInput() {
    while (std::optional<signaling::Output> out = core_.PollOutput()) {
      switch (out->kind) {
        case signaling::Output::Kind::kSend:
          // False: the connection is gone or was just closed as a slow reader (on_close follows).
          http_->Send(out->connection, std::move(out->text));
          break;
        case signaling::Output::Kind::kPing: http_->Ping(out->connection); break;
        case signaling::Output::Kind::kClose:
          http_->Close(out->connection, static_cast<uint16_t>(out->close_code), out->reason);
          break;
      }
    }
    const Timestamp next = core_.NextTimeout();
    if (next < armed_for_) {
      armed_for_ = next;
      timer_.ArmAt(next, [this] {
        armed_for_ = Timestamp::Infinity();
        core_.HandleTimeout(loop_.Now());
        AfterInput();
      });
    }
  }

  void BeginShutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    LOG_INFO(kLog, "shutting down: closing " << core_.peer_count() << " WebSocket(s)");
    core_.CloseAll();
    AfterInput();
    timer_.Cancel();
    shutdown_deadline_ = loop_.Now() + kShutdownGrace;
    WaitForCloses();
  }

  void WaitForCloses() {
    if (http_->websocket_count() == 0 || loop_.Now() >= shutdown_deadline_) {
      http_->Shutdown();
      stats_timer_.Cancel();
      loop_.Stop();
      return;
    }
    shutdown_timer_.ArmAt(loop_.Now() + kShutdownPoll, [this] { WaitForCloses(); });
  }

  void PublishStats() {
    SignalServiceStats s;
    s.core = core_.stats();
    s.http = http_->stats();
    s.peers = core_.peer_count();
    s.rooms = core_.room_count();
    s.connections = http_->connection_count();
    std::lock_guard lock(stats_mutex_);
    stats_ = s;
  }

  void PublishStatsLoop() {
    PublishStats();
    stats_timer_.ArmAt(loop_.Now() + kStatsInterval, [this] { PublishStatsLoop(); });
  }

  SignalServiceConfig config_;
  net::EventLoop loop_;
  SecureRng rng_;
  signaling::SignalingCore core_;
  std::unique_ptr<StaticSite> site_;
  std::unique_ptr<net::HttpServer> http_;
  bool tls_ = false;
  net::Timer timer_;
  net::Timer stats_timer_;
  net::Timer shutdown_timer_;
  Timestamp armed_for_ = Timestamp::Infinity();
  bool shutting_down_ = false;
  Timestamp shutdown_deadline_;
  mutable std::mutex stats_mutex_;
  SignalServiceStats stats_;
};

SignalService::SignalService(SignalServiceConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
SignalService::~SignalService() = default;
SocketAddress SignalService::local_address() const { return impl_->local_address(); }
std::string SignalService::BaseUrl() const { return impl_->BaseUrl(); }
size_t SignalService::embedded_file_count() const { return impl_->embedded_file_count(); }
void SignalService::Run() { impl_->Run(); }
void SignalService::Stop() { impl_->Stop(); }
SignalServiceStats SignalService::Stats() const { return impl_->Stats(); }

}  // namespace tandem::server
