#include "media/vp8_codec.h"

#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include <algorithm>
#include <cstring>

namespace tandem::media {
namespace {

constexpr uint32_t kMinBitrateBps = 10'000;
constexpr uint32_t kMaxBitrateBps = 50'000'000;
constexpr int kMaxDimension = 16383;  // VP8 key frame header: 14 bits (RFC 6386 §9.1)

}  // namespace

struct Vp8Encoder::Impl {
  vpx_codec_ctx_t codec{};
  vpx_codec_enc_cfg_t cfg{};
  bool initialized = false;
  ~Impl() {
    if (initialized) vpx_codec_destroy(&codec);
  }
};

Vp8Encoder::Vp8Encoder(const Vp8EncoderConfig& config) : config_(config), impl_(std::make_unique<Impl>()) {}
Vp8Encoder::~Vp8Encoder() = default;

Result<std::unique_ptr<Vp8Encoder>> Vp8Encoder::Create(const Vp8EncoderConfig& config) {
  if (config.width <= 0 || config.height <= 0 || config.width > kMaxDimension ||
      config.height > kMaxDimension || config.fps <= 0 || config.fps > 240) {
    return MakeError(ErrorCode::kInvalidArgument, "VP8 encoder: bad size or frame rate");
  }
  std::unique_ptr<Vp8Encoder> e(new Vp8Encoder(config));
  e->config_.bitrate_bps = std::clamp(config.bitrate_bps, kMinBitrateBps, kMaxBitrateBps);
  if (auto s = e->Init(); !s) return s.error();
  return e;
}

Status Vp8Encoder::Init() {
  if (impl_->initialized) {
    vpx_codec_destroy(&impl_->codec);
    impl_->initialized = false;
  }
  vpx_codec_enc_cfg_t& cfg = impl_->cfg;
  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
    return MakeError(ErrorCode::kInternal, "VP8 encoder: no default configuration");
  }
  cfg.g_w = static_cast<unsigned>(config_.width);
  cfg.g_h = static_cast<unsigned>(config_.height);
  cfg.g_timebase.num = 1;
  cfg.g_timebase.den = 90000;  // RTP video clock: pts are RTP ticks
  cfg.g_threads = static_cast<unsigned>(std::max(1, config_.threads));
  cfg.g_lag_in_frames = 0;  // real time: a frame in, a frame out
  cfg.g_pass = VPX_RC_ONE_PASS;
  cfg.g_error_resilient = config_.error_resilient ? VPX_ERROR_RESILIENT_DEFAULT : 0;
  cfg.rc_end_usage = VPX_CBR;
  cfg.rc_target_bitrate = config_.bitrate_bps / 1000;
  cfg.rc_min_quantizer = static_cast<unsigned>(config_.min_quantizer);
  cfg.rc_max_quantizer = static_cast<unsigned>(config_.max_quantizer);
  cfg.rc_dropframe_thresh = config_.allow_frame_drop ? 30 : 0;
  cfg.rc_undershoot_pct = 100;
  cfg.rc_overshoot_pct = 15;
  cfg.rc_buf_initial_sz = 500;
  cfg.rc_buf_optimal_sz = 600;
  cfg.rc_buf_sz = 1000;
  if (config_.key_frame_interval > 0) {
    cfg.kf_mode = VPX_KF_AUTO;
    cfg.kf_min_dist = 0;
    cfg.kf_max_dist = static_cast<unsigned>(config_.key_frame_interval);
  } else {
    cfg.kf_mode = VPX_KF_DISABLED;  // only the first frame and requested ones
  }
  if (vpx_codec_enc_init(&impl_->codec, vpx_codec_vp8_cx(), &cfg, 0) != VPX_CODEC_OK) {
    return MakeError(ErrorCode::kInternal, "VP8 encoder: vpx_codec_enc_init failed");
  }
  impl_->initialized = true;
  vpx_codec_control(&impl_->codec, VP8E_SET_CPUUSED, config_.cpu_used);
  vpx_codec_control(&impl_->codec, VP8E_SET_STATIC_THRESHOLD, 1);
  vpx_codec_control(&impl_->codec, VP8E_SET_NOISE_SENSITIVITY, 0);
  vpx_codec_control(&impl_->codec, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION);
  // Cap a key frame at half the optimal buffer's worth of bits (a percentage of the average frame budget), so
  // one key frame does not flood the network: 0.5 * 600 ms * fps / 10 = 30 * fps percent.
  const unsigned max_intra = static_cast<unsigned>(std::max(300, 30 * config_.fps));
  vpx_codec_control(&impl_->codec, VP8E_SET_MAX_INTRA_BITRATE_PCT, max_intra);
  return OkStatus();
}

Status Vp8Encoder::Reconfigure() {
  impl_->cfg.rc_target_bitrate = config_.bitrate_bps / 1000;
  if (vpx_codec_enc_config_set(&impl_->codec, &impl_->cfg) != VPX_CODEC_OK) {
    return MakeError(ErrorCode::kInternal, "VP8 encoder: vpx_codec_enc_config_set failed");
  }
  return OkStatus();
}

Status Vp8Encoder::SetBitrate(uint32_t bitrate_bps) {
  config_.bitrate_bps = std::clamp(bitrate_bps, kMinBitrateBps, kMaxBitrateBps);
  return Reconfigure();
}

Status Vp8Encoder::SetFrameRate(int fps) {
  if (fps <= 0 || fps > 240) return MakeError(ErrorCode::kInvalidArgument, "VP8 encoder: bad frame rate");
  config_.fps = fps;
  return OkStatus();
}

