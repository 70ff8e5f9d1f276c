// The association's building blocks in isolation: TSN tracking and SACK contents, reassembly and ordered
// delivery, the send queue's scheduling and buffered amounts, the retransmission queue's SACK processing,
// congestion control and partial reliability, and the RTO estimator.
#include <gtest/gtest.h>

#include <deque>

#include "sctp/data_tracker.h"
#include "sctp/reassembly_queue.h"
#include "sctp/retransmission_queue.h"
#include "sctp/rto.h"
#include "sctp/send_queue.h"
#include "sctp/sequence.h"

namespace tandem::sctp {
namespace {

// ---- sequence numbers ----

TEST(SequenceTest, SerialArithmeticAndUnwrap) {
  EXPECT_TRUE(SerialLess32(0xffffffff, 0));
  EXPECT_FALSE(SerialLess32(0, 0xffffffff));
  EXPECT_TRUE(SerialLess16(65535, 2));
  EXPECT_TRUE(SerialLessOrEqual16(3, 3));
  const uint64_t base = uint64_t{1} << 32;
  EXPECT_EQ(Unwrap32(base + 0xfffffffe, 1), base + 0x100000001);  // forward across the wrap
  EXPECT_EQ(Unwrap32(base + 5, 0xffffffff), base - 1);            // just behind
  EXPECT_EQ(Wrap32(base + 7), 7u);
}

// ---- DataTracker ----

uint64_t T(uint32_t n) { return (uint64_t{1} << 32) + n; }

TEST(DataTrackerTest, CumulativeAndGapBlocks) {
  DataTracker t;
  t.Reset(10);
  EXPECT_EQ(t.cumulative_tsn(), T(9));
  EXPECT_TRUE(t.IsDuplicate(T(9)));
  t.Observe(T(10));
  t.Observe(T(12));
  t.Observe(T(13));
  t.Observe(T(16));
  EXPECT_EQ(t.cumulative_tsn(), T(10));
  EXPECT_TRUE(t.has_gaps());
  EXPECT_TRUE(t.IsDuplicate(T(13)));
  EXPECT_FALSE(t.IsDuplicate(T(14)));
  SackChunk s;
  t.FillSack(s, 1000, 1200);
  EXPECT_EQ(s.cumulative_tsn_ack, 10u);
  EXPECT_EQ(s.a_rwnd, 1000u);
  // RFC 9260 §3.3.4: offsets from the cumulative TSN ack.
  EXPECT_EQ(s.gap_blocks, (std::vector<SackChunk::GapBlock>{{2, 3}, {6, 6}}));
  t.Observe(T(11));  // fills the first gap: the cumulative TSN jumps over the range
  EXPECT_EQ(t.cumulative_tsn(), T(13));
  t.Observe(T(15));  // joins the range before 16
  t.Observe(T(14));  // joins everything
  EXPECT_EQ(t.cumulative_tsn(), T(16));
  EXPECT_FALSE(t.has_gaps());
}

TEST(DataTrackerTest, DuplicatesReportedOnce) {
  DataTracker t;
  t.Reset(0xfffffffe);  // across the wrap
  t.Observe(t.Unwrap(0xfffffffe));
  t.Observe(t.Unwrap(0xffffffff));
  t.Observe(t.Unwrap(0));
  EXPECT_EQ(t.cumulative_tsn_wrapped(), 0u);
  EXPECT_TRUE(t.IsDuplicate(t.Unwrap(0xffffffff)));
  t.ObserveDuplicate(0xffffffff);
  EXPECT_TRUE(t.has_duplicates());
  SackChunk s;
  t.FillSack(s, 1, 1200);
  EXPECT_EQ(s.duplicate_tsns, (std::vector<uint32_t>{0xffffffff}));
  t.FillSack(s, 1, 1200);
  EXPECT_TRUE(s.duplicate_tsns.empty());
}

TEST(DataTrackerTest, WindowAndRangeLimits) {
  DataTracker t;
  t.Reset(1);
  EXPECT_FALSE(t.CanAccept(T(0)));
  EXPECT_TRUE(t.CanAccept(T(1) + DataTracker::kMaxTsnAhead - 1));
  EXPECT_FALSE(t.CanAccept(T(1) + DataTracker::kMaxTsnAhead + 1));  // beyond 16-bit gap offsets
  for (size_t i = 0; i < DataTracker::kMaxRanges; ++i) t.Observe(T(3 + 2 * static_cast<uint32_t>(i)));
  const uint64_t beyond = T(3 + 2 * static_cast<uint32_t>(DataTracker::kMaxRanges) + 5);
  EXPECT_FALSE(t.CanAccept(beyond));  // would be a new range
  EXPECT_TRUE(t.CanAccept(T(4)));     // extends ranges
  EXPECT_TRUE(t.CanAccept(T(1)));     // advances the cumulative TSN
  SackChunk s;
  t.FillSack(s, 0, 16 + 4 * 10);
  EXPECT_EQ(s.gap_blocks.size(), 10u);  // bounded by the room given
}

TEST(DataTrackerTest, ForwardTsnSkipsAndMerges) {
  DataTracker t;
  t.Reset(1);
  t.Observe(T(5));
  t.Observe(T(6));
  t.Observe(T(9));
  t.ForwardTo(T(4));  // skips 1..4; 5..6 now contiguous
  EXPECT_EQ(t.cumulative_tsn(), T(6));
  t.ForwardTo(T(3));  // behind: no-op
  EXPECT_EQ(t.cumulative_tsn(), T(6));
  t.ForwardTo(T(10));
  EXPECT_EQ(t.cumulative_tsn(), T(10));
  EXPECT_FALSE(t.has_gaps());
}

// ---- ReassemblyQueue ----

class ReassemblyTest : public ::testing::Test {
 protected:
  ReassemblyTest() : q_(1000, [this](Message&& m) { out_.push_back(std::move(m)); }) { q_.Reset(false); }

