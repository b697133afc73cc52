# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""triton_local: a Triton-compatible inference server for ONNX models on the CPU.

It serves a Triton model repository with onnxruntime and speaks Triton's
HTTP/REST v2 API (binary tensors, dynamic batching, statistics, model
repository) and Triton's Prometheus metric names, so tritonclient, curl
scripts, load tests and dashboards written for tritonserver work unchanged.
It is the local stand-in of the gpu_e2e.platform collection, not a Triton
replacement: ONNX only, CPU only, HTTP only (no gRPC, no shared memory).
"""

__version__ = "2.73.0-local"