Result<std::optional<Vp8EncodedFrame>> Vp8Encoder::Encode(const VideoFrame& frame) {
  if (frame.width <= 0 || frame.height <= 0 || frame.width > kMaxDimension || frame.height > kMaxDimension ||
      frame.data.size() < frame.y_size() + 2 * frame.uv_size()) {
    return MakeError(ErrorCode::kInvalidArgument, "VP8 encoder: bad frame");
  }
  if (frame.width != config_.width || frame.height != config_.height) {
    // libvpx's VP8 can only shrink in place; a fresh encoder handles any new size (and starts with a key
    // frame).
    config_.width = frame.width;
    config_.height = frame.height;
    if (auto s = Init(); !s) return s.error();
  }
  vpx_image_t img;
  std::memset(&img, 0, sizeof(img));
  vpx_img_wrap(&img, VPX_IMG_FMT_I420, static_cast<unsigned>(frame.width),
               static_cast<unsigned>(frame.height), 1, const_cast<uint8_t*>(frame.y()));
  img.planes[VPX_PLANE_Y] = const_cast<uint8_t*>(frame.y());
  img.planes[VPX_PLANE_U] = const_cast<uint8_t*>(frame.u());
  img.planes[VPX_PLANE_V] = const_cast<uint8_t*>(frame.v());
  img.stride[VPX_PLANE_Y] = frame.stride_y();
  img.stride[VPX_PLANE_U] = frame.stride_uv();
  img.stride[VPX_PLANE_V] = frame.stride_uv();

  if (!first_timestamp_) first_timestamp_ = frame.timestamp;
  const int64_t pts = TimeToTicks(frame.timestamp - *first_timestamp_, 90000);
  const unsigned long duration = 90000 / static_cast<unsigned long>(config_.fps);
  vpx_enc_frame_flags_t flags = 0;
  if (key_frame_requested_) flags |= VPX_EFLAG_FORCE_KF;
  key_frame_requested_ = false;
  if (vpx_codec_encode(&impl_->codec, &img, pts, duration, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
    return MakeError(ErrorCode::kInternal, "VP8 encoder: vpx_codec_encode failed");
  }
  output_.clear();
  bool key = false;
  vpx_codec_iter_t iter = nullptr;
  while (const vpx_codec_cx_pkt_t* pkt = vpx_codec_get_cx_data(&impl_->codec, &iter)) {
    if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
    const auto* bytes = static_cast<const uint8_t*>(pkt->data.frame.buf);
    output_.insert(output_.end(), bytes, bytes + pkt->data.frame.sz);
    key |= (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0;
  }
  if (output_.empty()) {
    ++frames_dropped_;
    return std::optional<Vp8EncodedFrame>();
  }
  ++frames_encoded_;
  Vp8EncodedFrame out;
  out.data = ByteSpan(output_.data(), output_.size());
  out.key_frame = key;
  out.width = frame.width;
  out.height = frame.height;
  out.capture_time = frame.timestamp;
  return std::optional<Vp8EncodedFrame>(out);
}

struct Vp8Decoder::Impl {
  vpx_codec_ctx_t codec{};
  bool initialized = false;
  ~Impl() {
    if (initialized) vpx_codec_destroy(&codec);
  }
};

Vp8Decoder::Vp8Decoder() : impl_(std::make_unique<Impl>()) {}
Vp8Decoder::~Vp8Decoder() = default;

Result<std::unique_ptr<Vp8Decoder>> Vp8Decoder::Create(int threads) {
  std::unique_ptr<Vp8Decoder> d(new Vp8Decoder());
  vpx_codec_dec_cfg_t cfg{};
  cfg.threads = static_cast<unsigned>(std::max(1, threads));
  if (vpx_codec_dec_init(&d->impl_->codec, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
    return MakeError(ErrorCode::kInternal, "VP8 decoder: vpx_codec_dec_init failed");
  }
  d->impl_->initialized = true;
  return d;
}

Result<bool> Vp8Decoder::Decode(ByteSpan frame, VideoFrame& out) {
  if (frame.empty() || frame.size() > (1u << 30)) {
    ++errors_;
    return MakeError(ErrorCode::kInvalidArgument, "VP8 decoder: empty frame");
  }
  if (vpx_codec_decode(&impl_->codec, frame.data(), static_cast<unsigned>(frame.size()), nullptr, 0) !=
      VPX_CODEC_OK) {
    ++errors_;
    return MakeError(ErrorCode::kMalformed, "VP8 decoder: vpx_codec_decode failed");
  }
  vpx_codec_iter_t iter = nullptr;
  vpx_image_t* img = vpx_codec_get_frame(&impl_->codec, &iter);
  if (!img) return false;
  if (img->fmt != VPX_IMG_FMT_I420) {
    ++errors_;
    return MakeError(ErrorCode::kUnsupported, "VP8 decoder: unexpected image format");
  }
  out.Allocate(static_cast<int>(img->d_w), static_cast<int>(img->d_h));
  for (int row = 0; row < out.height; ++row) {
    std::memcpy(out.y() + row * out.stride_y(), img->planes[VPX_PLANE_Y] + row * img->stride[VPX_PLANE_Y],
                static_cast<size_t>(out.width));
  }
  for (int row = 0; row < out.chroma_height(); ++row) {
    std::memcpy(out.u() + row * out.stride_uv(), img->planes[VPX_PLANE_U] + row * img->stride[VPX_PLANE_U],
                static_cast<size_t>(out.chroma_width()));
    std::memcpy(out.v() + row * out.stride_uv(), img->planes[VPX_PLANE_V] + row * img->stride[VPX_PLANE_V],
                static_cast<size_t>(out.chroma_width()));
  }
  ++frames_decoded_;
  return true;
}

}  // namespace tandem::media
