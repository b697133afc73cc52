#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: triton_smoke
short_description: Inference smoke test of a Triton server through tritonclient, over HTTP and gRPC
version_added: 0.1.0
description:
  - Waits until the server and the model are ready (bounded by O(ready_timeout)), checks the served model's
    metadata and configuration against the packaged model, sends a deterministic synthetic image tensor over
    HTTP (binary and JSON tensors) and over gRPC (O(grpc_url)), times a few requests on each protocol, checks
    that every answer is the same, and returns both latencies and the top-k classes.
  - Known answer. When the packaged model (O(model_repository)) records its image preprocessing in config.pbtxt
    and its weights are not random, real photos are preprocessed as recorded and sent; the top-k classes are
    asked of Triton's classification extension (C(class_count)), whose labels come from the server's
    C(labels.txt), and each photo's expected label must be among them. The photos are O(images), by default
    scikit-image's CC0 C(coffee.png) (espresso) and C(chelsea.png) (tiger cat, tabby or Egyptian cat).
    The top-5 of each photo is returned and recorded; a model with random weights skips this check and the
    result says so in RV(known_answer).
  - Fails with a one-line reason when the server is down, the model is missing or not ready, the model or its
    configuration differs from the package, an inference fails, the answers differ, the output is malformed,
    or a photo does not get its expected label.
  - The result is also written to O(output_file) (normally C(smoke.json) in the run directory), for a
    failure too. Sending inference requests changes nothing on the server, so the task never reports a change.
author:
  - gpu_e2e platform team (@gpu-e2e)
requirements:
  - numpy
  - tritonclient[http,grpc]
