// Metrics in the Prometheus text exposition format (0.0.4) and OpenMetrics
// 1.0, without a library. Each process writes its samples (MetricSamples),
// already labelled with who it is; the process answering a scrape
// concatenates every process's samples and renders them grouped by family,
// with the HELP and TYPE lines of the family table (docs/metrics.md).
//
//   MetricSamples samples(R"(service="web",worker="0")");
//   samples.Counter("sockman_connections_accepted", 12);
//   samples.Gauge("sockman_connections_open", 3);
//   std::string text = RenderExposition(samples.text(), /*openmetrics=*/false);
#ifndef SOCKMAN_ENGINE_METRICS_H_
#define SOCKMAN_ENGINE_METRICS_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace sockman {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricFamily {
  const char* name;  // without _total (counters) or _bucket/_sum/_count (histograms)
  MetricType type;
  const char* help;
};

// Every family sockman exposes, in exposition order.
absl::Span<const MetricFamily> MetricFamilies();
const MetricFamily* FindMetricFamily(absl::string_view name);

// A latency distribution in seconds, with fixed buckets (0.5 ms to 10 s):
// single writer, plain increments.
struct LatencyHistogram {
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::array<uint64_t, kBounds.size() + 1> buckets{};  // per bucket (not cumulative); last: +Inf
  uint64_t count = 0;
  double sum = 0;

  void Observe(double seconds);
};

// A monotonic clock in nanoseconds, for durations.
int64_t MonotonicNanos();

class MetricSamples {
 public:
  using Labels = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

  // `base_labels`: rendered pairs every sample carries first
  // (`service="web",worker="0"`), already escaped; may be empty.
  explicit MetricSamples(std::string base_labels = "") : base_(std::move(base_labels)) {}

  // A counter sample (named FAMILY_total); `family` must be in the table.
  void Counter(absl::string_view family, uint64_t value, Labels labels = {});
  void Counter(absl::string_view family, double value, Labels labels = {});
  void Gauge(absl::string_view family, double value, Labels labels = {});
  // FAMILY_bucket{le=...} for every bound and +Inf (cumulative), _sum, _count.
  void Histogram(absl::string_view family, const LatencyHistogram& histogram, Labels labels = {});

  // One line per sample: "FAMILY|NAME{LABELS} VALUE\n" (RenderExposition's input).
  const std::string& text() const { return text_; }

 private:
  void Line(absl::string_view family, absl::string_view suffix, Labels labels,
            absl::string_view extra_label, absl::string_view value);

  std::string base_;
  std::string text_;
};

// A label value with `\`, `"` and newlines escaped.
std::string EscapeLabelValue(absl::string_view value);

// Samples of every process (MetricSamples::text() concatenated) as one
// exposition: families in table order, each with HELP and TYPE once, its
// samples in the order they came. Lines of unknown families are dropped.
// OpenMetrics: TYPE names the family without _total, and "# EOF" ends it.
std::string RenderExposition(absl::string_view samples, bool openmetrics);

// Whether a scraper's Accept header prefers OpenMetrics, and the
// Content-Type of each format.
bool WantsOpenMetrics(absl::string_view accept);
inline constexpr absl::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr absl::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

}  // namespace sockman

#endif  // SOCKMAN_ENGINE_METRICS_H_
