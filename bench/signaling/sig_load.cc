// sig_load: a WebSocket signaling load generator that is not the bottleneck of what it measures.
//
//   sig_load --server 127.0.0.1:8080 --clients 10000 --token-secret S --rate 20000,0 --window 1000
//
// N clients join rooms of 2–4 peers (tandem: /ws?token=<JWT> minted with the server's secret; any other
// relay: /ws?room=NAME), then exchange offers, answers and trickled candidates (payloads.h) addressed to a
// random other peer of their room. Every message carries its send time (CLOCK_MONOTONIC, the same clock that
// stamps its arrival: sender and receiver are this process) and the step it belongs to, so latency is
// measured end to end through the relay and attributed to the right measurement window. Steps are open loop
// at a fixed total rate, or closed loop (rate 0) with a fixed number of messages in flight: the relay's
// capacity.
//
// One thread and one Asio io_context (epoll): sockets are non-blocking, reads drain into one shared buffer (a
// connection keeps only the tail of a partial frame), writes go straight to send() and are queued only when
// the kernel pushes back. The HTTP upgrade response is parsed with Beast's parser; frames with ws_codec.h.
//
// Output: JSON lines on stdout (setup, one step per --rate, summary) plus markers for a wrapper that samples
// the server's CPU and memory: "@ready" (everyone joined; the load holds still for --hold seconds),
// "@measure_start K" and "@measure_end K" around each window. A table on stderr unless --quiet.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/signaling/payloads.h"
#include "bench/signaling/ws_codec.h"
#include "core/crypto.h"
#include "signal/token.h"

namespace tandem::bench::sig {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using Json = nlohmann::json;

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr size_t kReadChunk = 256 * 1024;
constexpr size_t kMaxServerFrame = 1 << 20;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// xoshiro-style generator for the hot path (message kinds, sizes, targets, mask keys): fast and seedable.
class FastRng {
 public:
  explicit FastRng(uint64_t seed) : s_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t Next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }

 private:
  uint64_t s_;
};

// ---------------------------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string server = "127.0.0.1:8080";
  size_t clients = 1000;
  uint32_t room_min = 2;
  uint32_t room_max = 4;
  std::string token_secret;  // empty: join with ?room=
  std::vector<asio::ip::address> sources;
  size_t connect_window = 256;
  double setup_timeout = 60;
  double hold = 0;
  struct Step {
    uint64_t rate = 0;       // messages/s in total; 0 = closed loop
    bool burst_set = false;  // else --burst applies
    size_t burst_min = 0, burst_max = 0;
  };
  std::vector<Step> steps;
  size_t window = 1000;
  double duration = 5;
  double warmup = 1;
  double drain = 3;
  double liveness_timeout = 5;
  double tick_ms = 1;
  size_t max_backlog_bytes = 4 << 20;
  uint64_t seed = 1;
  bool quiet = false;
  MessageMix mix;
  // Negotiation bursts: an offer or answer followed at once by MIN..MAX candidates from the same sender to
  // the same peer, in one write (as trickle ICE produces them). 0-0: every message on its own, kinds drawn by
  // --mix.
  size_t burst_min = 0, burst_max = 0;
};

void Usage() {
  std::fprintf(stderr, R"(usage: sig_load [options]
  --server IP:PORT         signaling server (default 127.0.0.1:8080)
  --clients N              WebSocket clients (default 1000)
  --room-size MIN-MAX      peers per room, drawn uniformly (default 2-4)
  --token-secret S         join with /ws?token=<HS256 JWT signed with S> (tandem); without: /ws?room=NAME
  --sources IP[-LAST]      local addresses to spread connections over, e.g. 127.0.0.2-127.0.0.9 (default: any)
  --connect-window N       handshakes in progress at once (default 256)
  --setup-timeout S        (default 60)
  --hold S                 after everyone joined, print "@ready" and stay idle S seconds (default 0)
  --rate R[@B][,R...]      messages/s in total, one step each; 0 = closed loop with --window in flight.
                           @MIN-MAX sets that step's --burst (e.g. 0@2-6: closed loop with negotiation bursts)
  --window W               closed loop: messages in flight (default 1000)
  --duration S             measurement window per step (default 5)
  --warmup S               traffic before each window, not counted (default 1)
  --drain S                after the last step, wait up to S for messages in flight (default 3)
  --liveness-timeout S     final check: every client pings, counts pongs within S (default 5)
  --mix O,A,C              relative frequency of offers, answers, candidates (default 1,1,8)
  --burst MIN-MAX          negotiation bursts: each offer/answer (drawn by the O:A weights) is followed at once,
                           in the same write, by MIN..MAX candidates to the same peer (default 0-0: no bursts,
                           every message sent alone with its kind drawn by --mix)
  --offer-bytes MIN-MAX    frame sizes (default 4000-6000)
  --answer-bytes MIN-MAX   (default 150-250)
  --candidate-bytes MIN-MAX  (default 150-250)
  --tick-ms MS             pacing interval of open-loop steps (default 1)
  --seed N                 (default 1)
  --quiet                  no table on stderr
)");
}