options:
  url:
    description: Triton HTTP endpoint, C(host:port) or an C(http://) / C(https://) URL.
    type: str
    default: 127.0.0.1:8000
  grpc_url:
    description:
      - Triton gRPC endpoint, C(host:port). The same tensor is sent there and its answer must equal the HTTP one.
      - Empty skips the gRPC check (the result says which protocols were checked).
    type: str
    default: ""
  model_name:
    description: Model to test.
    type: str
    required: true
  model_version:
    description: Model version; empty for the server's choice (the latest).
    type: str
    default: ""
  ready_timeout:
    description: Seconds to wait for server and model readiness.
    type: int
    default: 60
  request_timeout:
    description: Connection and network timeout of each HTTP call, in seconds.
    type: int
    default: 30
  model_repository:
    description:
      - Local model repository holding the packaged C(<model_name>/config.pbtxt); the served metadata must match it.
    type: path
  expected_inputs:
    description:
      - Expected inputs as C(name), C(datatype), C(shape) (batch dimension -1), instead of O(model_repository).
    type: list
    elements: dict
  expected_outputs:
    description: Expected outputs, as O(expected_inputs).
    type: list
    elements: dict
  batch_size:
    description: Batch size of the synthetic input (the first dimension when the model batches).
    type: int
    default: 1
  warmup:
    description: Untimed requests sent first.
    type: int
    default: 1
  requests:
    description: Timed requests (binary tensors).
    type: int
    default: 5
  top_k:
    description: Number of top classes to return.
    type: int
    default: 5
  output_name:
    description: Output the top-k is taken from; the first output by default.
    type: str
  images:
    description:
      - Photos for the known-answer check instead of scikit-image's C(coffee.png) and C(chelsea.png).
    type: list
    elements: dict
    suboptions:
      path:
        description: The image file (any format Pillow reads).
        type: path
        required: true
      expect:
        description: The expected label, or a list of labels any of which passes (a label matches a served class
          name or one of its comma-separated synonyms, in any case).
        type: list
        elements: str
        required: true
      within:
        description: The expected label must be among this many top classes.
        type: int
        default: 1
      name:
        description: Name of the image in messages and results (default its file name).
        type: str
  output_file:
    description: Where to write the result as JSON (not in check mode).
    type: path
  validate_certs:
    description: Validate the TLS certificate of an C(https://) URL.
    type: bool
    default: true
attributes:
  check_mode:
    support: partial
    details: "A smoke test cannot be predicted without running it: in check mode the test runs as usual (it only
      reads from the server and sends inference requests), O(output_file) is not written. The module always
      reports unchanged."
  diff_mode:
    support: none
  platform:
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
seealso:
  - name: Triton HTTP/REST protocol
    description: The KServe v2 protocol and Triton's binary tensor extension.
    link: https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
"""

EXAMPLES = r"""
- name: Smoke-test the served model and record smoke.json.
  gpu_e2e.platform.triton_smoke:
    url: 127.0.0.1:8000
    grpc_url: 127.0.0.1:8001
    model_name: mobilenetv2
    model_repository: /srv/models
    output_file: "{{ run_dir }}/smoke.json"
  register: smoke

- name: Show the latency.
  ansible.builtin.debug:
    msg: "P50 {{ smoke.latency_ms.p50 }} ms (HTTP), {{ smoke.latency_ms_grpc.p50 }} ms (gRPC)"
"""

RETURN = r"""
passed:
  description: Whether every check passed (the task fails otherwise).
  returned: success
  type: bool
  sample: true
url:
  description: The endpoint tested.
  returned: success
  type: str
  sample: 127.0.0.1:8000
model_version:
  description: The version that answered.
  returned: success
  type: str
  sample: "1"
ready_after_s:
  description: Seconds until server and model were ready.
  returned: success
  type: float
  sample: 0.01
server:
  description: The server's name and version, from its metadata.
  returned: success
  type: dict
  sample: {"name": "triton", "version": "2.51.0"}
config:
  description: What the served model configuration says (checked against the package when O(model_repository) is set).
  returned: success
  type: dict
  sample: {"checked_against_package": true, "backend": "onnxruntime", "max_batch_size": 8, "instance_count": 2,
           "dynamic_batching": true}
metadata:
  description: The served inputs and outputs.
  returned: success
  type: dict
  sample: {"inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}], "outputs": []}
checked_against_package:
  description: Whether the metadata was compared with the packaged model.
  returned: success
  type: bool
  sample: true
input:
  description: The synthetic input (name, datatype, shape, sha256 of its bytes).
  returned: success
  type: dict
  sample: {"name": "input", "datatype": "FP32", "shape": [1, 3, 224, 224], "sha256": "5e1f..."}
encodings_agree:
  description: The JSON and binary encodings returned the same output.
  returned: success
  type: bool
  sample: true
protocols:
  description: The protocols the tensor was sent over; their answers agreed.
  returned: success
  type: list
  elements: str
  sample: ["http", "grpc"]
protocols_agree:
  description: HTTP and gRPC returned the same output.
  returned: success
  type: bool
  sample: true
grpc_url:
  description: The gRPC endpoint tested (null when O(grpc_url) is empty).
  returned: success
  type: str
  sample: 127.0.0.1:8001
latency_ms:
  description: Client-side latency of the timed HTTP requests, binary tensors (min, p50, max, mean, requests).
  returned: success
  type: dict
  sample: {"requests": 5, "min": 8.1, "p50": 8.9, "max": 12.0, "mean": 9.3}
latency_ms_grpc:
  description: Client-side latency of the timed gRPC requests (null when gRPC was not checked).
  returned: success
  type: dict
  sample: {"requests": 5, "min": 7.2, "p50": 7.9, "max": 10.1, "mean": 8.2}
top_k:
  description: Top classes of the first batch item (softmax scores when the output is logits).
  returned: success
  type: list
  elements: dict
  sample: [{"index": 808, "score": 0.0011, "value": 0.0648}]
weights:
  description: The packaged model's weights (C(trained), C(random), ...), from its package.json; null if unknown.
  returned: success
  type: str
  sample: trained
known_answer:
  description:
    - C(checked) (false with a C(reason) when skipped, for example for random weights), C(passed), and per image
      its C(top_5) classes from the server (C(score), C(index), C(label)) and the C(matched) class.
  returned: success
  type: dict
  sample: {"checked": true, "passed": true, "images": [{"image": "coffee.png", "expect": ["espresso"], "within": 1,
           "top_5": [{"score": 0.957, "index": 967, "label": "espresso"}]}]}
top_k_output:
  description: The output the top-k comes from.
  returned: success
  type: str
  sample: logits
output_file:
  description: Where the result was written.
  returned: when O(output_file) is set and not in check mode
  type: str
  sample: /runs/gpu-e2e/20260101T000000Z/smoke.json
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.basic import missing_required_lib

from ansible_collections.gpu_e2e.platform.plugins.module_utils.triton_smoke import SmokeTestError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.triton_smoke import missing_libraries
from ansible_collections.gpu_e2e.platform.plugins.module_utils.triton_smoke import run_smoke_test


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", default="127.0.0.1:8000"),
            grpc_url=dict(type="str", default=""),
            model_name=dict(type="str", required=True),
            model_version=dict(type="str", default=""),
            ready_timeout=dict(type="int", default=60),
            request_timeout=dict(type="int", default=30),
            model_repository=dict(type="path"),
            expected_inputs=dict(type="list", elements="dict"),
            expected_outputs=dict(type="list", elements="dict"),
            batch_size=dict(type="int", default=1),
            warmup=dict(type="int", default=1),
            requests=dict(type="int", default=5),
            top_k=dict(type="int", default=5),
            output_name=dict(type="str"),
            images=dict(type="list", elements="dict", options=dict(
                path=dict(type="path", required=True),
                expect=dict(type="list", elements="str", required=True),
                within=dict(type="int", default=1),
                name=dict(type="str"),
            )),
            output_file=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("model_repository", "expected_inputs"), ("model_repository", "expected_outputs")],
        supports_check_mode=True,
    )
    if missing_libraries():
        module.fail_json(msg=missing_required_lib(" and ".join(missing_libraries())))
    try:
        result = run_smoke_test(module.params, check_mode=module.check_mode)
    except SmokeTestError as exc:
        module.fail_json(msg=f"smoke test failed: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
