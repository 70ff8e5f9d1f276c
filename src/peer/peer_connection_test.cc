// The public API (include/tandem/) over real loopback sockets: two PeerConnections in one process, signaling
// passed between them in memory. Checks the W3C-shaped behaviour, the threading contract and the errors.
// Every wait is bounded (a condition variable with a deadline), so a broken connection fails a test instead
// of hanging it.
#include "tandem/peer_connection.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "core/log.h"
#include "peer/peer_connection_test_util.h"

namespace tandem {
namespace {

using namespace testing_pc;  // NOLINT(google-build-using-namespace): test helpers

TEST(PeerConnectionTest, ChannelsOfEveryKindCarryTextAndBinaryBothWays) {
  // Declared before the connections: their callbacks write here until the connections are gone.
  std::map<std::string, std::vector<DataChannelMessage>> at_b, at_a;
  Pair p;
  struct Kind {
    std::string label;
    DataChannelInit init;
  };
  std::vector<Kind> kinds = {{"ordered", {}}, {"unordered", {}}, {"lossy", {}}};
  kinds[1].init.ordered = false;
  kinds[2].init.ordered = false;
  kinds[2].init.max_retransmits = 0;
  std::vector<std::shared_ptr<DataChannel>> mine;
  for (const auto& k : kinds) {
    auto channel = p.a.CreateDataChannel(k.label, k.init);
    EXPECT_EQ(channel->ready_state(), DataChannelState::kConnecting);
    EXPECT_FALSE(channel->id().has_value()) << "no id before the DTLS role is known";
    channel->OnMessage(
        [&, label = k.label](const DataChannelMessage& m) { p.rec.Do([&] { at_a[label].push_back(m); }); });
    mine.push_back(channel);
  }
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(p.RunUntil([&] { return p.b_channels.size() == kinds.size(); }));
  for (auto& channel : p.b_channels) {
    // Echo everything back on the same channel, from the connection's own thread.
    std::weak_ptr<DataChannel> weak = channel;
    channel->OnMessage([&, weak](const DataChannelMessage& m) {
      auto c = weak.lock();
      p.rec.Do([&] { at_b[c->label()].push_back(m); });
      if (m.binary) {
        c->Send(std::span<const uint8_t>(m.data));
      } else {
        c->Send(m.text());
      }
    });
  }
  ASSERT_TRUE(p.RunUntil([&] {
    for (auto& c : mine) {
      if (c->ready_state() != DataChannelState::kOpen) return false;
    }
    return true;
  }));
  for (size_t i = 0; i < kinds.size(); ++i) {
    const auto& remote = *std::find_if(p.b_channels.begin(), p.b_channels.end(),
                                       [&](auto& c) { return c->label() == kinds[i].label; });
    EXPECT_EQ(remote->ordered(), kinds[i].init.ordered);
    EXPECT_EQ(remote->max_retransmits(), kinds[i].init.max_retransmits);
    EXPECT_EQ(remote->id(), mine[i]->id());
    for (int n = 0; n < 20; ++n) {
      if (n % 2) {
        mine[i]->Send(std::vector<uint8_t>(1 + n * 3000, static_cast<uint8_t>(n)));
      } else {
        mine[i]->Send("text " + std::to_string(n));
      }
    }
  }
  ASSERT_TRUE(p.RunUntil([&] {
    for (const auto& k : kinds) {
      if (at_a[k.label].size() < 20) return false;
    }
    return true;
  }));
  for (const auto& k : kinds) {
    std::multiset<std::string> got;
    for (const auto& m : at_a[k.label]) got.insert((m.binary ? "b" : "t") + std::string(m.text()));
    std::multiset<std::string> want;
    for (int n = 0; n < 20; ++n) {
      want.insert(n % 2 ? "b" + std::string(1 + n * 3000, static_cast<char>(n))
                        : "ttext " + std::to_string(n));
    }
    EXPECT_EQ(got, want) << k.label;
    if (k.label == "ordered") {
      EXPECT_EQ(at_a[k.label][2].text(), "text 2");
    }
  }
}

TEST(PeerConnectionTest, CallbacksRunOnOneLoopThreadAndSharedRuntimesCallInline) {
  // One runtime for both: a callback may call into the other connection directly (it runs inline, no
  // waiting).
  Recorder rec;
  std::set<std::thread::id> threads;
  bool open = false;
  auto runtime = Runtime::Create(1);
  PeerConnection a(Loopback(runtime)), b(Loopback(runtime));
  auto note = [&] { rec.Do([&] { threads.insert(std::this_thread::get_id()); }); };
  a.OnIceCandidate([&](const std::optional<IceCandidate>& c) {
    note();
    b.AddIceCandidate(c);
  });
  b.OnIceCandidate([&](const std::optional<IceCandidate>& c) {
    note();
    a.AddIceCandidate(c);
  });
  b.OnDataChannel([&](std::shared_ptr<DataChannel> c) { note(); });
  a.OnNegotiationNeeded([&] {
    note();
    // Perfect-negotiation style, all from inside the callbacks.
    a.SetLocalDescription();
    b.SetRemoteDescription(*a.LocalDescription());
    b.SetLocalDescription();
    a.SetRemoteDescription(*b.LocalDescription());
  });
  auto channel = a.CreateDataChannel("x");
  channel->OnOpen([&] {
    note();
    rec.Do([&] { open = true; });
  });
  ASSERT_TRUE(rec.WaitFor([&] { return open; }));
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u) << "callbacks never run on the caller's thread";
  EXPECT_EQ(a.signaling_state(), SignalingState::kStable);
}

// The loop thread does not wait for the application's thread: an open event or messages that came before
// their handler was set are delivered once it is (a browser delivers them to handlers set in the same task).
TEST(PeerConnectionTest, HandlersSetAfterTheEventStillGetIt) {
  bool a_open = false;
  std::vector<std::string> received;
  Pair p;
  auto channel = p.a.CreateDataChannel("late");
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(
      p.RunUntil([&] { return channel->ready_state() == DataChannelState::kOpen && !p.b_channels.empty(); }));
  auto remote = p.b_channels[0];
  ASSERT_TRUE(p.RunUntil([&] { return remote->ready_state() == DataChannelState::kOpen; }));
  channel->Send("one");
  channel->Send("two");
  ASSERT_TRUE(p.RunUntil([&] { return remote->buffered_amount() == 0 && channel->buffered_amount() == 0; }));
  channel->OnOpen([&] { p.rec.Do([&] { a_open = true; }); });
  remote->OnMessage([&](const DataChannelMessage& m) {
    p.rec.Do([&] { received.emplace_back(m.data.begin(), m.data.end()); });
  });
  EXPECT_TRUE(p.RunUntil([&] { return a_open; })) << "the open that had no handler";
  EXPECT_TRUE(p.RunUntil([&] { return received.size() == 2; })) << "the messages that had no handler";
  EXPECT_EQ(received, (std::vector<std::string>{"one", "two"}));
  channel->Send("three");
  EXPECT_TRUE(p.RunUntil([&] { return received.size() == 3; }));
}

TEST(PeerConnectionTest, BufferedAmountGrowsAtOnceAndTheLowThresholdFires) {
  size_t received = 0;
  int low_events = 0;
  Pair p;
  auto channel = p.a.CreateDataChannel("bulk");
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(
      p.RunUntil([&] { return channel->ready_state() == DataChannelState::kOpen && !p.b_channels.empty(); }));
  p.b_channels[0]->OnMessage(
      [&](const DataChannelMessage& m) { p.rec.Do([&] { received += m.data.size(); }); });
  channel->set_buffered_amount_low_threshold(64 * 1024);
  channel->OnBufferedAmountLow([&] { p.rec.Do([&] { ++low_events; }); });
  const std::vector<uint8_t> message(256 * 1024, 0x5a);
  for (int i = 0; i < 16; ++i) channel->Send(message);
  // W3C: bufferedAmount counts what send() queued, at once.
  EXPECT_GE(channel->buffered_amount(), 1u << 20);
  ASSERT_TRUE(p.RunUntil([&] { return received == 16 * message.size() && low_events > 0; }));
  EXPECT_LE(channel->buffered_amount(), 64u * 1024);
  // Above the peer's max-message-size (256 KiB by default): TypeError.
  try {
    channel->Send(std::vector<uint8_t>(256 * 1024 + 1));
    FAIL() << "expected a TypeError";
  } catch (const RtcError& e) {
    EXPECT_EQ(e.name(), "TypeError");
  }
  // Over the 16 MiB send buffer: OperationError.
  bool full = false;
  try {
    for (int i = 0; i < 100; ++i) channel->Send(message);
  } catch (const RtcError& e) {
    EXPECT_EQ(e.name(), "OperationError");
    full = true;
  }
  EXPECT_TRUE(full);
}

TEST(PeerConnectionTest, ClosingAChannelClosesItOnBothSides) {
  bool remote_closed = false, local_closed = false;
  Pair p;
  auto channel = p.a.CreateDataChannel("x");
  channel->OnClose([&] { p.rec.Do([&] { local_closed = true; }); });
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(
      p.RunUntil([&] { return channel->ready_state() == DataChannelState::kOpen && !p.b_channels.empty(); }));
  p.b_channels[0]->OnClose([&] { p.rec.Do([&] { remote_closed = true; }); });
  channel->Close();
  EXPECT_EQ(channel->ready_state(), DataChannelState::kClosing);
  ASSERT_TRUE(p.RunUntil([&] { return remote_closed && local_closed; }));
  EXPECT_EQ(channel->ready_state(), DataChannelState::kClosed);
  try {
    channel->Send("late");
    FAIL() << "expected an InvalidStateError";
  } catch (const RtcError& e) {
    EXPECT_EQ(e.name(), "InvalidStateError");
  }
}

TEST(PeerConnectionTest, StatsReportTheSelectedPairAndChannelCounters) {
  Pair p;
  auto channel = p.a.CreateDataChannel("stats");
  p.Negotiate();
  ASSERT_TRUE(p.Connected());
  ASSERT_TRUE(p.RunUntil([&] { return channel->ready_state() == DataChannelState::kOpen; }));
  channel->Send("one");
  channel->Send("two");
  ASSERT_TRUE(p.RunUntil([&] { return channel->buffered_amount() == 0; }));
  StatsReport report = p.a.GetStats();
  const RtcStats* pair = report.SelectedCandidatePair();
  ASSERT_NE(pair, nullptr);
  EXPECT_EQ(pair->String("state"), "succeeded");
  EXPECT_GT(pair->Number("bytesSent").value_or(0), 0);
  auto local = report.stats.find(*pair->String("localCandidateId"));
  ASSERT_NE(local, report.stats.end());
  EXPECT_EQ(local->second.String("candidateType"), "host");
  EXPECT_EQ(local->second.String("address"), "127.0.0.1");
  bool found = false;
  for (const RtcStats* dc : report.OfType("data-channel")) {
    if (dc->String("label") == "stats") {
      found = true;
      EXPECT_EQ(dc->Number("messagesSent"), 2);
      EXPECT_EQ(dc->String("state"), "open");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_NE(report.ToJson().find("\"candidate-pair\""), std::string::npos);
  EXPECT_EQ(report.OfType("transport").at(0)->String("dtlsState"), "connected");
}

TEST(PeerConnectionTest, ErrorsAreThrownWithW3cNames) {
  PeerConnection pc(Loopback());
  auto name_of = [](const std::function<void()>& fn) -> std::string {
    try {
      fn();
    } catch (const RtcError& e) {
      return e.name() + ": " + e.what();
    }
    return "no error";
  };
  EXPECT_EQ(name_of([&] { pc.CreateAnswer(); }).rfind("InvalidStateError", 0), 0u);
  const std::string bad = name_of([&] { pc.SetRemoteDescription({SdpType::kOffer, "v=0\r\nbogus\r\n"}); });
  EXPECT_EQ(bad.rfind("OperationError", 0), 0u) << bad;
  EXPECT_NE(bad.find("line 2"), std::string::npos) << bad;
  EXPECT_EQ(name_of([&] {
              pc.AddIceCandidate(IceCandidate{"candidate:x", "0", 0, std::nullopt});
            }).rfind("InvalidStateError", 0),
            0u);
  DataChannelInit negotiated;
  negotiated.negotiated = true;
  EXPECT_EQ(name_of([&] { pc.CreateDataChannel("n", negotiated); }).rfind("TypeError", 0), 0u);
  RtcConfiguration bad_server = Loopback();
  bad_server.ice_servers = {{{"turn:127.0.0.1:3478"}, "", ""}};
  EXPECT_EQ(name_of([&] { PeerConnection x(bad_server); }).rfind("InvalidAccessError", 0), 0u);
  bad_server.ice_servers = {{{"http://example.org"}, "", ""}};
  EXPECT_EQ(name_of([&] { PeerConnection x(bad_server); }).rfind("SyntaxError", 0), 0u);
  pc.Close();
  EXPECT_EQ(pc.signaling_state(), SignalingState::kClosed);
  EXPECT_EQ(name_of([&] { pc.CreateOffer(); }).rfind("InvalidStateError", 0), 0u);
  EXPECT_EQ(name_of([&] { pc.CreateDataChannel("late"); }).rfind("InvalidStateError", 0), 0u);
}

TEST(PeerConnectionTest, AConnectionMayBeDestroyedFromItsOwnCallback) {
  Recorder rec;
  bool destroyed = false;
  auto runtime = Runtime::Create(1);
  auto a = std::make_unique<PeerConnection>(Loopback(runtime));
  a->OnNegotiationNeeded([&] {
    a.reset();  // inside a's own callback, on its loop thread
    rec.Do([&] { destroyed = true; });
  });
  a->CreateDataChannel("x");
  ASSERT_TRUE(rec.WaitFor([&] { return destroyed; }));
  // A call into another connection on the same loop waits for the tasks queued before it, the deferred
  // release of `a` included: then the runtime's last reference is ours and it ends on this thread.
  PeerConnection(Loopback(runtime)).Close();
}

}  // namespace
}  // namespace tandem