bool ParseRange(std::string_view s, size_t& lo, size_t& hi) {
  const size_t dash = s.find('-');
  const std::string a(s.substr(0, dash));
  const std::string b(dash == std::string_view::npos ? a : std::string(s.substr(dash + 1)));
  char* end = nullptr;
  lo = std::strtoull(a.c_str(), &end, 10);
  if (a.empty() || *end != '\0') return false;
  hi = std::strtoull(b.c_str(), &end, 10);
  return !b.empty() && *end == '\0' && lo <= hi;
}

std::optional<std::vector<asio::ip::address>> ParseSources(std::string_view s) {
  std::vector<asio::ip::address> out;
  boost::system::error_code ec;
  const size_t dash = s.find('-');
  const asio::ip::address first = asio::ip::make_address(std::string(s.substr(0, dash)), ec);
  if (ec) return std::nullopt;
  if (dash == std::string_view::npos) return std::vector<asio::ip::address>{first};
  const asio::ip::address last = asio::ip::make_address(std::string(s.substr(dash + 1)), ec);
  if (ec || !first.is_v4() || !last.is_v4()) return std::nullopt;
  const uint32_t a = first.to_v4().to_uint(), b = last.to_v4().to_uint();
  if (b < a || b - a > 1024) return std::nullopt;
  for (uint32_t v = a; v <= b; ++v) out.push_back(asio::ip::address_v4(v));
  return out;
}

