#include "turn_client/stun_transaction.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::turn_client {
namespace {

const stun::TransactionId kId{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// Runs a transaction to its end, returning the times (ms after start) of every transmission and of the
// failure.
std::vector<int64_t> Schedule(bool reliable, const RetransmissionPolicy& policy, int64_t* failed_at_ms) {
  const Timestamp start = Timestamp::Seconds(100);
  StunTransaction t(kId, {1, 2, 3}, reliable, policy, start);
  std::vector<int64_t> sends = {0};
  for (int i = 0; i < 100 && !t.timed_out(); ++i) {
    const Timestamp now = t.deadline();
    // Just before the deadline nothing happens.
    EXPECT_EQ(t.OnTimeout(now - TimeDelta::Micros(1)), StunTransaction::Step::kWait);
    switch (t.OnTimeout(now)) {
      case StunTransaction::Step::kRetransmit:
        sends.push_back((now - start).ms());
        break;
      case StunTransaction::Step::kTimedOut:
        *failed_at_ms = (now - start).ms();
        break;
      case StunTransaction::Step::kWait:
        ADD_FAILURE() << "no progress at the deadline";
        return sends;
    }
  }
  return sends;
}

TEST(StunTransactionTest, UdpScheduleFollowsRfc8489) {
  int64_t failed = -1;
  // RFC 8489 §6.2.1's example: RTO 500 ms, Rc 7, Rm 16.
  EXPECT_EQ(Schedule(false, RetransmissionPolicy{}, &failed),
            (std::vector<int64_t>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  EXPECT_EQ(failed, 39500);
}

TEST(StunTransactionTest, ReliableTransportSendsOnceAndWaitsTi) {
  int64_t failed = -1;
  EXPECT_EQ(Schedule(true, RetransmissionPolicy{}, &failed), (std::vector<int64_t>{0}));
  EXPECT_EQ(failed, 39500);
}

TEST(StunTransactionTest, CustomPolicyAndRtoCap) {
  RetransmissionPolicy p;
  p.initial_rto = TimeDelta::Millis(100);
  p.max_transmissions = 5;
  p.last_wait_factor = 4;
  p.max_rto = TimeDelta::Millis(300);
  int64_t failed = -1;
  EXPECT_EQ(Schedule(false, p, &failed), (std::vector<int64_t>{0, 100, 300, 600, 900}));
  EXPECT_EQ(failed, 900 + 400);
}

TEST(StunTransactionTest, LateWakeUpRetransmitsOnceAndContinuesFromNow) {
  const Timestamp start = Timestamp::Seconds(1);
  StunTransaction t(kId, {7}, false, RetransmissionPolicy{}, start);
  EXPECT_EQ(t.transmissions(), 1);
  const Timestamp late = start + TimeDelta::Seconds(5);  // far past the 500 ms deadline
  EXPECT_EQ(t.OnTimeout(late), StunTransaction::Step::kRetransmit);
  EXPECT_EQ(t.transmissions(), 2);
  EXPECT_EQ(t.deadline(), late + TimeDelta::Millis(1000));
  EXPECT_EQ(t.OnTimeout(late), StunTransaction::Step::kWait);
  EXPECT_EQ(t.request().size(), 1u);
  EXPECT_EQ(t.id(), kId);
  EXPECT_EQ(t.started(), start);
}

TEST(StunTransactionTest, TimedOutTransactionStaysTimedOut) {
  StunTransaction t(kId, {}, true, RetransmissionPolicy{}, Timestamp::Zero());
  EXPECT_EQ(t.OnTimeout(Timestamp::Seconds(40)), StunTransaction::Step::kTimedOut);
  EXPECT_TRUE(t.timed_out());
  EXPECT_EQ(t.deadline(), Timestamp::Infinity());
  EXPECT_EQ(t.OnTimeout(Timestamp::Seconds(1000)), StunTransaction::Step::kWait);
}

}  // namespace
}  // namespace tandem::turn_client