  ReceivedFragment Frag(uint64_t tsn, uint16_t stream, uint32_t id, bool b, bool e, std::string_view data,
                        bool unordered = false, uint32_t fsn = 0) {
    storage_.emplace_back(data);
    ReceivedFragment f;
    f.tsn = tsn;
    f.stream = stream;
    f.id = id;
    f.fsn = fsn;
    f.ppid = 51;
    f.beginning = b;
    f.end = e;
    f.unordered = unordered;
    f.payload = AsBytes(storage_.back());
    return f;
  }
  std::string Text(size_t i) const { return std::string(AsStringView(out_.at(i).payload)); }

  std::deque<std::string> storage_;
  std::vector<Message> out_;
  ReassemblyQueue q_;
};

TEST_F(ReassemblyTest, OrderedFragmentsOutOfOrder) {
  EXPECT_EQ(q_.Add(Frag(12, 1, 0, false, true, "c")), ReassemblyQueue::AddResult::kAccepted);
  EXPECT_EQ(q_.Add(Frag(10, 1, 0, true, false, "a")), ReassemblyQueue::AddResult::kAccepted);
  EXPECT_TRUE(out_.empty());
  EXPECT_EQ(q_.buffered_bytes(), 2u);
  q_.Add(Frag(11, 1, 0, false, false, "b"));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(Text(0), "abc");
  EXPECT_EQ(out_[0].stream, 1);
  EXPECT_EQ(out_[0].ppid, 51u);
  EXPECT_EQ(q_.buffered_bytes(), 0u);
}

TEST_F(ReassemblyTest, OrderedDeliveryWaitsForEarlierSsn) {
  q_.Add(Frag(11, 1, 1, true, true, "second"));
  q_.Add(Frag(12, 2, 0, true, true, "other stream"));
  ASSERT_EQ(out_.size(), 1u);  // stream 2 is independent
  EXPECT_EQ(Text(0), "other stream");
  q_.Add(Frag(10, 1, 0, true, true, "first"));
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(Text(1), "first");
  EXPECT_EQ(Text(2), "second");
}

TEST_F(ReassemblyTest, UnorderedDeliveredAtOnceIncludingOrphans) {
  q_.Add(Frag(20, 1, 0, false, true, "z", true));    // orphan: no B yet
  q_.Add(Frag(21, 1, 0, true, true, "solo", true));  // a different message
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(Text(0), "solo");
  EXPECT_TRUE(out_[0].unordered);
  q_.Add(Frag(18, 1, 0, true, false, "x", true));
  q_.Add(Frag(19, 1, 0, false, false, "y", true));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(Text(1), "xyz");
  EXPECT_EQ(q_.partial_message_count(), 0u);
  EXPECT_EQ(q_.buffered_bytes(), 0u);
}

TEST_F(ReassemblyTest, SsnWrapsAround) {
  for (uint32_t i = 0; i < 65536 + 10; ++i) {
    const uint16_t ssn = static_cast<uint16_t>(i);
    q_.Add(Frag(100 + i, 3, ssn, true, true, "m"));
  }
  EXPECT_EQ(out_.size(), 65546u);
  // Now out of order across the wrap point.
  q_.Add(Frag(200000, 3, 11, true, true, "b"));
  q_.Add(Frag(200001, 3, 10, true, true, "a"));
  ASSERT_EQ(out_.size(), 65548u);
  EXPECT_EQ(Text(65546), "a");
  EXPECT_EQ(Text(65547), "b");
}

TEST_F(ReassemblyTest, MessageTooLarge) {
  std::string big(600, 'x');
  EXPECT_EQ(q_.Add(Frag(1, 1, 0, true, false, big)), ReassemblyQueue::AddResult::kAccepted);
  EXPECT_EQ(q_.Add(Frag(2, 1, 0, false, true, big)), ReassemblyQueue::AddResult::kMessageTooLarge);
  EXPECT_EQ(q_.Add(Frag(3, 2, 0, true, true, std::string(1001, 'y'))),
            ReassemblyQueue::AddResult::kMessageTooLarge);
}

TEST_F(ReassemblyTest, ForwardTsnSkipsAndDeliversWaiting) {
  q_.Add(Frag(10, 1, 0, true, false, "lost-part"));  // SSN 0 incomplete, will be skipped
  q_.Add(Frag(13, 1, 1, true, true, "ssn1"));        // complete, waits for SSN 0
  q_.Add(Frag(14, 1, 2, true, false, "ssn2-"));      // incomplete, beyond the skip
  q_.Add(Frag(11, 2, 0, false, true, "u", true));    // unordered orphan at or below the new cum
  EXPECT_TRUE(out_.empty());
  const ForwardTsnChunk::SkippedStream skip[] = {{1, 0}};
  q_.HandleForwardTsn(12, skip);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(Text(0), "ssn1");
  q_.Add(Frag(15, 1, 2, false, true, "end"));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(Text(1), "ssn2-end");
  EXPECT_EQ(q_.buffered_bytes(), 0u);
  EXPECT_EQ(q_.partial_message_count(), 0u);
}

TEST_F(ReassemblyTest, InterleavedByMidAndFsn) {
  q_.Reset(true);
  // Two messages on two streams, fragments interleaved in TSN order.
  q_.Add(Frag(1, 1, 0, true, false, "A0", false, 0));
  q_.Add(Frag(2, 2, 0, true, false, "B0", false, 0));
  q_.Add(Frag(4, 2, 0, false, true, "B1", false, 1));
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(Text(0), "B0B1");
  q_.Add(Frag(5, 1, 0, false, true, "A2", false, 2));
  EXPECT_EQ(out_.size(), 1u);
  q_.Add(Frag(3, 1, 0, false, false, "A1", false, 1));
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(Text(1), "A0A1A2");
  // MID ordering: MID 2 before MID 1 waits.
  q_.Add(Frag(7, 1, 2, true, true, "m2"));
  q_.Add(Frag(6, 1, 1, true, true, "m1"));
  ASSERT_EQ(out_.size(), 4u);
  EXPECT_EQ(Text(2), "m1");
  EXPECT_EQ(Text(3), "m2");
  // I-FORWARD-TSN drops an unfinished unordered message and skips an ordered MID.
  q_.Add(Frag(8, 3, 5, true, false, "dropme", true));
  q_.Add(Frag(9, 1, 4, true, true, "m4"));
  const IForwardTsnChunk::SkippedStream skip[] = {{3, true, 5}, {1, false, 3}};
  q_.HandleIForwardTsn(skip);
  ASSERT_EQ(out_.size(), 5u);
  EXPECT_EQ(Text(4), "m4");
  EXPECT_EQ(q_.partial_message_count(), 0u);
}

TEST_F(ReassemblyTest, StreamResetRestartsSequence) {
  q_.Add(Frag(1, 1, 0, true, true, "a"));
  q_.Add(Frag(2, 1, 1, true, true, "b"));
  const uint16_t streams[] = {1};
  q_.ResetStreams(streams);
  q_.Add(Frag(3, 1, 0, true, true, "again"));
  ASSERT_EQ(out_.size(), 3u);
  EXPECT_EQ(Text(2), "again");
}

// ---- SendQueue ----

SendOptions Unordered() {
  SendOptions o;
  o.unordered = true;
  return o;
}
SendOptions Lifetime(TimeDelta t) {
  SendOptions o;
  o.lifetime = t;
  return o;
}
SendOptions MaxRetransmits(uint16_t n) {
  SendOptions o;
  o.max_retransmits = n;
  return o;
}

class SendQueueTest : public ::testing::Test {
 protected:
  SendQueueTest() : q_(10000, [this](uint16_t s) { low_.push_back(s); }) {}
  Status TryAdd(uint16_t stream, size_t size, SendOptions o = {}) {
    std::vector<uint8_t> p(size, static_cast<uint8_t>(stream));
    return q_.Add(now_, stream, 51, p, o);
  }
  void Add(uint16_t stream, size_t size, SendOptions o = {}) { ASSERT_TRUE(TryAdd(stream, size, o).ok()); }
  Timestamp now_ = Timestamp::Seconds(1);
  std::vector<uint16_t> low_;
  SendQueue q_;
};

TEST_F(SendQueueTest, CapAndBufferedAmounts) {
  Add(1, 6000);
  Add(2, 4000);
  auto s = TryAdd(3, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(TryAdd(3, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(q_.buffered_amount(1), 6000u);
  EXPECT_EQ(q_.total_buffered_amount(), 10000u);
  q_.SetBufferedAmountLowThreshold(1, 2500);
  auto f = q_.Produce(now_, 1000);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->stream, 1);
  EXPECT_TRUE(f->beginning);
  EXPECT_FALSE(f->end);
  EXPECT_EQ(q_.buffered_amount(1), 5000u);
  while (q_.buffered_amount(1) > 0) q_.Produce(now_, 1000);  // non-interleaved: stream 1 to the end
  EXPECT_EQ(low_, (std::vector<uint16_t>{1}));               // crossed 2500 once
}

TEST_F(SendQueueTest, RoundRobinPerMessageWithoutInterleaving) {
  Add(1, 3000);
  Add(1, 10);
  Add(2, 10);
  std::vector<uint16_t> order;
  while (auto f = q_.Produce(now_, 1000)) order.push_back(f->stream);
  // Message 1 of stream 1 (3 fragments, consecutive), then stream 2, then stream 1 again.
  EXPECT_EQ(order, (std::vector<uint16_t>{1, 1, 1, 2, 1}));
}

TEST_F(SendQueueTest, RoundRobinPerFragmentWithInterleaving) {
  q_.SetInterleaved(true);
  Add(1, 3000);
  Add(2, 10);
  std::vector<std::pair<uint16_t, uint32_t>> order;
  while (auto f = q_.Produce(now_, 1000)) order.push_back({f->stream, f->fsn});
  ASSERT_EQ(order.size(), 4u);
  using P = std::pair<uint16_t, uint32_t>;
  EXPECT_EQ(order[0], P(1, 0));
  EXPECT_EQ(order[1], P(2, 0));  // the small message does not wait
  EXPECT_EQ(order[2], P(1, 1));
}

TEST_F(SendQueueTest, SequenceNumbersAssignedOnFirstFragment) {
  Add(1, 10);
  Add(1, 10, Unordered());
  Add(1, 10);
  auto a = q_.Produce(now_, 100);
  auto b = q_.Produce(now_, 100);
  auto c = q_.Produce(now_, 100);
  EXPECT_EQ(a->id, 0u);
  EXPECT_TRUE(b->unordered);
  EXPECT_EQ(c->id, 1u);  // unordered messages do not consume SSNs
  q_.ResetSequenceNumbers(1);
  Add(1, 10);
  EXPECT_EQ(q_.Produce(now_, 100)->id, 0u);
}

TEST_F(SendQueueTest, ExpiredBeforeSendingIsDroppedAndDiscardRemainder) {
  Add(1, 10, Lifetime(TimeDelta::Millis(100)));
  Add(1, 3000);
  now_ = now_ + TimeDelta::Millis(200);
  auto f = q_.Produce(now_, 1000);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, 0u);  // the expired message never took SSN 0
  EXPECT_EQ(q_.expired_messages(), 1u);
  EXPECT_TRUE(q_.DiscardRemainder(1, f->message_id));
  EXPECT_EQ(q_.total_buffered_amount(), 0u);
  EXPECT_FALSE(q_.HasData());
  EXPECT_FALSE(q_.Produce(now_, 1000));
}

// ---- RetransmissionQueue ----

class RetransmissionQueueTest : public ::testing::Test {
 protected:
  RetransmissionQueueTest() : sq_(1 << 24, nullptr), q_(sq_) {
    RetransmissionQueue::Config c;
    c.mtu = 1200;
    c.initial_cwnd_mtus = 10;
    c.partial_reliability = true;
    q_.Reset(c, 100, 1 << 20);
  }
  // Sends up to `n` chunks of `size` bytes each (one message per chunk); returns the TSNs.
  std::vector<uint32_t> SendChunks(int n, size_t size = 1000, SendOptions o = {}) {
    std::vector<uint32_t> tsns;
    for (int i = 0; i < n; ++i) {
      std::vector<uint8_t> p(size, 1);
      EXPECT_TRUE(sq_.Add(now_, 1, 51, p, o).ok());
    }
    q_.BeginPacket();
    while (const OutstandingChunk* c = q_.NextChunk(now_, 1200)) tsns.push_back(Wrap32(c->tsn));
    return tsns;
  }
  SackChunk Sack(uint32_t cum, std::vector<SackChunk::GapBlock> gaps = {}, uint32_t rwnd = 1 << 20) {
    SackChunk s;
    s.cumulative_tsn_ack = cum;
    s.a_rwnd = rwnd;
    s.gap_blocks = std::move(gaps);
    return s;
  }
  Timestamp now_ = Timestamp::Seconds(1);
  SendQueue sq_;
  RetransmissionQueue q_;
};

TEST_F(RetransmissionQueueTest, CwndLimitsAndSlowStartGrowth) {
  const auto tsns = SendChunks(20);
  // Initial cwnd 12000 bytes: 12 chunks of 1016 bytes fit before the flight size reaches it (one may
  // overshoot).
  ASSERT_EQ(tsns.size(), 12u);
  EXPECT_EQ(tsns.front(), 100u);
  EXPECT_EQ(q_.flight_size(), 12u * 1016);
  now_ = now_ + TimeDelta::Millis(50);
  auto out = q_.HandleSack(now_, Sack(105));
  EXPECT_TRUE(out.accepted && out.cum_advanced && out.acked_new_data);
  ASSERT_TRUE(out.rtt);
  EXPECT_EQ(*out.rtt, TimeDelta::Millis(50));
  EXPECT_EQ(q_.cwnd(), 12000u + 1200);                    // slow start: + min(acked, MTU)
  EXPECT_FALSE(q_.HandleSack(now_, Sack(104)).accepted);  // stale
  EXPECT_FALSE(q_.HandleSack(now_, Sack(200)).accepted);  // beyond what was sent
}

TEST_F(RetransmissionQueueTest, FastRetransmitAfterThreeMissReports) {
  SendChunks(10);
  // TSN 100 lost; 101.. arrive one SACK at a time.
  q_.HandleSack(now_, Sack(99, {{2, 2}}));
  q_.HandleSack(now_, Sack(99, {{2, 3}}));
  EXPECT_FALSE(q_.HandleSack(now_, Sack(99, {{2, 3}})).fast_retransmit);  // nothing newly acked: no miss
  const size_t cwnd_before = q_.cwnd();
  auto out = q_.HandleSack(now_, Sack(99, {{2, 4}}));
  EXPECT_TRUE(out.fast_retransmit);
  EXPECT_EQ(q_.cwnd(), std::max<size_t>(cwnd_before / 2, 4 * 1200));
  q_.BeginPacket();
  const OutstandingChunk* c = q_.NextChunk(now_, 1200);
  ASSERT_TRUE(c);
  EXPECT_EQ(Wrap32(c->tsn), 100u);
  EXPECT_EQ(c->transmissions, 2);
  EXPECT_EQ(q_.counters().retransmissions_fast, 1u);
}

TEST_F(RetransmissionQueueTest, T3ExpiryRetransmitsFromOneMtu) {
  SendChunks(5);
  q_.HandleT3Expiry(now_);
  EXPECT_EQ(q_.cwnd(), 1200u);
  EXPECT_EQ(q_.flight_size(), 0u);
  q_.BeginPacket();
  const OutstandingChunk* c = q_.NextChunk(now_, 1200);
  ASSERT_TRUE(c);
  EXPECT_EQ(Wrap32(c->tsn), 100u);
  // §6.1 B: more may go while the flight size (1016) is below cwnd (1200), then nothing.
  c = q_.NextChunk(now_, 1200);
  ASSERT_TRUE(c);
  EXPECT_EQ(Wrap32(c->tsn), 101u);
  EXPECT_FALSE(q_.NextChunk(now_, 1200));
  EXPECT_EQ(q_.counters().retransmissions_t3, 2u);
  // Karn: an ack of the retransmitted chunk gives no RTT sample.
  EXPECT_FALSE(q_.HandleSack(now_ + TimeDelta::Millis(10), Sack(100)).rtt);
}

TEST_F(RetransmissionQueueTest, ZeroWindowAllowsOneProbe) {
  q_.HandleSack(now_, Sack(99, {}, 0));
  const auto tsns = SendChunks(3);
  EXPECT_EQ(tsns.size(), 1u);  // one chunk may always be in flight
  auto more = SendChunks(0);
  EXPECT_TRUE(more.empty());
  q_.HandleSack(now_, Sack(100, {}, 1 << 20));
  EXPECT_EQ(SendChunks(0).size(), 2u);
}

TEST_F(RetransmissionQueueTest, PartialReliabilityAbandonsAndForwardTsn) {
  SendChunks(1, 1000, MaxRetransmits(0));  // TSN 100
  SendChunks(1, 1000);                     // TSN 101
  q_.HandleT3Expiry(now_);                 // 100 is abandoned instead of retransmitted
  EXPECT_EQ(q_.counters().abandoned_messages, 1u);
  EXPECT_TRUE(q_.ShouldSendForwardTsn());
  ForwardTsnChunk f;
  q_.BuildForwardTsn(f);
  EXPECT_EQ(f.new_cumulative_tsn, 100u);
  EXPECT_EQ(f.skipped, (std::vector<ForwardTsnChunk::SkippedStream>{{1, 0}}));
  EXPECT_FALSE(q_.ShouldSendForwardTsn());
  q_.BeginPacket();
  const OutstandingChunk* c = q_.NextChunk(now_, 1200);
  ASSERT_TRUE(c);
  EXPECT_EQ(Wrap32(c->tsn), 101u);  // the reliable one is retransmitted
  q_.HandleSack(now_, Sack(101));
  EXPECT_FALSE(q_.has_outstanding());
}

TEST_F(RetransmissionQueueTest, AbandoningDiscardsUnsentFragments) {
  std::vector<uint8_t> big(5000, 2);
  ASSERT_TRUE(sq_.Add(now_, 1, 51, big, MaxRetransmits(0)).ok());
  q_.BeginPacket();
  ASSERT_TRUE(q_.NextChunk(now_, 1200));  // first fragment only
  EXPECT_GT(sq_.total_buffered_amount(), 0u);
  q_.HandleT3Expiry(now_);
  EXPECT_EQ(sq_.total_buffered_amount(), 0u);  // the rest will never be sent
  EXPECT_FALSE(sq_.HasData());
}

// ---- RtoEstimator ----

TEST(RtoEstimatorTest, Rfc9260Formulae) {
  RtoEstimator r(TimeDelta::Millis(1000), TimeDelta::Millis(100), TimeDelta::Seconds(60));
  EXPECT_EQ(r.rto(), TimeDelta::Millis(1000));
  r.ObserveRtt(TimeDelta::Millis(200));  // C1: SRTT 200, RTTVAR 100, RTO = 200 + 400
  EXPECT_EQ(r.srtt(), TimeDelta::Millis(200));
  EXPECT_EQ(r.rto(), TimeDelta::Millis(600));
  r.ObserveRtt(TimeDelta::Millis(200));  // C2: RTTVAR 75, SRTT 200 -> 500
  EXPECT_EQ(r.rto(), TimeDelta::Millis(500));
  r.Backoff();
  EXPECT_EQ(r.rto(), TimeDelta::Millis(1000));
  for (int i = 0; i < 20; ++i) r.Backoff();
  EXPECT_EQ(r.rto(), TimeDelta::Seconds(60));  // RTO.max
  for (int i = 0; i < 50; ++i) r.ObserveRtt(TimeDelta::Millis(1));
  EXPECT_EQ(r.rto(), TimeDelta::Millis(100));  // RTO.min
}

}  // namespace
}  // namespace tandem::sctp
