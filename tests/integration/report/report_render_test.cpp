// The HTML report as a person sees it: `llmbench report` on a sweep's results, opened in headless
// Chromium (Debian's chromium). The page must load without script errors, draw its charts (the
// canvases have painted pixels), and give a PNG screenshot.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  *status = pclose(pipe);
  return out;
}

std::string chromium_path() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (fs::exists(p)) return p;
  }
  return "";
}

TEST(ReportRender, ChromiumDrawsEveryChartWithoutErrorsAndTakesAScreenshot) {
  std::string chromium = chromium_path();
  if (chromium.empty()) {
    if (std::getenv("CI")) FAIL() << "chromium is required in CI (scripts/install_deps.sh installs it)";
    GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  }
  fs::path dir = fs::temp_directory_path() / ("llmbench_report_render_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string html = (dir / "report.html").string();
  const std::string png = (dir / "report.png").string();
  int status = 0;
  std::string out = run(std::string(LLMBENCH_BINARY_DIR) + "/src/app/llmbench report " + LLMBENCH_SOURCE_DIR +
                            "/tests/data/results/sweep -o " + html + " 2>&1",
                        &status);
  ASSERT_EQ(status, 0) << out;
  ASSERT_TRUE(fs::exists(html));

  const std::string flags =
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --user-data-dir=" +
      (dir / "profile").string() + " --virtual-time-budget=5000 ";
  std::string dom = run(chromium + flags + "--dump-dom file://" + html + " 2>/dev/null", &status);
  ASSERT_EQ(status, 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex(R"(<p id="status"([^>]*)>)"))) << dom.substr(0, 2000);
  const std::string attrs = m[1];
  auto attr = [&](const std::string& name) {
    std::smatch a;
    if (!std::regex_search(attrs, a, std::regex(name + R"re(="(\d+)")re"))) return -1;
    return std::stoi(a[1]);
  };
  EXPECT_EQ(attr("data-done"), 1) << attrs;
  EXPECT_EQ(attr("data-errors"), 0) << attrs;
  // The sample sweep has data for all seven charts: TTFT/ITL CDFs, throughput vs latency,
  // throughput over time, KV cache, running/waiting, GPU memory.
  EXPECT_EQ(attr("data-charts"), 7) << attrs;
  EXPECT_EQ(attr("data-nonempty"), 7) << attrs;
  EXPECT_NE(dom.find("<td>sample c=16</td>"), std::string::npos);

  run(chromium + flags + "--window-size=1200,2400 --screenshot=" + png + " file://" + html + " 2>&1", &status);
  ASSERT_TRUE(fs::exists(png));
  std::ifstream in(png, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(fs::file_size(png), 20000u);  // a blank page compresses to a few KB
  if (const char* keep = std::getenv("LLMBENCH_KEEP_SCREENSHOT"))
    fs::copy_file(png, keep, fs::copy_options::overwrite_existing);
  fs::remove_all(dir);
}

}  // namespace
