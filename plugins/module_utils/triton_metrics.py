# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names of Triton's cumulative counters, in one place.

NVIDIA Triton Inference Server exports them per model and version (docs:
user_guide/metrics.md): tritonserver 2.51 locally and the 25.03 image on EKS
alike (nv_inference_request_failure adds a `reason` label; sums over it are
the total). The
dashboards query them and the loadtest stage reads them for its server-side
KPIs, so both take the list from here.
"""

from __future__ import annotations

TRITON_COUNTERS = (
    "nv_inference_request_success",
    "nv_inference_request_failure",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_request_duration_us",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_inference_compute_output_duration_us",
)
