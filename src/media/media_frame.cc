#include "media/media_frame.h"

#include <cmath>

namespace tandem::media {

const char* ToString(VideoCodec codec) {
  switch (codec) {
    case VideoCodec::kVp8:
      return "VP8";
    case VideoCodec::kH264:
      return "H264";
  }
  return "?";
}

void VideoFrame::Allocate(int w, int h) {
  width = w < 0 ? 0 : w;
  height = h < 0 ? 0 : h;
  data.resize(y_size() + 2 * uv_size());
}

std::optional<double> LumaPsnr(const VideoFrame& a, const VideoFrame& b) {
  if (a.width != b.width || a.height != b.height || a.width == 0 || a.height == 0) return std::nullopt;
  if (a.data.size() < a.y_size() || b.data.size() < b.y_size()) return std::nullopt;
  double sse = 0;
  const size_t n = a.y_size();
  for (size_t i = 0; i < n; ++i) {
    const int d = int{a.data[i]} - int{b.data[i]};
    sse += d * d;
  }
  if (sse == 0) return 100.0;
  const double mse = sse / static_cast<double>(n);
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace tandem::media
