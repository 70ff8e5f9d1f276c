// The table web_assets.cc (generated at build time by embed_web.cmake from web/) defines.
#pragma once

#include <cstddef>

namespace tandem::server::web_assets {

struct Asset {
  const char* path;  // relative to web/, '/'-separated: "index.html", "sdk/tandem.js"
  const unsigned char* data;
  size_t size;
};

extern const Asset kAssets[];
extern const size_t kAssetCount;

}  // namespace tandem::server::web_assets
