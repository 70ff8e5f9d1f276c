// DCEP codec and the data channel manager, with two managers joined by an in-memory SCTP stand-in that
// delivers messages and stream resets in order.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "datachannel/data_channel_manager.h"
#include "datachannel/dcep.h"

namespace tandem::datachannel {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

ChannelInit Named(std::string label, Reliability reliability = {}) {
  ChannelInit init;
  init.label = std::move(label);
  init.reliability = reliability;
  return init;
}

ChannelInit Negotiated(std::optional<uint16_t> id) {
  ChannelInit init;
  init.negotiated = true;
  init.id = id;
  return init;
}

TEST(DcepTest, OpenRoundTripsEveryChannelType) {
  const Reliability cases[] = {
      {true, std::nullopt, std::nullopt}, {false, std::nullopt, std::nullopt}, {true, 0, std::nullopt},
      {false, 5, std::nullopt},           {true, std::nullopt, 1500},          {false, std::nullopt, 0},
  };
  for (const Reliability& r : cases) {
    OpenMessage open;
    open.reliability = r;
    open.priority = 512;
    open.label = "chat";
    open.protocol = "json";
    std::vector<uint8_t> wire;
    open.SerializeTo(wire);
    auto parsed = OpenMessage::Parse(wire);
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    EXPECT_EQ(*parsed, open);
  }
}

TEST(DcepTest, OpenMatchesTheRfcLayout) {
  // RFC 8832 §5.1: type 0x03, channel type, priority, reliability parameter, label length, protocol length.
  OpenMessage open;
  open.reliability = {false, 3, std::nullopt};
  open.label = "ab";
  open.protocol = "p";
  std::vector<uint8_t> wire;
  open.SerializeTo(wire);
  const std::vector<uint8_t> expected = {0x03, 0x81, 0x01, 0x00, 0, 0, 0, 3, 0, 2, 0, 1, 'a', 'b', 'p'};
  EXPECT_EQ(wire, expected);
}

TEST(DcepTest, MalformedOpensAreRefused) {
  EXPECT_EQ(OpenMessage::Parse(std::vector<uint8_t>{0x03, 0x00}).error().code, ErrorCode::kTruncated);
  // Wrong message type.
  EXPECT_EQ(OpenMessage::Parse(std::vector<uint8_t>{0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).error().code,
            ErrorCode::kMalformed);
  // Label length says 5, one byte follows.
  EXPECT_EQ(OpenMessage::Parse(std::vector<uint8_t>{0x03, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 'x'}).error().code,
            ErrorCode::kMalformed);
  // Trailing garbage.
  EXPECT_EQ(OpenMessage::Parse(std::vector<uint8_t>{0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}).error().code,
            ErrorCode::kMalformed);
  // Unknown channel type.
  EXPECT_EQ(OpenMessage::Parse(std::vector<uint8_t>{0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).error().code,
            ErrorCode::kMalformed);
  // A label over the limit.
  std::vector<uint8_t> big = {0x03, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0};
  big.resize(big.size() + 0x800, 'a');
  EXPECT_EQ(OpenMessage::Parse(big).error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(AckMessage::Matches(std::vector<uint8_t>{0x02}));
  EXPECT_FALSE(AckMessage::Matches(std::vector<uint8_t>{0x02, 0x00}));
}

// One side's SCTP: what the manager sends is queued for the other side; resets are delivered after the data
// queued before them (as SCTP does, RFC 6525 §5.2.2).
struct Wire;
class FakeSctp final : public SctpPort {
 public:
  FakeSctp(Wire& wire, int side) : wire_(wire), side_(side) {}
  Status Send(uint16_t stream, uint32_t ppid, ByteSpan payload, const Reliability& r) override;
  Status ResetStreams(std::span<const uint16_t> outgoing) override;
  size_t buffered_amount(uint16_t stream) const override {
    return buffered.count(stream) ? buffered.at(stream) : 0;
  }
  void SetBufferedAmountLowThreshold(uint16_t stream, size_t bytes) override { thresholds[stream] = bytes; }

  std::map<uint16_t, size_t> buffered;
  std::map<uint16_t, size_t> thresholds;
  std::vector<Reliability> sent_reliability;
  bool fail_sends = false;

 private:
  Wire& wire_;
  int side_;
};

struct Item {
  enum { kMessage, kReset } kind;
  uint16_t stream;
  uint32_t ppid;
  std::vector<uint8_t> payload;
  std::vector<uint16_t> streams;
};

struct Wire {
  Wire() : a_sctp(*this, 0), z_sctp(*this, 1), a(a_sctp, {}), z(z_sctp, {}) {}
  FakeSctp a_sctp, z_sctp;
  DataChannelManager a, z;
  std::deque<Item> to[2];  // to[0]: for a, to[1]: for z
  std::vector<ChannelEvent> events[2];

  DataChannelManager& manager(int side) { return side == 0 ? a : z; }

  void Connect() {
    a.SetDtlsRole(true);
    z.SetDtlsRole(false);
    a.HandleSctpConnected();
    z.HandleSctpConnected();
  }
  // Delivers everything in flight, both ways, until quiet; collects events.
  void Pump() {
    for (int guard = 0; guard < 1000; ++guard) {
      bool moved = false;
      for (int side = 0; side < 2; ++side) {
        while (!to[side].empty()) {
          Item item = std::move(to[side].front());
          to[side].pop_front();
          moved = true;
          if (item.kind == Item::kMessage) {
            manager(side).HandleSctpMessage(item.stream, item.ppid, item.payload);
          } else {
            manager(side).HandleIncomingStreamsReset(item.streams);
            manager(1 - side).HandleOutgoingStreamsReset(item.streams);
          }
        }
      }
      for (int side = 0; side < 2; ++side) {
        while (auto e = manager(side).PollEvent()) events[side].push_back(std::move(*e));
      }
      if (!moved) return;
    }
    FAIL() << "the managers never went quiet";
  }
  std::vector<ChannelEvent> Take(int side) { return std::exchange(events[side], {}); }
};

Status FakeSctp::Send(uint16_t stream, uint32_t ppid, ByteSpan payload, const Reliability& r) {
  if (fail_sends) return MakeError(ErrorCode::kLimitExceeded, "full");
  sent_reliability.push_back(r);
  wire_.to[1 - side_].push_back(Item{Item::kMessage, stream, ppid, {payload.begin(), payload.end()}, {}});
  return OkStatus();
}

Status FakeSctp::ResetStreams(std::span<const uint16_t> outgoing) {
  wire_.to[1 - side_].push_back(Item{Item::kReset, 0, 0, {}, {outgoing.begin(), outgoing.end()}});
  return OkStatus();
}

const ChannelEvent* FindEvent(const std::vector<ChannelEvent>& events, ChannelEvent::Kind kind) {
  for (const auto& e : events) {
    if (e.kind == kind) return &e;
  }
  return nullptr;
}

TEST(DataChannelManagerTest, InBandChannelOpensOnBothSidesWithLabelProtocolAndReliability) {
  Wire w;
  ChannelInit init;
  init.label = "chat";
  init.protocol = "json";
  init.reliability = {false, 2, std::nullopt};
  auto handle = w.a.Create(init);
  ASSERT_TRUE(handle.ok());
  EXPECT_FALSE(w.a.Find(*handle)->id) << "no id before the DTLS role is known";
  w.Connect();
  w.Pump();
  EXPECT_EQ(w.a.Find(*handle)->id, 0) << "the DTLS client uses even ids (RFC 8832 §6)";
  auto a_events = w.Take(0);
  ASSERT_NE(FindEvent(a_events, ChannelEvent::Kind::kOpen), nullptr);
  auto z_events = w.Take(1);
  const ChannelEvent* announced = FindEvent(z_events, ChannelEvent::Kind::kAnnounced);
  ASSERT_NE(announced, nullptr);
  const ChannelInfo* remote = w.z.Find(announced->handle);
  EXPECT_EQ(remote->init.label, "chat");
  EXPECT_EQ(remote->init.protocol, "json");
  EXPECT_EQ(remote->init.reliability, init.reliability);
  EXPECT_EQ(remote->state, ChannelState::kOpen);
  EXPECT_EQ(remote->id, 0);

  // The server side picks odd ids.
  auto z_handle = w.z.Create(Named("back"));
  ASSERT_TRUE(z_handle.ok());
  EXPECT_EQ(w.z.Find(*z_handle)->id, 1);
}

TEST(DataChannelManagerTest, MessagesCrossWithTheirTypeIncludingEmptyOnes) {
  Wire w;
  w.Connect();
  auto handle = w.a.Create(Named("x"));
  w.Pump();
  const ChannelHandle remote = FindEvent(w.Take(1), ChannelEvent::Kind::kAnnounced)->handle;
  w.Take(0);
  ASSERT_TRUE(w.a.Send(*handle, Bytes("hello"), false).ok());
  ASSERT_TRUE(w.a.Send(*handle, Bytes("\x01\x02"), true).ok());
  ASSERT_TRUE(w.a.Send(*handle, {}, false).ok());
  ASSERT_TRUE(w.a.Send(*handle, {}, true).ok());
  ASSERT_TRUE(w.z.Send(remote, Bytes("back"), false).ok());
  w.Pump();
  auto z_events = w.Take(1);
  ASSERT_EQ(z_events.size(), 4u);
  EXPECT_EQ(z_events[0].data, Bytes("hello"));
  EXPECT_FALSE(z_events[0].binary);
  EXPECT_EQ(z_events[1].data, Bytes("\x01\x02"));
  EXPECT_TRUE(z_events[1].binary);
  EXPECT_TRUE(z_events[2].data.empty());
  EXPECT_FALSE(z_events[2].binary);
  EXPECT_TRUE(z_events[3].data.empty());
  EXPECT_TRUE(z_events[3].binary);
  auto a_events = w.Take(0);
  ASSERT_EQ(a_events.size(), 1u);
  EXPECT_EQ(a_events[0].data, Bytes("back"));
  EXPECT_EQ(w.a.Find(*handle)->messages_sent, 4u);
  EXPECT_EQ(w.z.Find(remote)->bytes_received, 7u);
}

TEST(DataChannelManagerTest, MessagesGoOrderedUntilTheAckArrives) {
  Wire w;
  w.Connect();
  auto handle = w.a.Create(Named("u", {false, 0, std::nullopt}));
  // The OPEN is queued but not delivered: the channel is open locally and sends ordered.
  ASSERT_TRUE(w.a.Send(*handle, Bytes("early"), false).ok());
  ASSERT_EQ(w.a_sctp.sent_reliability.size(), 2u);
  EXPECT_TRUE(w.a_sctp.sent_reliability[0].ordered) << "the OPEN";
  EXPECT_TRUE(w.a_sctp.sent_reliability[1].ordered) << "data before the ACK";
  w.Pump();  // OPEN and ACK
  ASSERT_TRUE(w.a.Send(*handle, Bytes("late"), false).ok());
  EXPECT_FALSE(w.a_sctp.sent_reliability.back().ordered);
  EXPECT_EQ(w.a_sctp.sent_reliability.back().max_retransmits, 0);
  // The early message arrived after the OPEN.
  auto z_events = w.Take(1);
  ASSERT_GE(z_events.size(), 2u);
  EXPECT_EQ(z_events[0].kind, ChannelEvent::Kind::kAnnounced);
  EXPECT_EQ(z_events[1].data, Bytes("early"));
}

TEST(DataChannelManagerTest, NegotiatedChannelsOpenWithoutDcepOnTheGivenId) {
  Wire w;
  ChannelInit init = Named("chat");
  init.negotiated = true;
  init.id = 1000;
  auto a = w.a.Create(init);
  auto z = w.z.Create(init);
  ASSERT_TRUE(a.ok() && z.ok());
  w.Connect();
  w.Pump();
  EXPECT_TRUE(w.a_sctp.sent_reliability.empty()) << "no DCEP for negotiated channels";
  EXPECT_NE(FindEvent(w.Take(0), ChannelEvent::Kind::kOpen), nullptr);
  EXPECT_NE(FindEvent(w.Take(1), ChannelEvent::Kind::kOpen), nullptr);
  ASSERT_TRUE(w.a.Send(*a, Bytes("hi"), false).ok());
  w.Pump();
  auto z_events = w.Take(1);
  ASSERT_EQ(z_events.size(), 1u);
  EXPECT_EQ(z_events[0].handle, *z);
  EXPECT_EQ(z_events[0].data, Bytes("hi"));
  // The id is taken: neither another negotiated channel nor the allocator may use it.
  EXPECT_EQ(w.a.Create(init).error().code, ErrorCode::kAlreadyExists);
}

TEST(DataChannelManagerTest, CloseResetsBothDirectionsAndFreesTheId) {
  Wire w;
  w.Connect();
  auto handle = w.a.Create(Named("x"));
  w.Pump();
  const ChannelHandle remote = FindEvent(w.Take(1), ChannelEvent::Kind::kAnnounced)->handle;
  w.Take(0);
  w.a.Close(*handle);
  EXPECT_EQ(w.a.Find(*handle)->state, ChannelState::kClosing);
  EXPECT_EQ(w.a.Send(*handle, Bytes("x"), false).error().code, ErrorCode::kUnavailable);
  w.Pump();
  auto z_events = w.Take(1);
  EXPECT_NE(FindEvent(z_events, ChannelEvent::Kind::kClosing), nullptr);
  EXPECT_NE(FindEvent(z_events, ChannelEvent::Kind::kClosed), nullptr);
  EXPECT_NE(FindEvent(w.Take(0), ChannelEvent::Kind::kClosed), nullptr);
  EXPECT_EQ(w.a.Find(*handle)->state, ChannelState::kClosed);
  EXPECT_EQ(w.z.Find(remote)->state, ChannelState::kClosed);
  // Id 0 is free again on both sides.
  auto again = w.a.Create(Named("y"));
  EXPECT_EQ(w.a.Find(*again)->id, 0);
  w.Pump();
  const auto z_after = w.Take(1);
  const ChannelEvent* announced = FindEvent(z_after, ChannelEvent::Kind::kAnnounced);
  ASSERT_NE(announced, nullptr);
  EXPECT_EQ(w.z.Find(announced->handle)->init.label, "y");
}

TEST(DataChannelManagerTest, RefusesBadArgumentsAndMessagesOverTheRemoteLimit) {
  Wire w;
  EXPECT_EQ(w.a.Create(Negotiated(std::nullopt)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.a.Create(Named("r", {true, 1, 1})).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.a.Create(Named(std::string(2000, 'x'))).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(w.a.Create(Negotiated(65535)).error().code, ErrorCode::kInvalidArgument);
  w.Connect();
  auto handle = w.a.Create(Named("x"));
  w.a.SetRemoteMaxMessageSize(10);
  EXPECT_EQ(w.a.Send(*handle, std::vector<uint8_t>(11), true).error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(w.a.Send(*handle, std::vector<uint8_t>(10), true).ok());
  w.a_sctp.fail_sends = true;
  EXPECT_FALSE(w.a.Send(*handle, std::vector<uint8_t>(1), true).ok());
}

TEST(DataChannelManagerTest, HostileInputIsDroppedAndCounted) {
  Wire w;
  w.Connect();
  // Data on a stream without a channel, a malformed OPEN, an unknown PPID on an open channel.
  w.z.HandleSctpMessage(7, ppid::kString, Bytes("x"));
  w.z.HandleSctpMessage(8, ppid::kDcep, Bytes("\x03\x00"));
  auto handle = w.a.Create(Named("x"));
  w.Pump();
  w.z.HandleSctpMessage(0, 99, Bytes("x"));
  EXPECT_EQ(w.z.stats().dropped_messages, 2u);
  EXPECT_EQ(w.z.stats().refused_opens, 1u);
  // A second OPEN for the stream in use is refused; the existing channel is untouched.
  OpenMessage open;
  open.label = "evil";
  std::vector<uint8_t> wire;
  open.SerializeTo(wire);
  w.z.HandleSctpMessage(0, ppid::kDcep, wire);
  EXPECT_EQ(w.z.stats().refused_opens, 2u);
  ASSERT_TRUE(w.a.Send(*handle, Bytes("ok"), false).ok());
  w.Pump();
  auto z_events = w.Take(1);
  ASSERT_FALSE(z_events.empty());
  EXPECT_EQ(w.z.Find(z_events.back().handle)->init.label, "x");
}

TEST(DataChannelManagerTest, BufferedAmountLowAndThresholdReachTheSctpPort) {
  Wire w;
  w.Connect();
  auto handle = w.a.Create(Named("x"));
  w.a.SetBufferedAmountLowThreshold(*handle, 4096);
  EXPECT_EQ(w.a_sctp.thresholds[0], 4096u);
  w.a_sctp.buffered[0] = 123;
  EXPECT_EQ(w.a.buffered_amount(*handle), 123u);
  w.Pump();
  w.Take(0);
  w.a.HandleBufferedAmountLow(0);
  w.Pump();
  auto events = w.Take(0);
  ASSERT_NE(FindEvent(events, ChannelEvent::Kind::kBufferedAmountLow), nullptr);
}

TEST(DataChannelManagerTest, SctpLossClosesEveryChannel) {
  Wire w;
  w.Connect();
  auto one = w.a.Create(Named("1"));
  auto two = w.a.Create(Named("2"));
  w.Pump();
  w.Take(0);
  w.a.HandleSctpClosed();
  w.Pump();
  auto events = w.Take(0);
  int closed = 0;
  for (const auto& e : events) closed += e.kind == ChannelEvent::Kind::kClosed;
  EXPECT_EQ(closed, 2);
  EXPECT_EQ(w.a.Find(*one)->state, ChannelState::kClosed);
  EXPECT_EQ(w.a.Find(*two)->state, ChannelState::kClosed);
}

TEST(DataChannelManagerTest, ChannelLimitRefusesInBandOpensByResettingTheStream) {
  Wire w;
  ManagerOptions options;
  options.max_channels = 1;
  DataChannelManager small(w.z_sctp, options);
  small.SetDtlsRole(false);
  small.HandleSctpConnected();
  OpenMessage open;
  open.label = "a";
  std::vector<uint8_t> wire;
  open.SerializeTo(wire);
  small.HandleSctpMessage(0, ppid::kDcep, wire);
  small.HandleSctpMessage(2, ppid::kDcep, wire);
  EXPECT_EQ(small.stats().refused_opens, 1u);
  ASSERT_FALSE(w.to[0].empty());
  EXPECT_EQ(w.to[0].back().kind, Item::kReset);
  EXPECT_EQ(w.to[0].back().streams, std::vector<uint16_t>{2});
}

}  // namespace
}  // namespace tandem::datachannel
