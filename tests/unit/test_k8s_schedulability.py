"""The offline schedulability proof (gpu_e2e.platform.k8s_schedulability_info).

Instance capacities come from the emulator's own describe_instance_types (moto, in process), so the
allocatable figures are computed from the same data the module reads on the local profile. Every
known-bad plan below fails because of one predicate: removing that predicate from prove() (the taint
check, the nodeSelector check, the GPU check, the fit check, the PVC or the HPA check) turns the test
red, which was checked by hand for each of them.
"""

from __future__ import annotations

import json
import os

import boto3
import jinja2
import pytest
import yaml
from moto import mock_aws

from ansible_collections.gpu_e2e.platform.plugins.module_utils import k8s_schedulability as ks
from ansible_collections.gpu_e2e.platform.plugins.module_utils.k8s_chart_models import charts_documents

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OBS = os.path.join(ROOT, "roles", "observability")

GPU_GROUP = {
    "name": "gpu-e2e-gpu",
    "instance_types": ["g4dn.xlarge"],
    "max_size": 2,
    "capacity_type": "SPOT",
    "labels": {"accelerator": "nvidia"},
    "taints": [{"key": "gpu", "value": "true", "effect": "NO_SCHEDULE"}],
}
SYSTEM_GROUP = {
    "name": "gpu-e2e-system",
    "instance_types": ["t3.medium"],
    "max_size": 3,
    "labels": {"role": "system"},
    "taints": [],
}
GPU_TOLERATIONS = [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]


@pytest.fixture(scope="module")
def types():
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        return ks.describe_types(ec2, ["g4dn.xlarge", "t3.medium", "m5.large"])


def groups(types, *plan):
    return ks.plan_nodegroups(list(plan), types)


def render_obs(name):
    with open(os.path.join(OBS, "defaults", "main.yml")) as handle:
        variables = yaml.safe_load(handle)
    variables.update(stack_name="gpu-e2e", ansible_managed="test")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - renders YAML, not HTML
    env.filters.update(to_json=json.dumps)
    with open(os.path.join(OBS, "templates", name)) as handle:
        return yaml.safe_load(env.from_string(handle.read()).render(**variables))


def kps_docs(values):
    return charts_documents(
        [
            {
                "chart": "kube-prometheus-stack",
                "release": "kube-prometheus-stack",
                "namespace": "monitoring",
                "values": values,
            }
        ]
    )


def deployment(name, replicas=1, requests=None, node_selector=None, tolerations=None, affinity=None):
    pod = {"containers": [{"name": name, "resources": {"requests": requests or {"cpu": "100m", "memory": "64Mi"}}}]}
    if node_selector:
        pod["nodeSelector"] = node_selector
    if tolerations:
        pod["tolerations"] = tolerations
    if affinity:
        pod["affinity"] = affinity
    return (
        "test.yaml",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"replicas": replicas, "template": {"spec": pod}},
        },
    )


def system():
    return [("eks", d) for d in ks.eks_system_workloads()]


def verdict(result, name):
    return next(w for w in result["workloads"] if w["workload"].endswith("/" + name))


def test_allocatable_is_computed_like_the_eks_ami(types):
    gpu = ks.instance_allocatable(types["g4dn.xlarge"])
    # 3 ENIs x (10 IPv4 - 1) + 2 = 29 pods; 4 vCPUs keep 60 + 10 + 5 + 5 m; 11 x 29 + 255 MiB + 100 MiB eviction.
    assert gpu["allocatable"]["pods"] == 29
    assert gpu["allocatable"]["cpu"] == 4000 - 80
    assert gpu["allocatable"]["memory"] == int(16384 * 0.925) - (11 * 29 + 255) - 100
    assert gpu["allocatable"]["nvidia.com/gpu"] == 1
    small = ks.instance_allocatable(types["t3.medium"])
    assert small["allocatable"]["pods"] == 3 * (6 - 1) + 2
    assert small["allocatable"]["nvidia.com/gpu"] == 0
    assert ks.eks_max_pods(15, 50, 96) == 250 and ks.eks_max_pods(15, 50, 8) == 110


