#include "media/test_sources.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

namespace tandem::media {
namespace {

struct Yuv {
  uint8_t y, u, v;
};
// 75% colour bars in BT.601 studio range: white, yellow, cyan, green, magenta, red, blue.
constexpr Yuv kBars[7] = {{180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
                          {84, 184, 198},  {65, 100, 212}, {35, 212, 114}};
constexpr int kCounterBits = 16;

void FillRect(VideoFrame& f, int x0, int y0, int x1, int y1, Yuv c) {
  x0 = std::clamp(x0, 0, f.width);
  x1 = std::clamp(x1, 0, f.width);
  y0 = std::clamp(y0, 0, f.height);
  y1 = std::clamp(y1, 0, f.height);
  if (x0 >= x1 || y0 >= y1) return;
  for (int y = y0; y < y1; ++y) std::memset(f.y() + y * f.stride_y() + x0, c.y, static_cast<size_t>(x1 - x0));
  const int cx0 = x0 / 2, cx1 = (x1 + 1) / 2, cy0 = y0 / 2, cy1 = (y1 + 1) / 2;
  for (int y = cy0; y < cy1; ++y) {
    std::memset(f.u() + y * f.stride_uv() + cx0, c.u, static_cast<size_t>(cx1 - cx0));
    std::memset(f.v() + y * f.stride_uv() + cx0, c.v, static_cast<size_t>(cx1 - cx0));
  }
}

// Geometry of the counter blocks: a strip along the bottom, one block per bit, most significant first.
struct CounterGeometry {
  int top, bottom, block_width;
};
CounterGeometry Counter(int width, int height) {
  const int strip = std::max(2, height / 16);
  return {height - strip, height, std::max(1, width / kCounterBits)};
}

}  // namespace

TestPatternSource::TestPatternSource(const TestPatternConfig& config) : config_(config) {
  config_.width = std::clamp(config_.width, 2, 16383);
  config_.height = std::clamp(config_.height, 2, 16383);
  config_.fps = std::clamp(config_.fps, 1, 240);
}

TimeDelta TestPatternSource::FrameTime(uint64_t index) const {
  // Computed from the index (not index * interval) so that 30 fps does not drift by 1/3 us per frame.
  return TimeDelta::Micros(static_cast<int64_t>(index * 1000000 / static_cast<uint64_t>(config_.fps)));
}

void TestPatternSource::Render(uint64_t index, VideoFrame& f) const {
  const int w = config_.width, h = config_.height;
  f.Allocate(w, h);
  const int bars_bottom = h * 2 / 3;
  for (int i = 0; i < 7; ++i) FillRect(f, w * i / 7, 0, w * (i + 1) / 7, bars_bottom, kBars[i]);
  // A horizontal luma ramp under the bars, neutral chroma.
  FillRect(f, 0, bars_bottom, w, h, Yuv{16, 128, 128});
  for (int y = bars_bottom; y < h; ++y) {
    uint8_t* row = f.y() + y * f.stride_y();
    for (int x = 0; x < w; ++x) row[x] = static_cast<uint8_t>(16 + (219 * x) / std::max(1, w - 1));
  }
  // The moving box: bounces across the width, one box-width every 8 frames, and drifts vertically.
  const int box = std::max(2, std::min(w, h) / 8);
  const int travel_x = std::max(1, w - box), travel_y = std::max(1, bars_bottom - box);
  const int64_t step_x = static_cast<int64_t>(index) * box / 8;
  const int64_t px = step_x % (2 * travel_x);
  const int x = static_cast<int>(px < travel_x ? px : 2 * travel_x - px);
  const int64_t py = static_cast<int64_t>(index) * 2 % (2 * travel_y);
  const int y = static_cast<int>(py < travel_y ? py : 2 * travel_y - py);
  FillRect(f, x, y, x + box, y + box, Yuv{235, 90, 240});
  // Frame counter: the low 16 bits of the index.
  const CounterGeometry g = Counter(w, h);
  for (int bit = 0; bit < kCounterBits; ++bit) {
    const bool one = (index >> (kCounterBits - 1 - bit)) & 1;
    FillRect(f, bit * g.block_width, g.top, (bit + 1) * g.block_width, g.bottom,
             one ? Yuv{235, 128, 128} : Yuv{16, 128, 128});
  }
  f.timestamp = Timestamp::Zero() + FrameTime(index);
}

std::optional<uint16_t> TestPatternSource::ReadCounter(const VideoFrame& f) {
  if (f.width < kCounterBits || f.height < 4 || f.data.size() < f.y_size()) return std::nullopt;
  const CounterGeometry g = Counter(f.width, f.height);
  const int y = (g.top + g.bottom) / 2;
  uint16_t value = 0;
  for (int bit = 0; bit < kCounterBits; ++bit) {
    const int x = bit * g.block_width + g.block_width / 2;
    const uint8_t luma = f.y()[y * f.stride_y() + x];
    value = static_cast<uint16_t>((value << 1) | (luma > 125 ? 1 : 0));
  }
  return value;
}

const VideoFrame* TestPatternSource::PollFrame(Timestamp now) {
  if (!start_) start_ = now;
  if (now < *start_ + FrameTime(next_index_)) return nullptr;
  // The newest frame due at `now`.
  uint64_t newest =
      static_cast<uint64_t>((now - *start_).us()) * static_cast<uint64_t>(config_.fps) / 1000000;
  while (*start_ + FrameTime(newest + 1) <= now) ++newest;
  while (newest > next_index_ && *start_ + FrameTime(newest) > now) --newest;
  skipped_ += newest - next_index_;
  Render(newest, frame_);
  frame_.timestamp = *start_ + FrameTime(newest);
  next_index_ = newest + 1;
  ++produced_;
  return &frame_;
}

Timestamp TestPatternSource::NextDeadline() const {
  if (!start_) return Timestamp::Zero();
  return *start_ + FrameTime(next_index_);
}

ToneSource::ToneSource(const ToneConfig& config) : config_(config) {
  config_.sample_rate = std::clamp(config_.sample_rate, 8000, 192000);
  config_.channels = std::clamp(config_.channels, 1, 8);
  config_.frame_ms = std::clamp(config_.frame_ms, 1, 120);
  config_.amplitude = std::clamp(config_.amplitude, 0.0, 1.0);
}

void ToneSource::Render(uint64_t index, AudioFrame& out) const {
  const int n = frame_samples();
  out.sample_rate = config_.sample_rate;
  out.channels = config_.channels;
  out.samples.resize(static_cast<size_t>(n) * config_.channels);
  const uint64_t first = index * static_cast<uint64_t>(n);
  for (int i = 0; i < n; ++i) {
    // The phase in cycles, reduced before scaling so that it stays precise however long the tone runs.
    const double sample = static_cast<double>(first + static_cast<uint64_t>(i));
    const double cycles = std::fmod(config_.frequency_hz * sample, static_cast<double>(config_.sample_rate)) /
                          config_.sample_rate;
    const auto v = static_cast<int16_t>(
        std::lround(config_.amplitude * 32767.0 * std::sin(2.0 * std::numbers::pi * cycles)));
    for (int c = 0; c < config_.channels; ++c) out.samples[static_cast<size_t>(i) * config_.channels + c] = v;
  }
  out.timestamp = Timestamp::Micros(static_cast<int64_t>(index) * config_.frame_ms * 1000);
  out.rtp_timestamp = static_cast<uint32_t>(first * 48000 / static_cast<uint64_t>(config_.sample_rate));
}

const AudioFrame* ToneSource::PollFrame(Timestamp now) {
  if (!start_) start_ = now;
  if (now < NextDeadline()) return nullptr;
  Render(next_index_, frame_);
  frame_.timestamp = NextDeadline();
  ++next_index_;
  return &frame_;
}

Timestamp ToneSource::NextDeadline() const {
  if (!start_) return Timestamp::Zero();
  return *start_ + TimeDelta::Millis(config_.frame_ms) * static_cast<int64_t>(next_index_);
}

}  // namespace tandem::media