std::optional<Options> ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") return std::nullopt;
    if (i + 1 >= argc) {
      std::fprintf(stderr, "sig_load: %s needs a value\n", argv[i]);
      return std::nullopt;
    }
    const std::string v = argv[++i];
    auto number = [&](double& out) {
      char* end = nullptr;
      out = std::strtod(v.c_str(), &end);
      return end != v.c_str() && *end == '\0' && out >= 0;
    };
    auto count = [&](size_t& out) {
      char* end = nullptr;
      out = std::strtoull(v.c_str(), &end, 10);
      return !v.empty() && *end == '\0';
    };
    bool ok = true;
    size_t lo = 0, hi = 0;
    if (arg == "--server") {
      o.server = v;
    } else if (arg == "--clients") {
      ok = count(o.clients) && o.clients > 0;
    } else if (arg == "--room-size") {
      ok = ParseRange(v, lo, hi) && lo >= 2 && hi <= 1000;
      o.room_min = static_cast<uint32_t>(lo);
      o.room_max = static_cast<uint32_t>(hi);
    } else if (arg == "--token-secret") {
      o.token_secret = v;
    } else if (arg == "--sources") {
      auto s = ParseSources(v);
      ok = s.has_value();
      if (ok) o.sources = *s;
    } else if (arg == "--connect-window") {
      ok = count(o.connect_window) && o.connect_window > 0;
    } else if (arg == "--setup-timeout") {
      ok = number(o.setup_timeout);
    } else if (arg == "--hold") {
      ok = number(o.hold);
    } else if (arg == "--rate") {
      o.steps.clear();
      size_t start = 0;
      while (ok && start <= v.size()) {
        const size_t comma = std::min(v.find(',', start), v.size());
        const std::string item = v.substr(start, comma - start);
        const size_t at = item.find('@');
        const std::string rate = item.substr(0, at);
        char* end = nullptr;
        Options::Step step;
        step.rate = std::strtoull(rate.c_str(), &end, 10);
        ok = !rate.empty() && *end == '\0';
        if (ok && at != std::string::npos) {
          step.burst_set = true;
          ok = ParseRange(std::string_view(item).substr(at + 1), step.burst_min, step.burst_max) &&
               step.burst_max <= 64;
        }
        o.steps.push_back(step);
        start = comma + 1;
      }
    } else if (arg == "--window") {
      ok = count(o.window) && o.window > 0;
    } else if (arg == "--duration") {
      ok = number(o.duration) && o.duration > 0;
    } else if (arg == "--warmup") {
      ok = number(o.warmup);
    } else if (arg == "--drain") {
      ok = number(o.drain);
    } else if (arg == "--liveness-timeout") {
      ok = number(o.liveness_timeout);
    } else if (arg == "--tick-ms") {
      ok = number(o.tick_ms) && o.tick_ms > 0;
    } else if (arg == "--seed") {
      ok = count(lo);
      o.seed = lo;
    } else if (arg == "--mix") {
      unsigned a = 0, b = 0, c = 0;
      ok = std::sscanf(v.c_str(), "%u,%u,%u", &a, &b, &c) == 3 && a + b + c > 0;
      o.mix.offer_weight = a;
      o.mix.answer_weight = b;
      o.mix.candidate_weight = c;
    } else if (arg == "--burst") {
      ok = ParseRange(v, o.burst_min, o.burst_max) && o.burst_max <= 64;
    } else if (arg == "--offer-bytes") {
      ok = ParseRange(v, o.mix.offer.min, o.mix.offer.max);
    } else if (arg == "--answer-bytes") {
      ok = ParseRange(v, o.mix.answer.min, o.mix.answer.max);
    } else if (arg == "--candidate-bytes") {
      ok = ParseRange(v, o.mix.candidate.min, o.mix.candidate.max);
    } else {
      std::fprintf(stderr, "sig_load: unknown option %s\n", argv[i - 1]);
      return std::nullopt;
    }
    if (!ok) {
      std::fprintf(stderr, "sig_load: bad value for %s: %s\n", argv[i - 1], v.c_str());
      return std::nullopt;
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-step results

struct StepResult {
  uint64_t rate = 0;  // 0 = closed loop
  size_t burst_min = 0, burst_max = 0;
  int64_t start_ns = 0, end_ns = 0;
  double tool_cpu_s = 0;
  uint64_t sent = 0;  // messages sent in the window
  uint64_t sent_bytes = 0;
  uint64_t delivered = 0;           // of those, arrived (whenever)
  uint64_t received_in_window = 0;  // relayed messages that arrived during the window (any step's)
  uint64_t lag_ticks = 0;           // pacing ticks that found the tool > 5 ms behind its schedule
  uint64_t dropped_by_tool = 0;     // not sent: the connection's backlog was full
  std::vector<uint32_t> latency_us;
};

struct Percentiles {
  uint32_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

Percentiles ComputePercentiles(std::vector<uint32_t>& v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// The load

class Load {
 public:
  explicit Load(Options options)
      : o_(std::move(options)),
        ctx_(1),
        phase_timer_(ctx_),
        tick_timer_(ctx_),
        rng_(o_.seed),
        payloads_(o_.mix),
        read_buffer_(kReadChunk) {}

  int Run() {
    if (!ResolveServer()) return 2;
    AssignRooms();
    setup_start_ns_ = NowNs();
    for (size_t i = 0; i < std::min(o_.connect_window, conns_.size()); ++i) StartNextConnection();
    Arm(setup_start_ns_ + static_cast<int64_t>(o_.setup_timeout * kNsPerSec), [this] { SetupDone(); });
    CheckSetupDone();
    ctx_.run();
    return exit_code_;
  }

 private:
  enum class State : uint8_t { kIdle, kConnecting, kHandshake, kJoined, kClosed };

  struct Conn {
    explicit Conn(asio::io_context& ctx) : socket(ctx) {}
    tcp::socket socket;
    uint32_t index = 0;
    uint32_t room = 0;
    State state = State::kIdle;
    bool write_waiting = false;
    bool pong_seen = false;
    bool failed_setup = false;
    std::string peer_id;
    std::string rx;  // the unparsed tail
    std::string tx;  // bytes the kernel has not taken yet
    size_t tx_offset = 0;
    std::unique_ptr<http::response_parser<http::empty_body>> handshake;
  };

  struct Room {
    std::vector<uint32_t> members;
  };

  // -------------------------------------------------------------------------------------------------------------
  // Set-up

  bool ResolveServer() {
    const size_t colon = o_.server.rfind(':');
    boost::system::error_code ec;
    if (colon == std::string::npos) {
      std::fprintf(stderr, "sig_load: --server must be IP:PORT\n");
      return false;
    }
    std::string host = o_.server.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const auto address = asio::ip::make_address(host, ec);
    const int port = std::atoi(o_.server.c_str() + colon + 1);
    if (ec || port <= 0 || port > 65535) {
      std::fprintf(stderr, "sig_load: --server must be IP:PORT, got %s\n", o_.server.c_str());
      return false;
    }
    endpoint_ = tcp::endpoint(address, static_cast<uint16_t>(port));
    return true;
  }

  void AssignRooms() {
    conns_.reserve(o_.clients);
    for (size_t i = 0; i < o_.clients;) {
      uint32_t size = o_.room_min + rng_.Below(o_.room_max - o_.room_min + 1);
      const size_t left = o_.clients - i;
      if (left < size) size = static_cast<uint32_t>(left);
      if (left - size > 0 && left - size < o_.room_min) size = static_cast<uint32_t>(left - o_.room_min);
      Room room;
      for (uint32_t k = 0; k < size; ++k, ++i) {
        auto c = std::make_unique<Conn>(ctx_);
        c->index = static_cast<uint32_t>(i);
        c->room = static_cast<uint32_t>(rooms_.size());
        room.members.push_back(c->index);
        conns_.push_back(std::move(c));
      }
      rooms_.push_back(std::move(room));
    }
    if (!o_.token_secret.empty()) codec_.emplace(o_.token_secret);
  }

  std::string TargetFor(const Conn& c) {
    const std::string room = "load-" + std::to_string(c.room);
    if (!codec_) return "/ws?room=" + room;
    signaling::TokenClaims claims;
    claims.identity = "client-" + std::to_string(c.index);
    claims.room = room;
    claims.issued_at = static_cast<int64_t>(std::time(nullptr));
    claims.expires_at = claims.issued_at + 3600;
    claims.jti = "j" + std::to_string(c.index);
    return "/ws?token=" + codec_->Mint(claims);
  }

  void StartNextConnection() {
    if (next_connect_ >= conns_.size() || setup_over_) return;
    Conn& c = *conns_[next_connect_++];
    ++in_setup_;
    c.state = State::kConnecting;
    boost::system::error_code ec;
    c.socket.open(endpoint_.protocol(), ec);
    if (!ec && !o_.sources.empty()) {
      // Bind the address only; the port is chosen at connect() time for the 4-tuple, so each source address
      // gets its own ephemeral port range (IP_BIND_ADDRESS_NO_PORT, Linux 4.2).
      int one = 1;
      ::setsockopt(c.socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
      c.socket.bind(tcp::endpoint(o_.sources[c.index % o_.sources.size()], 0), ec);
    }
    if (ec) {
      SetupFailed(c, "socket/bind: " + ec.message());
      return;
    }
    c.socket.async_connect(endpoint_, [this, &c](const boost::system::error_code& e) { OnConnected(c, e); });
  }

  void OnConnected(Conn& c, const boost::system::error_code& ec) {
    if (c.state != State::kConnecting) return;
    if (ec) {
      SetupFailed(c, "connect: " + ec.message());
      return;
    }
    boost::system::error_code ignored;
    c.socket.set_option(tcp::no_delay(true), ignored);
    c.socket.non_blocking(true, ignored);
    c.state = State::kHandshake;
    c.handshake = std::make_unique<http::response_parser<http::empty_body>>();
    uint8_t key[16];
    for (size_t i = 0; i < sizeof(key); ++i) key[i] = static_cast<uint8_t>(rng_.Next());
    const std::string host = endpoint_.address().to_string() + ":" + std::to_string(endpoint_.port());
    WaitRead(c);
    SendRaw(c, UpgradeRequest(host, TargetFor(c), crypto::Base64Encode(key)));
  }

  void SetupFailed(Conn& c, const std::string& why) {
    if (c.failed_setup) return;
    c.failed_setup = true;
    ++setup_failures_;
    if (setup_errors_.size() < 5) setup_errors_.push_back(why);
    CloseConn(c);
    --in_setup_;
    StartNextConnection();
    CheckSetupDone();
  }

  void OnJoined(Conn& c) {
    c.state = State::kJoined;
    c.handshake.reset();
    ++joined_;
    --in_setup_;
    StartNextConnection();
    CheckSetupDone();
  }

  void CheckSetupDone() {
    if (!setup_over_ && in_setup_ == 0 && next_connect_ >= conns_.size()) SetupDone();
  }

  void SetupDone() {
    if (setup_over_) return;
    setup_over_ = true;
    setup_end_ns_ = NowNs();
    for (auto& c : conns_) {
      if (c->state == State::kConnecting || c->state == State::kHandshake) SetupFailed(*c, "setup timeout");
    }
    // Who may send: joined clients with at least one joined room mate.
    for (auto& c : conns_) {
      if (c->state != State::kJoined) continue;
      size_t mates = 0;
      for (uint32_t m : rooms_[c->room].members) mates += m != c->index && conns_[m]->state == State::kJoined;
      if (mates > 0) senders_.push_back(c->index);
    }
    Json setup = {{"type", "setup"},
                  {"clients", conns_.size()},
                  {"rooms", rooms_.size()},
                  {"joined", joined_},
                  {"failed", setup_failures_},
                  {"senders", senders_.size()},
                  {"setup_s", static_cast<double>(setup_end_ns_ - setup_start_ns_) / kNsPerSec}};
    if (!setup_errors_.empty()) setup["errors"] = setup_errors_;
    std::printf("%s\n@ready\n", setup.dump().c_str());
    std::fflush(stdout);
    if (!o_.quiet) {
      std::fprintf(stderr, "setup: %zu/%zu clients joined %zu rooms in %.2f s (%zu failed)\n", joined_,
                   conns_.size(), rooms_.size(),
                   static_cast<double>(setup_end_ns_ - setup_start_ns_) / kNsPerSec, setup_failures_);
      for (const auto& e : setup_errors_) std::fprintf(stderr, "  setup error: %s\n", e.c_str());
    }
    Arm(NowNs() + static_cast<int64_t>(o_.hold * kNsPerSec), [this] { BeginStep(0); });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Steps

  void BeginStep(size_t k) {
    if (k >= o_.steps.size() || senders_.empty()) {
      Finish();
      return;
    }
    step_ = k;
    steps_.resize(k + 1);
    steps_[k].rate = o_.steps[k].rate;
    burst_min_ = o_.steps[k].burst_set ? o_.steps[k].burst_min : o_.burst_min;
    burst_max_ = o_.steps[k].burst_set ? o_.steps[k].burst_max : o_.burst_max;
    steps_[k].burst_min = burst_min_;
    steps_[k].burst_max = burst_max_;
    marker_step_ = static_cast<uint32_t>(2 * k);  // warm-up: even ids, not counted
    measuring_ = false;
    StartPacing();
    Arm(NowNs() + static_cast<int64_t>(o_.warmup * kNsPerSec), [this, k] { BeginMeasure(k); });
  }

  void BeginMeasure(size_t k) {
    std::printf("@measure_start %zu\n", k);
    std::fflush(stdout);
    StepResult& s = steps_[k];
    marker_step_ = static_cast<uint32_t>(2 * k + 1);
    measuring_ = true;
    s.start_ns = NowNs();
    s.tool_cpu_s = ProcessCpuSeconds();
    StartPacing();
    Arm(s.start_ns + static_cast<int64_t>(o_.duration * kNsPerSec), [this, k] { EndMeasure(k); });
  }

  void EndMeasure(size_t k) {
    StepResult& s = steps_[k];
    s.end_ns = NowNs();
    s.tool_cpu_s = ProcessCpuSeconds() - s.tool_cpu_s;
    measuring_ = false;
    std::printf("@measure_end %zu\n", k);
    std::fflush(stdout);
    if (k + 1 < o_.steps.size()) {
      BeginStep(k + 1);
      return;
    }
    // Stop sending; wait for what is in flight.
    sending_ = false;
    tick_timer_.cancel();
    drain_deadline_ns_ = NowNs() + static_cast<int64_t>(o_.drain * kNsPerSec);
    WaitDrained();
  }

  void WaitDrained() {
    if (in_flight_ == 0 || NowNs() >= drain_deadline_ns_) {
      CheckLiveness();
      return;
    }
    Arm(NowNs() + 10'000'000, [this] { WaitDrained(); });
  }

  void StartPacing() {
    sending_ = true;
    pace_start_ns_ = NowNs();
    pace_sent_ = 0;
    tick_timer_.cancel();
    Tick();
  }

  void Tick() {
    if (!sending_) return;
    const uint64_t rate = o_.steps[step_].rate;
    const int64_t now = NowNs();
    if (rate > 0) {
      const uint64_t due = static_cast<uint64_t>(static_cast<double>(rate) *
                                                 static_cast<double>(now - pace_start_ns_) / kNsPerSec);
      if (due > pace_sent_ && due - pace_sent_ > rate / 200 && measuring_) ++steps_[step_].lag_ticks;
      while (pace_sent_ < due) pace_sent_ += std::max<size_t>(SendOne(), 1);
    } else {
      while (in_flight_ < o_.window) {
        if (SendOne() == 0) break;
      }
    }
    tick_timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(o_.tick_ms * 1000)));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
  }

  // Messages from a random sender to a random joined mate of its room, in one write: one message, or a
  // negotiation burst (--burst). Returns how many were sent; 0 when none could be (nobody can send, or the
  // sender's backlog is full: counted).
  size_t SendOne() {
    for (int attempt = 0; attempt < 8; ++attempt) {
      Conn& from = *conns_[senders_[rng_.Below(static_cast<uint32_t>(senders_.size()))]];
      if (from.state != State::kJoined) continue;
      const auto& members = rooms_[from.room].members;
      // A uniform pick among the others: draw from all but the last slot, and let the sender's own slot stand
      // for the last member.
      uint32_t pick = members[rng_.Below(static_cast<uint32_t>(members.size() - 1))];
      if (pick == from.index) pick = members.back();
      Conn& to = *conns_[pick];
      if (to.state != State::kJoined) continue;
      if (from.tx.size() - from.tx_offset > o_.max_backlog_bytes) {
        if (measuring_) ++steps_[step_].dropped_by_tool;
        return 0;
      }
      scratch_.clear();
      size_t count = 1;
      if (burst_max_ == 0) {
        AppendMessage(payloads_.DrawKind(rng_.Next()), to);
      } else {
        const uint64_t sdp_weights = uint64_t{o_.mix.offer_weight} + o_.mix.answer_weight;
        const MessageKind first = sdp_weights == 0 || rng_.Next() % sdp_weights < o_.mix.offer_weight
                                      ? MessageKind::kOffer
                                      : MessageKind::kAnswer;
        AppendMessage(first, to);
        const size_t candidates = burst_min_ + rng_.Below(static_cast<uint32_t>(burst_max_ - burst_min_ + 1));
        for (size_t i = 0; i < candidates; ++i) AppendMessage(MessageKind::kCandidate, to);
        count += candidates;
      }
      in_flight_ += count;
      if (measuring_) steps_[step_].sent += count;
      SendRaw(from, scratch_);
      return count;
    }
    return 0;
  }

  // Appends one framed message to scratch_.
  void AppendMessage(MessageKind kind, const Conn& to) {
    const size_t offset = scratch_.size();
    payloads_.Append(scratch_, kind, to.peer_id, Marker{marker_step_, NowNs()},
                     payloads_.DrawSize(kind, rng_.Next()));
    if (measuring_) steps_[step_].sent_bytes += scratch_.size() - offset;
    FrameInPlace(scratch_, offset, Opcode::kText, static_cast<uint32_t>(rng_.Next()));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Final liveness check and results

  void CheckLiveness() {
    liveness_start_ns_ = NowNs();
    for (auto& c : conns_) {
      if (c->state != State::kJoined) continue;
      ++pings_sent_;
      std::string frame;
      AppendClientFrame(frame, Opcode::kText, R"({"type":"ping","ts":)" + std::to_string(c->index) + "}",
                        static_cast<uint32_t>(rng_.Next()));
      SendRaw(*c, frame);
    }
    liveness_deadline_ns_ = liveness_start_ns_ + static_cast<int64_t>(o_.liveness_timeout * kNsPerSec);
    WaitLiveness();
  }

  void WaitLiveness() {
    if (pongs_ >= pings_sent_ || NowNs() >= liveness_deadline_ns_) {
      Finish();
      return;
    }
    Arm(NowNs() + 10'000'000, [this] { WaitLiveness(); });
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    size_t held = 0;
    for (auto& c : conns_) held += c->state == State::kJoined && c->pong_seen;
    for (size_t k = 0; k < steps_.size(); ++k) PrintStep(k);
    Json summary = {{"type", "summary"},
                    {"clients", conns_.size()},
                    {"joined", joined_},
                    {"held", held},
                    {"closed_after_join", closed_after_join_},
                    {"pings", pings_sent_},
                    {"pongs", pongs_},
                    {"in_flight_at_end", in_flight_},
                    {"server_pings_answered", server_pings_},
                    {"protocol_errors", protocol_errors_},
                    {"error_frames", error_codes_},
                    {"close_codes", close_codes_}};
    std::printf("%s\n", summary.dump().c_str());
    std::fflush(stdout);
    if (!o_.quiet) {
      std::fprintf(stderr, "held: %zu of %zu clients answered the final ping (%zu closed after joining)\n",
                   held, conns_.size(), closed_after_join_);
      for (const auto& [code, n] : error_codes_)
        std::fprintf(stderr, "  error frames %s: %llu\n", code.c_str(), static_cast<unsigned long long>(n));
    }
    exit_code_ = joined_ == 0 ? 1 : 0;
    phase_timer_.cancel();
    tick_timer_.cancel();
    for (auto& c : conns_) {
      boost::system::error_code ignored;
      c->socket.close(ignored);
    }
    ctx_.stop();
  }

  void PrintStep(size_t k) {
    StepResult& s = steps_[k];
    const double d = static_cast<double>(s.end_ns - s.start_ns) / kNsPerSec;
    const Percentiles p = ComputePercentiles(s.latency_us);
    Json j = {{"type", "step"},
              {"step", k},
              {"mode", s.rate ? "rate" : "closed"},
              {"rate", s.rate},
              {"window", s.rate ? 0 : o_.window},
              {"burst", s.burst_max ? std::to_string(s.burst_min) + "-" + std::to_string(s.burst_max) : "0"},
              {"duration_s", d},
              {"sent", s.sent},
              {"sent_bytes", s.sent_bytes},
              {"offered_per_s", static_cast<double>(s.sent) / d},
              {"delivered", s.delivered},
              {"lost", s.sent - std::min(s.sent, s.delivered)},
              {"received_in_window", s.received_in_window},
              {"delivered_per_s", static_cast<double>(s.received_in_window) / d},
              {"latency_p50_us", p.p50},
              {"latency_p90_us", p.p90},
              {"latency_p99_us", p.p99},
              {"latency_p999_us", p.p999},
              {"latency_max_us", p.max},
              {"tool_cpu", s.tool_cpu_s / d},
              {"lag_ticks", s.lag_ticks},
              {"dropped_by_tool", s.dropped_by_tool}};
    std::printf("%s\n", j.dump().c_str());
    if (!o_.quiet) {
      std::fprintf(
          stderr,
          "step %zu %-20s offered %9.0f/s delivered %9.0f/s (lost %llu) latency p50 %6u p99 %7u "
          "p99.9 %7u max %7u us, tool CPU %3.0f%%%s\n",
          k,
          ((s.rate ? "rate " + std::to_string(s.rate) : "closed " + std::to_string(o_.window)) +
           (s.burst_max ? " @" + std::to_string(s.burst_min) + "-" + std::to_string(s.burst_max) : ""))
              .c_str(),
          static_cast<double>(s.sent) / d, static_cast<double>(s.received_in_window) / d,
          static_cast<unsigned long long>(s.sent - std::min(s.sent, s.delivered)), p.p50, p.p99, p.p999,
          p.max, 100 * s.tool_cpu_s / d, s.lag_ticks ? " (tool lagged)" : "");
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // IO

  void Arm(int64_t at_ns, std::function<void()> fn) {
    phase_timer_.expires_after(std::chrono::nanoseconds(std::max<int64_t>(0, at_ns - NowNs())));
    phase_timer_.async_wait([fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  }

  void SendRaw(Conn& c, std::string_view bytes) {
    if (c.state == State::kClosed || c.state == State::kIdle) return;
    if (c.tx_offset < c.tx.size()) {
      c.tx.append(bytes);
      return;
    }
    c.tx.clear();
    c.tx_offset = 0;
    const ssize_t n =
        ::send(c.socket.native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      OnBroken(c);
      return;
    }
    const size_t sent = n < 0 ? 0 : static_cast<size_t>(n);
    if (sent == bytes.size()) return;
    c.tx.assign(bytes.substr(sent));
    WaitWrite(c);
  }

  void WaitWrite(Conn& c) {
    if (c.write_waiting) return;
    c.write_waiting = true;
    c.socket.async_wait(tcp::socket::wait_write, [this, &c](const boost::system::error_code& ec) {
      c.write_waiting = false;
      if (ec || c.state == State::kClosed) return;
      FlushTx(c);
    });
  }

  void FlushTx(Conn& c) {
    while (c.tx_offset < c.tx.size()) {
      const ssize_t n = ::send(c.socket.native_handle(), c.tx.data() + c.tx_offset, c.tx.size() - c.tx_offset,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          WaitWrite(c);
          return;
        }
        OnBroken(c);
        return;
      }
      c.tx_offset += static_cast<size_t>(n);
    }
    c.tx.clear();
    c.tx_offset = 0;
    if (c.tx.capacity() > 64 * 1024) c.tx.shrink_to_fit();
  }

  void WaitRead(Conn& c) {
    c.socket.async_wait(tcp::socket::wait_read, [this, &c](const boost::system::error_code& ec) {
      if (ec || c.state == State::kClosed) return;
      OnReadable(c);
    });
  }

  void OnReadable(Conn& c) {
    // Edge-triggered underneath: a short read means the queue was empty at that moment, and data arriving
    // later raises a new event, so there is no need to read until EAGAIN.
    while (true) {
      const ssize_t n =
          ::recv(c.socket.native_handle(), read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
      if (n == 0) {
        OnBroken(c);
        return;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        OnBroken(c);
        return;
      }
      const std::string_view data(read_buffer_.data(), static_cast<size_t>(n));
      if (c.rx.empty()) {
        const size_t used = Consume(c, data);
        if (c.state == State::kClosed) return;
        c.rx.assign(data.substr(used));
      } else {
        c.rx.append(data);
        const size_t used = Consume(c, c.rx);
        if (c.state == State::kClosed) return;
        c.rx.erase(0, used);
      }
      if (static_cast<size_t>(n) < read_buffer_.size()) break;
    }
    if (c.rx.empty() && c.rx.capacity() > 64 * 1024) c.rx.shrink_to_fit();
    WaitRead(c);
  }

  // Parses what it can of `data`; returns the bytes used.
  size_t Consume(Conn& c, std::string_view data) {
    size_t used = 0;
    if (c.state == State::kHandshake && c.handshake) {
      boost::system::error_code ec;
      used = c.handshake->put(asio::buffer(data.data(), data.size()), ec);
      if (ec == http::error::need_more) return used;
      if (ec || !c.handshake->is_header_done()) {
        SetupFailed(c, "bad upgrade response: " + ec.message());
        return used;
      }
      const unsigned status = c.handshake->get().result_int();
      if (status != 101) {
        SetupFailed(c, "upgrade refused with HTTP " + std::to_string(status));
        return used;
      }
      c.handshake.reset();
    }
    while (used < data.size()) {
      ServerFrame frame;
      size_t n = 0;
      const ParseStatus st = ParseServerFrame(data.substr(used), kMaxServerFrame, frame, n);
      if (st == ParseStatus::kNeedMore) break;
      if (st == ParseStatus::kError) {
        ++protocol_errors_;
        OnBroken(c);
        return used;
      }
      used += n;
      OnFrame(c, frame);
      if (c.state == State::kClosed) return used;
    }
    return used;
  }

  void OnFrame(Conn& c, const ServerFrame& f) {
    switch (f.opcode) {
      case Opcode::kPing: {
        ++server_pings_;
        std::string pong;
        AppendClientFrame(pong, Opcode::kPong, f.payload, static_cast<uint32_t>(rng_.Next()));
        SendRaw(c, pong);
        return;
      }
      case Opcode::kPong:
        return;
      case Opcode::kClose: {
        const uint16_t code = f.payload.size() >= 2
                                  ? static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                                                          static_cast<uint8_t>(f.payload[1]))
                                  : 1005;
        ++close_codes_[std::to_string(code)];
        OnBroken(c);
        return;
      }
      case Opcode::kText:
      case Opcode::kBinary:
      case Opcode::kContinuation:
        break;
    }
    if (!f.fin || f.opcode != Opcode::kText) {
      ++protocol_errors_;  // neither relay fragments its text frames
      return;
    }
    if (std::optional<Marker> m = FindMarker(f.payload)) {
      OnRelayed(*m);
      return;
    }
    OnControl(c, f.payload);
  }

  void OnRelayed(const Marker& m) {
    const int64_t now = NowNs();
    if (in_flight_ > 0) --in_flight_;
    if (measuring_) ++steps_[step_].received_in_window;
    if (m.step % 2 == 1 && m.step / 2 < steps_.size()) {
      StepResult& s = steps_[m.step / 2];
      ++s.delivered;
      s.latency_us.push_back(
          static_cast<uint32_t>(std::clamp<int64_t>((now - m.send_ns) / 1000, 0, UINT32_MAX)));
    }
    if (sending_ && o_.steps[step_].rate == 0) {
      while (in_flight_ < o_.window) {
        if (SendOne() == 0) break;
      }
    }
  }

  // welcome, peer-joined/left, pong, error: rare, parsed properly.
  void OnControl(Conn& c, std::string_view text) {
    const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      ++protocol_errors_;
      return;
    }
    const auto type = j.find("type");
    if (type == j.end() || !type->is_string()) return;
    const std::string& t = type->get_ref<const std::string&>();
    if (t == "welcome") {
      const auto id = j.find("peerId");
      if (c.state != State::kHandshake || id == j.end() || !id->is_string()) {
        ++protocol_errors_;
        return;
      }
      c.peer_id = id->get<std::string>();
      OnJoined(c);
    } else if (t == "pong") {
      if (!c.pong_seen && liveness_start_ns_ != 0) {
        c.pong_seen = true;
        ++pongs_;
      }
    } else if (t == "error") {
      const auto code = j.find("code");
      ++error_codes_[code != j.end() && code->is_string() ? code->get<std::string>() : "?"];
    }
  }

  void OnBroken(Conn& c) {
    if (c.state == State::kClosed) return;
    if (c.state == State::kJoined) {
      ++closed_after_join_;
    } else if (c.state == State::kConnecting || c.state == State::kHandshake) {
      SetupFailed(c, "connection closed during the handshake");
      return;
    }
    CloseConn(c);
  }

  void CloseConn(Conn& c) {
    c.state = State::kClosed;
    boost::system::error_code ignored;
    c.socket.close(ignored);
    c.tx.clear();
    c.tx.shrink_to_fit();
    c.rx.clear();
    c.rx.shrink_to_fit();
  }

  Options o_;
  asio::io_context ctx_;
  asio::steady_timer phase_timer_;
  asio::steady_timer tick_timer_;
  FastRng rng_;
  PayloadFactory payloads_;
  std::optional<signaling::TokenCodec> codec_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Room> rooms_;
  std::vector<uint32_t> senders_;
  std::vector<char> read_buffer_;
  std::string scratch_;

  size_t next_connect_ = 0;
  size_t in_setup_ = 0;
  size_t joined_ = 0;
  size_t setup_failures_ = 0;
  std::vector<std::string> setup_errors_;
  bool setup_over_ = false;
  int64_t setup_start_ns_ = 0, setup_end_ns_ = 0;

  std::vector<StepResult> steps_;
  size_t step_ = 0;
  uint32_t marker_step_ = 0;
  size_t burst_min_ = 0, burst_max_ = 0;  // the running step's
  bool measuring_ = false;
  bool sending_ = false;
  int64_t pace_start_ns_ = 0;
  uint64_t pace_sent_ = 0;
  uint64_t in_flight_ = 0;
  int64_t drain_deadline_ns_ = 0;

  int64_t liveness_start_ns_ = 0, liveness_deadline_ns_ = 0;
  size_t pings_sent_ = 0, pongs_ = 0;
  size_t closed_after_join_ = 0;
  uint64_t server_pings_ = 0;
  uint64_t protocol_errors_ = 0;
  std::map<std::string, uint64_t> error_codes_;
  std::map<std::string, uint64_t> close_codes_;
  bool finished_ = false;
  int exit_code_ = 0;
};

}  // namespace
}  // namespace tandem::bench::sig

int main(int argc, char** argv) {
  std::optional<tandem::bench::sig::Options> options = tandem::bench::sig::ParseOptions(argc, argv);
  if (!options) {
    tandem::bench::sig::Usage();
    return 2;
  }
  if (options->steps.empty()) options->steps.push_back({});
  // A file descriptor per client: raise the soft limit to the hard one.
  rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  tandem::bench::sig::Load load(std::move(*options));
  return load.Run();
}
