#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "report/atomic_file.h"
#include "report/compare_table.h"
#include "report/html_report.h"
#include "report/result_files.h"

namespace llmbench::report {
namespace {

namespace fs = std::filesystem;

class ResultDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmbench_report_view_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(ResultDir, FolderExpansionSortsNumbersNaturallyAndSkipsNonResults) {
  write("load_c16.json", R"({"completed": 16, "mean_ttft_ms": 40.0})");
  write("load_c4.json", R"({"completed": 4, "mean_ttft_ms": 20.0})");
  write("notes.json", R"({"hello": 1})");
  write("broken.json", "{not json");
  auto files = load_result_files({dir_.string()});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "load_c4");
  EXPECT_EQ(files[1].name, "load_c16");
}

TEST_F(ResultDir, NamedFilesMustBeResults) {
  auto bad = write("broken.json", "{not json");
  EXPECT_THROW(load_result_files({bad}), std::runtime_error);
  auto other = write("other.json", R"({"hello": 1})");
  EXPECT_THROW(load_result_files({other}), std::runtime_error);
  EXPECT_THROW(load_result_files({(dir_ / "missing.json").string()}), std::runtime_error);
}

TEST_F(ResultDir, CompareShowsValuesAndDeltasAgainstTheFirstRun) {
  auto a = write("a.json", R"({"completed": 10, "mean_ttft_ms": 100.0, "output_throughput": 50.0, "label": "base"})");
  auto b = write("b.json", R"({"completed": 10, "mean_ttft_ms": 150.0, "output_throughput": 100.0})");
  auto table = render_compare_table(load_result_files({a, b}), TableFormat::kMarkdown);
  EXPECT_NE(table.find("| Approach | TTFT (sec) | Tokens/sec |"), std::string::npos) << table;
  EXPECT_NE(table.find("| base | 0.100 | 50.00 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| b | 0.150 (+50.0%) | 100.00 (+100.0%) |"), std::string::npos) << table;
  // Columns no run has are left out.
  EXPECT_EQ(table.find("Peak GPU"), std::string::npos);
  auto text = render_compare_table(load_result_files({a, b}), TableFormat::kText, /*show_deltas=*/false);
  EXPECT_EQ(text.find('%'), std::string::npos) << text;
}

TEST_F(ResultDir, RepeatedRunsShowTheMeanAndConfidenceInterval) {
  auto a = write("a.json", R"({"completed": 4, "mean_ttft_ms": 99.0, "output_throughput": 10.0,
    "llmbench": {"repetitions": {"runs": 3, "metrics": {
      "mean_ttft_ms": {"mean": 100.0, "ci95_low": 90.0, "ci95_high": 110.0},
      "output_throughput": {"mean": 50.0, "ci95_low": 40.0, "ci95_high": 60.0}}}}})");
  auto b = write("b.json", R"({"completed": 4, "mean_ttft_ms": 200.0, "output_throughput": 100.0})");
  auto table = render_compare_table(load_result_files({a, b}), TableFormat::kMarkdown);
  // The mean across runs (not the last run's 99 ms) with its half-width, in the column's unit.
  EXPECT_NE(table.find("| a | 0.100 ± 0.010 | 50.00 ± 10.00 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| b | 0.200 (+100.0%) | 100.00 (+100.0%) |"), std::string::npos) << table;
}

TEST_F(ResultDir, HtmlReportIsSelfContainedAndEscapesScriptEnds) {
  auto a = write("a.json", R"({"completed": 1, "label": "x</script><b>y"})");
  std::string html = render_html_report(load_result_files({a}), "t <1>");
  EXPECT_NE(html.find("Chart.js v4"), std::string::npos);  // the library is inside, not fetched
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("x</script>"), std::string::npos);  // data cannot close its <script>
  EXPECT_NE(html.find("<title>t &lt;1&gt;</title>"), std::string::npos);
  auto out = (dir_ / "r.html").string();
  write_string_atomically(out, html);
  EXPECT_EQ(fs::file_size(out), html.size());
  EXPECT_THROW(write_string_atomically((dir_ / "no/such/dir/r.html").string(), html), std::runtime_error);
}

}  // namespace
}  // namespace llmbench::report