def test_todays_only_a_tainted_gpu_group_plan_fails_naming_coredns_and_prometheus(types):
    """The plan before the system node group: CoreDNS and Prometheus tolerate no GPU taint."""
    docs = system() + kps_docs(render_obs("kube-prometheus-stack-values.yml.j2"))
    result = ks.prove(docs, groups(types, GPU_GROUP))
    assert not result["schedulable"]
    text = "\n".join(result["failures"])
    assert (
        "Deployment kube-system/coredns: taint gpu=true:NoSchedule not tolerated (closest group: gpu-e2e-gpu)" in text
    )
    assert "Prometheus monitoring/kube-prometheus-stack-prometheus: taint gpu=true:NoSchedule" in text
    # node-exporter tolerates the taint (its values say so) and kube-proxy/aws-node tolerate everything.
    assert verdict(result, "kube-prometheus-stack-prometheus-node-exporter")["fits"]
    assert verdict(result, "kube-proxy")["fits"] and verdict(result, "aws-node")["fits"]


def test_the_system_group_carries_coredns_and_the_monitoring_stack(types):
    docs = system() + kps_docs(render_obs("kube-prometheus-stack-values.yml.j2"))
    result = ks.prove(docs, groups(types, SYSTEM_GROUP, GPU_GROUP), provisioners=[])
    assert verdict(result, "coredns")["groups"] == ["gpu-e2e-system"]
    assert verdict(result, "kube-prometheus-stack-prometheus")["fits"]
    assert set(verdict(result, "kube-proxy")["groups"]) == {"gpu-e2e-system", "gpu-e2e-gpu"}
    assert [c for c in result["claims"] if not c["fits"]] == []  # the values render no PVC (ephemeral storage)


def test_a_pvc_without_a_default_storage_class_or_provisioner_fails(types):
    claim = (
        "p.yaml",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "apps"},
            "spec": {},
        },
    )
    result = ks.prove([claim], groups(types, SYSTEM_GROUP))
    assert result["failures"] == [
        "PVC PersistentVolumeClaim apps/data: no storageClassName and the cluster has no "
        "default StorageClass (EKS 1.30+ creates none)"
    ]
    gp3 = (
        "sc.yaml",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "provisioner": "ebs.csi.aws.com",
            "metadata": {"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        },
    )
    assert (
        "provisioner ebs.csi.aws.com is not installed"
        in ks.prove([claim, gp3], groups(types, SYSTEM_GROUP))["failures"][0]
    )
    assert ks.prove([claim, gp3], groups(types, SYSTEM_GROUP), provisioners=["ebs.csi.aws.com"])["schedulable"]


def test_a_gpu_request_fails_on_an_untainted_group_without_gpus(types):
    docs = [deployment("triton", requests={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1})]
    result = ks.prove(docs, groups(types, SYSTEM_GROUP))
    assert result["failures"] == [
        "Deployment apps/triton: requests nvidia.com/gpu but the group's nodes have no "
        "NVIDIA GPU (closest group: gpu-e2e-system)"
    ]
    ok = ks.prove(
        [
            deployment(
                "triton",
                requests={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1},
                node_selector={"accelerator": "nvidia"},
                tolerations=GPU_TOLERATIONS,
            )
        ],
        groups(types, SYSTEM_GROUP, GPU_GROUP),
    )
    assert ok["schedulable"] and verdict(ok, "triton")["placed_on"] == ["gpu-e2e-gpu#0"]


def test_a_node_selector_no_group_carries_fails(types):
    result = ks.prove([deployment("app", node_selector={"accelerator": "nvidia"})], groups(types, SYSTEM_GROUP))
    assert result["failures"] == [
        "Deployment apps/app: nodeSelector accelerator=nvidia not on the group's nodes (closest group: gpu-e2e-system)"
    ]


def test_required_node_affinity_is_evaluated(types):
    avoid = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "eks.amazonaws.com/capacityType", "operator": "NotIn", "values": ["ON_DEMAND"]}
                        ]
                    }
                ]
            }
        }
    }
    result = ks.prove([deployment("app", affinity=avoid)], groups(types, SYSTEM_GROUP))
    assert "required node affinity matches no label set" in result["failures"][0]


def test_replicas_that_do_not_fit_beside_the_daemonsets_at_max_size_fail(types):
    # One t3.medium keeps 2000 - 70 m; kube-proxy and aws-node take 125 m: 3 replicas of 900 m need 2 nodes.
    plan = dict(SYSTEM_GROUP, max_size=1)
    result = ks.prove(
        system() + [deployment("busy", replicas=3, requests={"cpu": "900m", "memory": "64Mi"})],
        groups(types, plan),
    )
    line = next(f for f in result["failures"] if "busy" in f)
    assert line.startswith("Deployment apps/busy: only 2 of 3 replicas fit beside the DaemonSets on gpu-e2e-system")
    assert ks.prove(
        system() + [deployment("busy", replicas=3, requests={"cpu": "900m", "memory": "64Mi"})],
        groups(types, dict(SYSTEM_GROUP, max_size=2)),
    )["schedulable"]


