#include "engine/metrics.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

TEST(MetricsTest, RendersFamiliesOnceWithHelpAndTypeInTableOrder) {
  MetricSamples web(R"(service="web",worker="0")");
  web.Counter("sockman_connections_accepted", uint64_t{12});
  web.Gauge("sockman_connections_open", 3);
  MetricSamples other(R"(service="web",worker="1")");
  other.Gauge("sockman_connections_open", 4);
  other.Counter("sockman_connections_accepted", uint64_t{5});
  other.Gauge("sockman_not_a_family", 1);  // dropped
  std::string text = RenderExposition(web.text() + other.text(), /*openmetrics=*/false);
  EXPECT_EQ(text,
            "# HELP sockman_connections_open Open client connections.\n"
            "# TYPE sockman_connections_open gauge\n"
            "sockman_connections_open{service=\"web\",worker=\"0\"} 3\n"
            "sockman_connections_open{service=\"web\",worker=\"1\"} 4\n"
            "# HELP sockman_connections_accepted_total Client connections accepted.\n"
            "# TYPE sockman_connections_accepted_total counter\n"
            "sockman_connections_accepted_total{service=\"web\",worker=\"0\"} 12\n"
            "sockman_connections_accepted_total{service=\"web\",worker=\"1\"} 5\n");
}

TEST(MetricsTest, OpenMetricsNamesCountersWithoutTotalAddsUnitsAndEof) {
  MetricSamples samples;
  samples.Counter("sockman_process_cpu_seconds", 1.25);
  samples.Gauge("sockman_build_info", 1, {{"version", "0.1.0"}});
  std::string text = RenderExposition(samples.text(), /*openmetrics=*/true);
  EXPECT_TRUE(absl::StrContains(text, "# TYPE sockman_process_cpu_seconds counter\n"
                                      "# UNIT sockman_process_cpu_seconds seconds\n"
                                      "sockman_process_cpu_seconds_total 1.25\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "sockman_build_info{version=\"0.1.0\"} 1\n")) << text;
  EXPECT_TRUE(absl::EndsWith(text, "# EOF\n"));
  EXPECT_FALSE(absl::StrContains(RenderExposition(samples.text(), false), "# EOF"));
}

TEST(MetricsTest, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricSamples samples;
  samples.Counter("sockman_route_requests", uint64_t{1}, {{"route", "we\"ird\n"}});
  EXPECT_TRUE(absl::StrContains(RenderExposition(samples.text(), false),
                                "sockman_route_requests_total{route=\"we\\\"ird\\n\"} 1\n"));
}

TEST(MetricsTest, HistogramsAreCumulativeWithInfSumAndCount) {
  LatencyHistogram h;
  h.Observe(0.0001);  // first bucket
  h.Observe(0.003);   // le=0.005
  h.Observe(20);      // +Inf only
  MetricSamples samples(R"(service="s")");
  samples.Histogram("sockman_http_request_duration_seconds", h, {{"route", "r"}});
  std::string text = RenderExposition(samples.text(), false);
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_bucket{service=\"s\",route=\"r\",le=\"0.0005\"} 1\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_bucket{service=\"s\",route=\"r\",le=\"0.0025\"} 1\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_bucket{service=\"s\",route=\"r\",le=\"0.005\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_bucket{service=\"s\",route=\"r\",le=\"10\"} 2\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_bucket{service=\"s\",route=\"r\",le=\"+Inf\"} 3\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_sum{service=\"s\",route=\"r\"} 20.0031\n"));
  EXPECT_TRUE(absl::StrContains(
      text, "sockman_http_request_duration_seconds_count{service=\"s\",route=\"r\"} 3\n"));
  EXPECT_TRUE(absl::StrContains(text, "# TYPE sockman_http_request_duration_seconds histogram\n"));
}

TEST(MetricsTest, EveryFamilyIsNamedAsPrometheusAsks) {
  for (const MetricFamily& family : MetricFamilies()) {
    std::string name = family.name;
    EXPECT_TRUE(absl::StartsWith(name, "sockman_")) << name;
    EXPECT_FALSE(absl::EndsWith(name, "_total")) << name << ": the suffix is added";
    for (char c : name) EXPECT_TRUE(c == '_' || (c >= 'a' && c <= 'z')) << name;
    EXPECT_EQ(FindMetricFamily(name), &family);
  }
  EXPECT_TRUE(WantsOpenMetrics("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"));
  EXPECT_FALSE(WantsOpenMetrics("text/plain;version=0.0.4;q=1,*/*;q=0.1"));
}

}  // namespace
}  // namespace sockman
