#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_schedulability_info
short_description: Prove offline that every rendered workload can be scheduled on the planned EKS node groups
version_added: 0.1.0
description:
  - Takes every workload of the rendered manifests (Deployments, DaemonSets, StatefulSets, Jobs, CronJobs and the
    Prometheus operator's Prometheus and Alertmanager resources), the workloads of upstream charts that cannot be
    templated offline (modelled from their values), and the pods EKS itself runs (CoreDNS x2, kube-proxy and
    aws-node on every node).
  - Takes the planned node groups (labels, taints, instance types, max size) and computes each node's allocatable
    CPU, memory, pods and C(nvidia.com/gpu) from C(describe_instance_types), the way the EKS-optimized AMI does
    (max pods from the ENI limits, kube-reserved CPU and memory, the hard eviction threshold).
  - Proves for each workload that its nodeSelector and required node affinity match a group, that its tolerations
    cover that group's taints, that its requests fit beside the DaemonSets with the group at max size (with an
    HPA's target at its maxReplicas), and that a GPU request lands only on GPU nodes. Proves that every
    PersistentVolumeClaim has a provisioner and that every HPA metric has a source.
  - Writes the verdict to O(dest) as JSON (not in check mode). Read-only towards AWS; never reports changed.
  - Fails with one line per unschedulable workload, claim or metric (what, why, which group came closest) unless
    O(fail_on_unschedulable=false).
author:
  - gpu_e2e platform team (@gpu-e2e)
options:
  manifests:
    description: Rendered manifest files, or directories whose C(*.yaml)/C(*.yml) files are read.
    type: list
    elements: path
    default: []
  charts:
    description:
      - Upstream charts that are not templated, modelled from their values.
      - Known charts are C(kube-prometheus-stack), C(dcgm-exporter), C(aws-load-balancer-controller) and
        C(prometheus-adapter).
    type: list
    elements: dict
    default: []
    suboptions:
      chart:
        description: Chart name.
        type: str
        required: true
      release:
        description: Release name (names the objects).
        type: str
      namespace:
        description: Release namespace.
        type: str
        default: default
      values_files:
        description: Values files, merged in order.
        type: list
        elements: path
        default: []
      values:
        description: Values merged over the files.
        type: dict
        default: {}
  nodegroups:
    description: The planned node groups.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Node group name.
        type: str
        required: true
      instance_types:
        description: Instance types; the proof holds for the smallest allocatable among them.
        type: list
        elements: str
        required: true
      max_size:
        description: Maximum number of nodes.
        type: int
        required: true
      capacity_type:
        description: C(ON_DEMAND) or C(SPOT) (the C(eks.amazonaws.com/capacityType) label).
        type: str
        default: ON_DEMAND
      labels:
        description: Kubernetes labels of the nodes.
        type: dict
        default: {}
      taints:
        description: Taints as the EKS API takes them (C(key), C(value), C(effect) such as C(NO_SCHEDULE)).
        type: list
        elements: dict
        default: []
  instance_type_info:
    description:
      - Instance type descriptions shaped like C(describe_instance_types) entries (C(InstanceType), C(VCpuInfo),
        C(MemoryInfo), C(NetworkInfo), C(GpuInfo), C(ProcessorInfo)), for example recorded from an earlier call.
      - Only the types not described here are read from EC2 (and only then is an EC2 client created).
    type: list
    elements: dict
    default: []
  eks_system_pods:
    description: Add the pods EKS runs itself (CoreDNS x2, kube-proxy and aws-node on every node).
    type: bool
    default: true
  storage_classes:
    description: StorageClasses the cluster has besides those in the manifests (C(name), C(provisioner), C(default)).
    type: list
    elements: dict
    default: []
  provisioners:
    description: Storage provisioners installed in the cluster (for example C(ebs.csi.aws.com) with the EBS CSI add-on).
    type: list
    elements: str
    default: []
  metric_apis:
    description: Metric API groups the cluster serves besides the APIServices in the manifests.
    type: list
    elements: str
    default: []
  dest:
    description: Where to write the verdict as JSON.
    type: path
  fail_on_unschedulable:
    description: Fail the task when anything cannot be scheduled.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: "Runs the proof as usual; O(dest) is not written in check mode."
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Prove that every rendered workload schedules on the planned node groups.
  gpu_e2e.platform.k8s_schedulability_info:
    manifests: ["{{ run_dir }}/k8s/triton.yaml", "{{ run_dir }}/k8s/nvidia-device-plugin.yaml"]
    charts:
      - chart: kube-prometheus-stack
        release: kube-prometheus-stack
        namespace: monitoring
        values_files: ["{{ run_dir }}/k8s/kube-prometheus-stack-values.yaml"]
    nodegroups:
      - {name: system, instance_types: [t3.medium], max_size: 3}
      - name: gpu
        instance_types: [g4dn.xlarge]
        max_size: 2
        labels: {accelerator: nvidia}
        taints: [{key: gpu, value: "true", effect: NO_SCHEDULE}]
    dest: "{{ run_dir }}/k8s/schedulability.json"
"""

RETURN = r"""
schedulable:
  description: Whether every workload, claim and HPA metric passed.
  returned: always
  type: bool
failures:
  description: One line per failure (what, why, closest group).
  returned: always
  type: list
  elements: str
  sample: ["Deployment kube-system/coredns: taint gpu=true:NoSchedule not tolerated (closest group: gpu)"]
workloads:
  description: The verdict per workload (groups it may use, rejections per group, where its replicas were placed).
  returned: always
  type: list
  elements: dict
claims:
  description: The verdict per PersistentVolumeClaim.
  returned: always
  type: list
  elements: dict
hpas:
  description: The verdict per HPA metric.
  returned: always
  type: list
  elements: dict
nodegroups:
  description: The planned groups with labels, taints, allocatable per node and what is left after the DaemonSets.
  returned: always
  type: list
  elements: dict
counts:
  description: Numbers of workloads, unschedulable workloads, claims and HPA metrics.
  returned: always
  type: dict
dest:
  description: The JSON file written.
  returned: always
  type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.gpu_e2e.platform.plugins.module_utils.k8s_chart_models import charts_documents
from ansible_collections.gpu_e2e.platform.plugins.module_utils.k8s_schedulability import SchedulabilityError, run


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "manifests": {"type": "list", "elements": "path", "default": []},
            "charts": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "chart": {"type": "str", "required": True},
                    "release": {"type": "str"},
                    "namespace": {"type": "str", "default": "default"},
                    "values_files": {"type": "list", "elements": "path", "default": []},
                    "values": {"type": "dict", "default": {}},
                },
            },
            "nodegroups": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "instance_types": {"type": "list", "elements": "str", "required": True},
                    "max_size": {"type": "int", "required": True},
                    "capacity_type": {"type": "str", "default": "ON_DEMAND"},
                    "labels": {"type": "dict", "default": {}},
                    "taints": {"type": "list", "elements": "dict", "default": []},
                },
            },
            "instance_type_info": {"type": "list", "elements": "dict", "default": []},
            "eks_system_pods": {"type": "bool", "default": True},
            "storage_classes": {"type": "list", "elements": "dict", "default": []},
            "provisioners": {"type": "list", "elements": "str", "default": []},
            "metric_apis": {"type": "list", "elements": "str", "default": []},
            "dest": {"type": "path"},
            "fail_on_unschedulable": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )

    def ec2():
        return module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())

    try:
        result = run(module.params, ec2, charts_documents(module.params["charts"]), module.check_mode)
    except SchedulabilityError as exc:
        module.fail_json(msg=str(exc))
    if result["failures"] and module.params["fail_on_unschedulable"]:
        module.fail_json(
            msg=f"{len(result['failures'])} unschedulable on the planned node groups "
            f"(see {result['dest'] or 'the result'}):\n" + "\n".join(result["failures"]),
            **result,
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