def test_an_hpa_counts_at_max_replicas_and_needs_a_metric_source(types):
    hpa = (
        "hpa.yaml",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "app", "namespace": "apps"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                "minReplicas": 1,
                "maxReplicas": 5,
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "queue_us"},
                            "target": {"type": "AverageValue", "averageValue": "1"},
                        },
                    }
                ],
            },
        },
    )
    docs = [deployment("app", replicas=1), hpa]
    result = ks.prove(docs, groups(types, SYSTEM_GROUP))
    assert result["failures"] == [
        "HPA HorizontalPodAutoscaler apps/app: Pods metric queue_us needs the "
        "custom.metrics.k8s.io API and nothing serves it"
    ]
    assert verdict(result, "app")["replicas"] == 5
    rule = {
        "seriesQuery": 'nv_inference_queue_duration_us{namespace!="",pod!=""}',
        "name": {"matches": "^nv_inference_(.*)_duration_us$", "as": "${1}_us"},
    }
    adapter = charts_documents(
        [
            {
                "chart": "prometheus-adapter",
                "release": "prometheus-adapter",
                "namespace": "monitoring",
                "values": {"rules": {"default": False, "custom": [rule]}},
            }
        ]
    )
    assert ks.prove(docs + adapter, groups(types, SYSTEM_GROUP))["schedulable"]
    rule["name"]["as"] = "${1}_microseconds"
    adapter = charts_documents(
        [
            {
                "chart": "prometheus-adapter",
                "release": "prometheus-adapter",
                "namespace": "monitoring",
                "values": {"rules": {"default": False, "custom": [rule]}},
            }
        ]
    )
    assert (
        "no prometheus-adapter rule produces queue_us (it serves queue_microseconds)"
        in ks.prove(docs + adapter, groups(types, SYSTEM_GROUP))["failures"][0]
    )


def test_run_writes_the_record_and_check_mode_writes_nothing(types, tmp_path):
    manifest = tmp_path / "app.yaml"
    manifest.write_text(yaml.safe_dump(deployment("app")[1]))
    params = {
        "manifests": [str(tmp_path)],
        "nodegroups": [SYSTEM_GROUP],
        "eks_system_pods": True,
        "dest": str(tmp_path / "out" / "schedulability.json"),
    }
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ks.run(params, ec2, check_mode=True)
        assert not (tmp_path / "out").exists()
        result = ks.run(params, ec2)
    record = json.loads((tmp_path / "out" / "schedulability.json").read_text())
    assert record["schedulable"] and result["counts"]["workloads"] == 4  # app, coredns, kube-proxy, aws-node


def test_an_unknown_instance_type_is_one_clear_error():
    with pytest.raises(ks.SchedulabilityError, match="no description of instance type"):
        ks.plan_nodegroups([{"name": "x", "instance_types": ["nope.large"], "max_size": 1}], {})


def test_described_types_need_no_ec2_client_and_the_others_are_read(types, tmp_path):
    params = {"manifests": [], "nodegroups": [SYSTEM_GROUP, GPU_GROUP], "instance_type_info": list(types.values())}

    def no_client():
        raise AssertionError("an EC2 client was created although every type was described")

    assert ks.run(params, no_client)["schedulable"]
    params["instance_type_info"] = [types["t3.medium"]]
    asked = []

    def client():
        asked.append(True)
        return _Stub(types)

    assert ks.run(params, client)["schedulable"] and asked == [True]


class _Stub:
    """An EC2 client whose paginator answers from recorded descriptions."""

    def __init__(self, types):
        self.types = types

    def get_paginator(self, _name):
        stub = self

        class _Pages:
            def paginate(self, InstanceTypes):  # noqa: N803 - boto3's parameter name
                class _Result:
                    def build_full_result(self):
                        return {"InstanceTypes": [stub.types[t] for t in InstanceTypes]}

                return _Result()

        return _Pages()


