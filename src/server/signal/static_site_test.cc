// Path normalization (nothing leaves the web root), content types, and both file sources.
#include "server/signal/static_site.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "server/signal/web_assets.h"

namespace tandem::server {
namespace {

TEST(StaticSite, NormalizesPaths) {
  EXPECT_EQ(*NormalizeWebPath("/"), "index.html");
  EXPECT_EQ(*NormalizeWebPath("/?room=demo"), "index.html");
  EXPECT_EQ(*NormalizeWebPath("/sdk/tandem.js?v=2#x"), "sdk/tandem.js");
  EXPECT_EQ(*NormalizeWebPath("/sdk/"), "sdk/index.html");
  EXPECT_EQ(*NormalizeWebPath("/a%20b.html"), "a b.html");
}

TEST(StaticSite, RefusesEverythingThatCouldLeaveTheRoot) {
  for (const char* bad : {"", "index.html", "/..", "/../etc/passwd", "/sdk/../../x", "/%2e%2e/x", "/%2E%2E%2Fx",
                          "/.git/config", "/sdk/.hidden", "/./index.html", "//etc/passwd", "/a//b", "/a\\..\\b",
                          "/a%5c..%5cb", "/a%00.html", "/a%0a", "/%", "/%g0", "/%2"}) {
    EXPECT_FALSE(NormalizeWebPath(bad)) << bad;
  }
}

TEST(StaticSite, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("sdk/tandem.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("style.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("x.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("logo.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("a.wasm"), "application/wasm");
  EXPECT_EQ(ContentTypeFor("README"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("dir.d/file"), "application/octet-stream");
}

TEST(StaticSite, ServesFromDisk) {
  char tmpl[] = "/tmp/tandem-web-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path root(tmpl);
  std::filesystem::create_directories(root / "sdk");
  std::ofstream(root / "index.html") << "<h1>hi</h1>";
  std::ofstream(root / "sdk" / "tandem.js") << "export {};";
  std::ofstream(root.parent_path() / (root.filename().string() + "-secret")) << "secret";
  auto site = MakeDiskSite(root.string());
  auto index = site->Lookup("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->body, "<h1>hi</h1>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(site->Lookup("/sdk/tandem.js")->body, "export {};");
  EXPECT_FALSE(site->Lookup("/sdk"));  // a directory
  EXPECT_FALSE(site->Lookup("/nope.html"));
  EXPECT_FALSE(site->Lookup("/../" + root.filename().string() + "-secret"));
  std::filesystem::remove_all(root);
  std::filesystem::remove(root.parent_path() / (root.filename().string() + "-secret"));
}

TEST(StaticSite, EmbeddedTableMatchesTheSite) {
  auto site = MakeEmbeddedSite();
  EXPECT_EQ(site->file_count(), web_assets::kAssetCount);
  for (size_t i = 0; i < web_assets::kAssetCount; ++i) {
    const auto& a = web_assets::kAssets[i];
    auto file = site->Lookup("/" + std::string(a.path));
    ASSERT_TRUE(file) << a.path;
    EXPECT_EQ(file->body.size(), a.size);
  }
}

}  // namespace
}  // namespace tandem::server
