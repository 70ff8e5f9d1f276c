// Audio analysis for tests: frequency by zero crossings, energy.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::media::test {

// Frequency of a (roughly) pure tone in mono or interleaved PCM, from the rate of sign changes of channel 0.
inline double ZeroCrossingFrequency(std::span<const int16_t> pcm, int channels, int sample_rate) {
  const size_t frames = pcm.size() / static_cast<size_t>(channels);
  if (frames < 2) return 0;
  size_t crossings = 0;
  for (size_t i = 1; i < frames; ++i) {
    const int16_t a = pcm[(i - 1) * channels], b = pcm[i * channels];
    if ((a < 0 && b >= 0) || (a >= 0 && b < 0)) ++crossings;
  }
  return static_cast<double>(crossings) / 2.0 * sample_rate / static_cast<double>(frames - 1);
}

inline double Rms(std::span<const int16_t> pcm) {
  if (pcm.empty()) return 0;
  double sum = 0;
  for (int16_t s : pcm) sum += static_cast<double>(s) * s;
  return std::sqrt(sum / static_cast<double>(pcm.size()));
}

}  // namespace tandem::media::test