def test_what_is_left_after_the_daemonsets_is_not_what_is_left_after_packing(types):
    result = ks.prove(
        system() + [deployment("busy", replicas=1, requests={"cpu": "900m", "memory": "64Mi"})],
        groups(types, SYSTEM_GROUP),
    )
    group = result["nodegroups"][0]
    # kube-proxy 100m + aws-node 25m, two pod slots; the Deployment's replica is not subtracted here.
    assert group["free_after_daemonsets"]["cpu"] == group["allocatable"]["cpu"] - 125
    assert group["free_after_daemonsets"]["pods"] == group["allocatable"]["pods"] - 2


def test_the_rendered_adapter_serves_the_metric_of_tritons_hpa(types):
    """The observability role's prometheus-adapter values and the triton chart's HPA agree on the metric."""
    with open(os.path.join(OBS, "defaults", "main.yml")) as handle:
        variables = yaml.safe_load(handle)
    with open(os.path.join(ROOT, "roles", "triton", "defaults", "main.yml")) as handle:
        triton = yaml.safe_load(handle)
    variables.update(
        stack_name="gpu-e2e", ansible_managed="test", observability_adapter_metric_name=triton["triton_hpa_metric_name"]
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - renders YAML, not HTML
    env.filters.update(to_json=json.dumps)
    with open(os.path.join(OBS, "templates", "prometheus-adapter-values.yml.j2")) as handle:
        values = yaml.safe_load(env.from_string(handle.read()).render(**variables))
    adapter = charts_documents(
        [{"chart": "prometheus-adapter", "release": "prometheus-adapter", "namespace": "monitoring", "values": values}]
    )
    hpa = (
        "triton.yaml",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "triton", "namespace": "triton"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "triton"},
                "maxReplicas": 2,
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": triton["triton_hpa_metric_name"]},
                            "target": {"type": "AverageValue", "averageValue": "1"},
                        },
                    }
                ],
            },
        },
    )
    result = ks.prove([hpa] + adapter, groups(types, SYSTEM_GROUP))
    assert result["schedulable"], result["failures"]
    assert result["hpas"][0]["api"] == "custom.metrics.k8s.io"
    assert "nv_inference_queue_duration_us" in values["rules"]["custom"][0]["seriesQuery"]


def test_an_hpa_max_above_the_gpus_of_the_gpu_group_at_max_size_fails_in_one_line(types):
    """Each Triton replica needs a GPU: maxReplicas 3 on a 2-node, 1-GPU-per-node group cannot fit.

    Removing the HPA's maxReplicas from prove() (replicas then stay at 1) turns this red."""
    triton = deployment("triton", replicas=1, requests={"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"},
                        node_selector={"accelerator": "nvidia"}, tolerations=GPU_TOLERATIONS)
    triton[1]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = {"nvidia.com/gpu": "1"}

    def hpa(max_replicas):
        return ("hpa.yaml", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "triton", "namespace": "apps"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "triton"},
                     "minReplicas": 1, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}})

    plan = groups(types, SYSTEM_GROUP, GPU_GROUP)
    result = ks.prove(system() + [triton, hpa(3)], plan, metric_apis=["metrics.k8s.io"])
    lines = [f for f in result["failures"] if "apps/triton" in f]
    assert len(lines) == 1 and "\n" not in lines[0], result["failures"]
    assert lines[0].startswith("Deployment apps/triton: only 2 of 3 replicas fit"), lines[0]
    assert verdict(result, "triton")["replicas"] == 3
    assert ks.prove(system() + [triton, hpa(2)], plan, metric_apis=["metrics.k8s.io"])["schedulable"]


def test_the_alb_controllers_rendered_values_are_proven_on_the_system_group(types):
    """The values roles/triton renders for the ALB controller: 2 replicas, no toleration of the GPU taint."""
    values = {"clusterName": "gpu-e2e", "region": "us-east-1", "vpcId": "vpc-1", "defaultTags": {"stack": "gpu-e2e"},
              "serviceAccount": {"create": True, "name": "aws-load-balancer-controller"}}
    docs = system() + charts_documents([{"chart": "aws-load-balancer-controller",
                                         "release": "aws-load-balancer-controller",
                                         "namespace": "kube-system", "values": values}])
    only_gpu = ks.prove(docs, groups(types, GPU_GROUP))
    assert any(f.startswith("Deployment kube-system/aws-load-balancer-controller: taint gpu=true:NoSchedule")
               for f in only_gpu["failures"]), only_gpu["failures"]
    both = ks.prove(docs, groups(types, SYSTEM_GROUP, GPU_GROUP))
    assert verdict(both, "aws-load-balancer-controller")["fits"]
    assert verdict(both, "aws-load-balancer-controller")["replicas"] == 2
