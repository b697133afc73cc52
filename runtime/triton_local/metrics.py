# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus exposition with Triton's metric names and labels.

Triton's counters carry no `_total` suffix (nv_inference_request_success,
not ..._total), while prometheus_client's Counter always adds one, so the
nv_* families are written here as text, exactly as tritonserver writes them.
prometheus_client contributes the standard process_* metrics of this process
(process_cpu_seconds_total: the runtime's CPU use).

Families (labels model, version):
  counters  nv_inference_request_success, nv_inference_request_failure, nv_inference_count,
            nv_inference_exec_count, nv_inference_request_duration_us, nv_inference_queue_duration_us,
            nv_inference_compute_input_duration_us, nv_inference_compute_infer_duration_us,
            nv_inference_compute_output_duration_us
  gauge     nv_inference_pending_request_count
  summaries nv_inference_request_summary_us, nv_inference_queue_summary_us,
            nv_inference_compute_input_summary_us, nv_inference_compute_infer_summary_us,
            nv_inference_compute_output_summary_us  (quantiles 0.5/0.9/0.95/0.99 over recent requests;
            tritonserver emits them with --metrics-config=summary_latencies=true)
  host      nv_cpu_utilization (0..1), nv_cpu_memory_total_bytes, nv_cpu_memory_used_bytes
"""

from __future__ import annotations

try:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.process_collector import ProcessCollector
except ImportError:  # pragma: no cover - process metrics are optional
    CollectorRegistry = None

COUNTERS = (
    ("nv_inference_request_success", "Number of successful inference requests, all batch sizes",
     lambda s: s.success.count),
    ("nv_inference_request_failure", "Number of failed inference requests, all batch sizes",
     lambda s: s.fail.count),
    ("nv_inference_count", "Number of inferences performed (does not include cached requests)",
     lambda s: s.inference_count),
    ("nv_inference_exec_count", "Number of model executions performed (does not include cached requests)",
     lambda s: s.execution_count),
    ("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds",
     lambda s: s.success.total_ns // 1000),
    ("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds",
     lambda s: s.queue.total_ns // 1000),
    ("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds",
     lambda s: s.compute_input.total_ns // 1000),
    ("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds",
     lambda s: s.compute_infer.total_ns // 1000),
    ("nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds",
     lambda s: s.compute_output.total_ns // 1000),
)
SUMMARIES = (
    ("nv_inference_request_summary_us", "Summary of inference request duration in microseconds",
     lambda s: s.success),
    ("nv_inference_queue_summary_us", "Summary of inference queuing duration in microseconds", lambda s: s.queue),
    ("nv_inference_compute_input_summary_us", "Summary of compute input duration in microseconds",
     lambda s: s.compute_input),
    ("nv_inference_compute_infer_summary_us", "Summary of compute inference duration in microseconds",
     lambda s: s.compute_infer),
    ("nv_inference_compute_output_summary_us", "Summary of inference compute output duration in microseconds",
     lambda s: s.compute_output),
)


def _labels(model):
    return f'model="{model.name}",version="{model.version}"'


class HostCpu:
    """nv_cpu_utilization: busy share of all CPUs between two scrapes, from /proc/stat."""

    def __init__(self):
        self.last = self._read()

    @staticmethod
    def _read():
        try:
            with open("/proc/stat", encoding="ascii") as handle:
                fields = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    def utilization(self):
        now = self._read()
        if now is None or self.last is None:
            return 0.0
        total = now[0] - self.last[0]
        idle = now[1] - self.last[1]
        self.last = now
        return max(0.0, min(1.0, 1.0 - idle / total)) if total > 0 else 0.0


def _memory():
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle}
        return info["MemTotal"], info["MemTotal"] - info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError, KeyError, IndexError):
        return 0, 0


class Metrics:
    def __init__(self, repository):
        self.repository = repository
        self.cpu = HostCpu()
        self.registry = None
        if CollectorRegistry is not None:
            self.registry = CollectorRegistry(auto_describe=False)
            ProcessCollector(registry=self.registry)

    def render(self):
        models = list(self.repository.all_versions())
        lines = []
        for name, doc, get in COUNTERS:
            lines.append(f"# HELP {name} {doc}")
            lines.append(f"# TYPE {name} counter")
            lines.extend(f"{name}{{{_labels(m)}}} {get(m.stats)}" for m in models)
        lines.append("# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting "
                     "execution per-model.")
        lines.append("# TYPE nv_inference_pending_request_count gauge")
        lines.extend(f"nv_inference_pending_request_count{{{_labels(m)}}} {m.pending_count()}" for m in models)
        for name, doc, get in SUMMARIES:
            lines.append(f"# HELP {name} {doc}")
            lines.append(f"# TYPE {name} summary")
            for m in models:
                summary = get(m.stats)
                labels = _labels(m)
                lines.extend(f'{name}{{{labels},quantile="{q}"}} {v:.3f}' for q, v in summary.quantiles_us())
                lines.append(f"{name}_sum{{{labels}}} {summary.total_ns / 1000.0:.3f}")
                lines.append(f"{name}_count{{{labels}}} {summary.count}")
        total, used = _memory()
        lines += [
            "# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]",
            "# TYPE nv_cpu_utilization gauge",
            f"nv_cpu_utilization {self.cpu.utilization():.4f}",
            "# HELP nv_cpu_memory_total_bytes CPU total memory (RAM), in bytes",
            "# TYPE nv_cpu_memory_total_bytes gauge",
            f"nv_cpu_memory_total_bytes {total}",
            "# HELP nv_cpu_memory_used_bytes CPU used memory (RAM), in bytes",
            "# TYPE nv_cpu_memory_used_bytes gauge",
            f"nv_cpu_memory_used_bytes {used}",
        ]
        text = "\n".join(lines) + "\n"
        if self.registry is not None:
            text += generate_latest(self.registry).decode("utf-8")
        return text.encode("utf-8")
