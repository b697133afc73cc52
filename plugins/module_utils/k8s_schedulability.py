# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An offline proof that every rendered workload can be scheduled on the planned EKS node groups.

No scheduler simulator runs without a cluster (kube-scheduler needs an API server, and none can run
offline here), so the checks the scheduler's filter plugins make are written out below, limited to
what the rendered manifests of this collection use:

* NodeAffinity / nodeSelector: ``nodeSelector`` and *required* node affinity (``In``, ``NotIn``,
  ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt``) against the labels a node of the group carries
  (the group's labels plus the well-known labels EKS puts on every managed node);
* TaintToleration: every ``NoSchedule``/``NoExecute`` taint of the group must be tolerated;
* NodeResourcesFit: requests (CPU, memory, ``nvidia.com/gpu``, one pod slot) must fit beside the
  DaemonSets that land on the same node, on the group at its *max* size. Replicas are packed first
  fit, biggest first, across every node of every group they may use; a Deployment or StatefulSet
  with an HPA counts at the HPA's ``maxReplicas``;
* a GPU request only ever lands on a node that has NVIDIA GPUs;
* every PVC (standalone, StatefulSet ``volumeClaimTemplates``, the Prometheus operator's
  ``storage.volumeClaimTemplate``) names, or defaults to, a StorageClass whose provisioner is
  installed;
* every HPA metric has a source: ``Resource`` metrics need ``metrics.k8s.io``, ``Pods``/``Object``
  metrics ``custom.metrics.k8s.io``, ``External`` ones ``external.metrics.k8s.io`` (an APIService in
  the manifests or one the caller says the cluster has); where a prometheus-adapter configuration
  is rendered, the metric must be one of the names its rules produce.

Allocatable is computed the way the EKS-optimized AMIs compute it (awslabs/amazon-eks-ami,
``bootstrap.sh`` on AL2 and ``nodeadm`` on AL2023): max pods from the ENI limits
(``ENIs x (IPv4 per ENI - 1) + 2``, capped at 110 below 30 vCPUs and 250 above, as nodeadm does),
kube-reserved memory ``11 MiB x max pods + 255 MiB``, kube-reserved CPU 6 % of the first core, 1 % of
the second, 0.5 % of the next two and 0.25 % of the rest, and the kubelet's hard eviction threshold of
100 MiB. The instance's nominal memory is first reduced by the share the hypervisor and the kernel
keep (7.5 %, Karpenter's ``vmMemoryOverheadPercent`` default), so a node's real capacity is not
overstated.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re

from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - AnsibleAWSModule reports a missing botocore
    BotoCoreError = ClientError = Exception


class SchedulabilityError(Exception):
    """The one error type of the proof; the module catches it once."""


GPU_RESOURCE = "nvidia.com/gpu"
EVICTION_HARD_MEMORY_MIB = 100
VM_MEMORY_OVERHEAD = 0.075
WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicaSet",
    "Prometheus",
    "Alertmanager",
)
# Storage provisioners every EKS cluster has without an add-on: none. EKS 1.30+ creates no default
# StorageClass, and the in-tree gp2 class (kubernetes.io/aws-ebs) is migrated to the EBS CSI driver,
# which is an add-on.
IN_TREE_EBS = "kubernetes.io/aws-ebs"
EBS_CSI = "ebs.csi.aws.com"
METRIC_APIS = {
    "Resource": "metrics.k8s.io",
    "ContainerResource": "metrics.k8s.io",
    "Pods": "custom.metrics.k8s.io",
    "Object": "custom.metrics.k8s.io",
    "External": "external.metrics.k8s.io",
}


# --- The pods EKS itself runs -------------------------------------------------------------------
# As the EKS default add-ons install them (coredns, kube-proxy, vpc-cni; requests, tolerations and
# required node affinity of their manifests, EKS 1.33 defaults).
_LINUX_AMD64_ARM64 = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                    ]
                }
            ]
        }
    }
}


def eks_system_workloads():
    """CoreDNS x2, kube-proxy and aws-node (one per node), as Kubernetes objects."""

    def pod(name, requests, tolerations):
        return {
            "affinity": copy.deepcopy(_LINUX_AMD64_ARM64),
            "tolerations": tolerations,
            "priorityClassName": "system-node-critical" if name != "coredns" else "system-cluster-critical",
            "containers": [{"name": name, "resources": {"requests": requests}}],
        }

    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "spec": {
                "replicas": 2,
                "template": {
                    "spec": pod(
                        "coredns",
                        {"cpu": "100m", "memory": "70Mi"},
                        [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                        ],
                    )
                },
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "spec": {"template": {"spec": pod("kube-proxy", {"cpu": "100m"}, [{"operator": "Exists"}])}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "aws-node", "namespace": "kube-system"},
            "spec": {"template": {"spec": pod("aws-node", {"cpu": "25m"}, [{"operator": "Exists"}])}},
        },
    ]


# --- Quantities ---------------------------------------------------------------------------------
_SUFFIX = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)$")


def quantity(value):
    """A Kubernetes quantity as a float in base units (cores, bytes, count)."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise SchedulabilityError(f"not a Kubernetes quantity: {value!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def _resources(requests):
    """{cpu (millicores), memory (MiB), nvidia.com/gpu} of a requests dict."""
    return {
        "cpu": quantity(requests.get("cpu", 0)) * 1000,
        "memory": quantity(requests.get("memory", 0)) / 2**20,
        GPU_RESOURCE: quantity(requests.get(GPU_RESOURCE, 0)),
    }


def container_requests(container):
    """Requests of a container; a limit without a request counts as the request (the API server defaults it)."""
    res = container.get("resources") or {}
    merged = dict(res.get("limits") or {})
    merged.update(res.get("requests") or {})
    return _resources(merged)


def pod_requests(spec):
    """Effective pod requests: the sum over containers, at least the largest init container."""
    total = {"cpu": 0.0, "memory": 0.0, GPU_RESOURCE: 0.0}
    for container in spec.get("containers") or []:
        for key, val in container_requests(container).items():
            total[key] += val
    for container in spec.get("initContainers") or []:
        for key, val in container_requests(container).items():
            total[key] = max(total[key], val)
    return total


# --- Node groups --------------------------------------------------------------------------------
def eks_max_pods(enis, ips_per_eni, vcpus):
    """The EKS max-pods formula (ENI limits), capped as nodeadm caps it."""
    eni_pods = enis * (ips_per_eni - 1) + 2
    return min(eni_pods, 110 if vcpus < 30 else 250)


def eks_kube_reserved_cpu_m(vcpus):
    """Millicores reserved for the kubelet and the runtime (6 %, 1 %, 0.5 % x 2, 0.25 % of the rest)."""
    reserved = 0.0
    for core in range(1, int(vcpus) + 1):
        reserved += 60 if core == 1 else 10 if core == 2 else 5 if core <= 4 else 2.5
    return reserved


def eks_kube_reserved_memory_mib(max_pods):
    return 11 * max_pods + 255


def instance_allocatable(info):
    """Capacity and allocatable of one node of an instance type, from its describe_instance_types entry."""
    try:
        vcpus = int(info["VCpuInfo"]["DefaultVCpus"])
        memory_mib = int(info["MemoryInfo"]["SizeInMiB"])
        enis = int(info["NetworkInfo"]["MaximumNetworkInterfaces"])
        ips = int(info["NetworkInfo"]["Ipv4AddressesPerInterface"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SchedulabilityError(
            f"instance type {info.get('InstanceType')!r}: incomplete description ({exc})"
        ) from exc
    gpus = sum(
        int(g.get("Count", 0))
        for g in (info.get("GpuInfo") or {}).get("Gpus") or []
        if str(g.get("Manufacturer", "")).upper() == "NVIDIA"
    )
    archs = (info.get("ProcessorInfo") or {}).get("SupportedArchitectures") or ["x86_64"]
    max_pods = eks_max_pods(enis, ips, vcpus)
    capacity_memory = math.floor(memory_mib * (1 - VM_MEMORY_OVERHEAD))
    return {
        "instance_type": info.get("InstanceType"),
        "arch": "arm64" if "arm64" in archs else "amd64",
        "capacity": {
            "cpu": vcpus * 1000.0,
            "memory": float(capacity_memory),
            GPU_RESOURCE: float(gpus),
            "pods": max_pods,
        },
        "allocatable": {
            "cpu": vcpus * 1000.0 - eks_kube_reserved_cpu_m(vcpus),
            "memory": float(capacity_memory - eks_kube_reserved_memory_mib(max_pods) - EVICTION_HARD_MEMORY_MIB),
            GPU_RESOURCE: float(gpus),
            "pods": max_pods,
        },
    }


_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def plan_nodegroups(nodegroups, type_infos):
    """Planned node groups with the labels a node carries and the smallest allocatable of its types."""
    planned = []
    for group in nodegroups:
        name = group.get("name")
        types = group.get("instance_types") or []
        if not name or not types:
            raise SchedulabilityError(f"node group {name!r}: a name and at least one instance type are needed")
        missing = [t for t in types if t not in type_infos]
        if missing:
            raise SchedulabilityError(f"node group {name}: no description of instance type(s) {', '.join(missing)}")
        nodes = [instance_allocatable(type_infos[t]) for t in types]
        # Any of the types may be launched: the proof holds for the smallest of each resource.
        alloc = {key: min(n["allocatable"][key] for n in nodes) for key in nodes[0]["allocatable"]}
        labels = {
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": nodes[0]["arch"],
            "eks.amazonaws.com/nodegroup": name,
            "eks.amazonaws.com/capacityType": str(group.get("capacity_type") or "ON_DEMAND").upper(),
        }
        if len(types) == 1:
            labels["node.kubernetes.io/instance-type"] = types[0]
        labels.update({str(k): str(v) for k, v in (group.get("labels") or {}).items()})
        taints = [
            {
                "key": t["key"],
                "value": str(t.get("value", "")),
                "effect": _EFFECTS.get(t.get("effect"), t.get("effect")),
            }
            for t in group.get("taints") or []
        ]
        planned.append(
            {
                "name": name,
                "instance_types": types,
                "max_size": int(group.get("max_size", 1)),
                "labels": labels,
                "taints": taints,
                "allocatable": alloc,
                "per_type": {n["instance_type"]: n["allocatable"] for n in nodes},
            }
        )
    return planned


# --- Manifests ----------------------------------------------------------------------------------
def load_documents(paths):
    """(file, document) of every non-empty YAML document of the files (or *.yaml/*.yml of directories)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith((".yaml", ".yml")))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise SchedulabilityError(f"no such manifest file or directory: {path}")
    docs = []
    for name in files:
        try:
            with open(name, encoding="utf-8") as handle:
                loaded = list(yaml.safe_load_all(handle))
        except (OSError, yaml.YAMLError) as exc:
            raise SchedulabilityError(f"{name}: cannot read YAML ({exc})") from exc
        for doc in loaded:
            if isinstance(doc, dict) and doc.get("kind") == "List":
                docs += [(name, item) for item in doc.get("items") or [] if isinstance(item, dict)]
            elif isinstance(doc, dict) and doc.get("kind"):
                docs.append((name, doc))
    return docs


def _ref(doc):
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind')} {meta.get('namespace') or 'default'}/{meta.get('name')}"


def _prometheus_pod(doc):
    """The pod the Prometheus operator builds from a Prometheus/Alertmanager resource."""
    spec = doc.get("spec") or {}
    main = {"name": doc["kind"].lower(), "resources": spec.get("resources") or {}}
    # The operator's config-reloader sidecar: 10m CPU / 50Mi by default (operator flags).
    reloader = {"name": "config-reloader", "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}}}
    return {
        "nodeSelector": spec.get("nodeSelector"),
        "tolerations": spec.get("tolerations"),
        "affinity": spec.get("affinity"),
        "containers": [main, reloader],
    }


def workloads_from(docs):
    """(workloads, claims, storage classes, HPAs, metric APIs, adapter metric names) of the documents."""
    workloads, claims, classes, hpas, apis, adapter_names = [], [], {}, [], set(), None
    for source, doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        ref = _ref(doc)
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            workloads.append(
                {
                    "ref": ref,
                    "kind": kind,
                    "name": doc["metadata"].get("name"),
                    "namespace": (doc.get("metadata") or {}).get("namespace") or "default",
                    "replicas": int(spec.get("replicas", 1)),
                    "pod": (spec.get("template") or {}).get("spec") or {},
                    "source": source,
                }
            )
            for claim in spec.get("volumeClaimTemplates") or []:
                claims.append(
                    {
                        "ref": f"{ref} volumeClaimTemplate {claim.get('metadata', {}).get('name')}",
                        "spec": claim.get("spec") or {},
                        "source": source,
                    }
                )
        elif kind == "DaemonSet":
            workloads.append(
                {
                    "ref": ref,
                    "kind": kind,
                    "name": doc["metadata"].get("name"),
                    "replicas": None,
                    "namespace": (doc.get("metadata") or {}).get("namespace") or "default",
                    "pod": (spec.get("template") or {}).get("spec") or {},
                    "source": source,
                }
            )
        elif kind in ("Job", "CronJob"):
            job = (spec.get("jobTemplate") or {}).get("spec") or {} if kind == "CronJob" else spec
            workloads.append(
                {
                    "ref": ref,
                    "kind": kind,
                    "name": doc["metadata"].get("name"),
                    "namespace": (doc.get("metadata") or {}).get("namespace") or "default",
                    "replicas": int(job.get("parallelism", 1)),
                    "pod": (job.get("template") or {}).get("spec") or {},
                    "source": source,
                }
            )
        elif kind in ("Prometheus", "Alertmanager") and str(doc.get("apiVersion", "")).startswith(
            "monitoring.coreos.com/"
        ):
            workloads.append(
                {
                    "ref": ref,
                    "kind": kind,
                    "name": doc["metadata"].get("name"),
                    "namespace": (doc.get("metadata") or {}).get("namespace") or "default",
                    "replicas": int(spec.get("replicas", 1)),
                    "pod": _prometheus_pod(doc),
                    "source": source,
                }
            )
            template = (spec.get("storage") or {}).get("volumeClaimTemplate") or {}
            if template:
                claims.append(
                    {"ref": f"{ref} storage.volumeClaimTemplate", "spec": template.get("spec") or {}, "source": source}
                )
        elif kind == "PersistentVolumeClaim":
            claims.append({"ref": ref, "spec": spec, "source": source})
        elif kind == "StorageClass":
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            classes[doc["metadata"]["name"]] = {
                "provisioner": doc.get("provisioner"),
                "default": str(annotations.get("storageclass.kubernetes.io/is-default-class", "")).lower() == "true",
            }
        elif kind == "HorizontalPodAutoscaler":
            hpas.append(
                {
                    "ref": ref,
                    "namespace": (doc.get("metadata") or {}).get("namespace") or "default",
                    "spec": spec,
                    "source": source,
                }
            )
        elif kind == "APIService":
            group = spec.get("group")
            if group:
                apis.add(group)
        elif kind == "ConfigMap" and "prometheus-adapter" in json.dumps(
            (doc.get("metadata") or {}).get("labels") or {}
        ):
            config = (doc.get("data") or {}).get("config.yaml")
            if config:
                adapter_names = (adapter_names or set()) | adapter_metric_names(yaml.safe_load(config) or {})
    return workloads, claims, classes, hpas, apis, adapter_names


def adapter_metric_names(config):
    """The custom metric names a prometheus-adapter configuration serves (its ``rules``)."""
    names = set()
    for rule in config.get("rules") or []:
        match = re.match(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", rule.get("seriesQuery", "").strip().strip("'\""))
        series = match.group(1) if match else ""
        naming = rule.get("name") or {}
        pattern, replacement = naming.get("matches", "^(.*)$"), naming.get("as", "")
        if not replacement:
            names.add(series)
            continue
        found = re.search(pattern, series)
        if found:
            names.add(re.sub(r"\$\{?(\d+)\}?", lambda m, found=found: found.group(int(m.group(1))) or "", replacement))
    return names


# --- Predicates ---------------------------------------------------------------------------------
def _expression_matches(expr, labels):
    key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        try:
            left, right = int(labels[key]), int(values[0])
        except (KeyError, IndexError, ValueError):
            return False
        return left > right if op == "Gt" else left < right
    raise SchedulabilityError(f"unknown node selector operator {op!r}")


def selector_problems(pod, labels):
    """Why a pod's nodeSelector / required node affinity rejects a node with these labels ([] = accepted)."""
    problems = [
        f"nodeSelector {k}={v} not on the group's nodes"
        for k, v in (pod.get("nodeSelector") or {}).items()
        if labels.get(k) != str(v)
    ]
    required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(
        all(_expression_matches(e, labels) for e in term.get("matchExpressions") or []) for term in terms
    ):
        problems.append("required node affinity matches no label set of the group")
    return problems


def _tolerates(toleration, taint):
    effect = toleration.get("effect")
    if effect and effect != taint["effect"]:
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return toleration.get("key") == taint["key"] and str(toleration.get("value", "")) == taint["value"]


def taint_problems(pod, taints):
    tolerations = pod.get("tolerations") or []
    return [
        f"taint {t['key']}={t['value']}:{t['effect']} not tolerated"
        for t in taints
        if t["effect"] in ("NoSchedule", "NoExecute") and not any(_tolerates(tol, t) for tol in tolerations)
    ]


def _fits(free, need):
    return all(free[k] + 1e-9 >= need[k] for k in ("cpu", "memory", GPU_RESOURCE)) and free["pods"] >= 1


def _fmt_res(res):
    out = [f"cpu {res['cpu']:.0f}m", f"memory {res['memory']:.0f}Mi"]
    if res.get(GPU_RESOURCE):
        out.append(f"GPU {res[GPU_RESOURCE]:.0f}")
    return ", ".join(out)


# --- The proof ----------------------------------------------------------------------------------
def prove(docs, nodegroups, storage_classes=None, provisioners=None, metric_apis=None):
    """The verdict on every workload, claim and HPA. Pure: no I/O, no clock."""
    workloads, claims, classes, hpas, apis, adapter_names = workloads_from(docs)
    classes = {**(storage_classes or {}), **classes}
    provisioners = set(provisioners or [])
    apis |= set(metric_apis or [])
    # HPAs scale their target up to maxReplicas: the proof must hold there.
    for hpa in hpas:
        target = hpa["spec"].get("scaleTargetRef") or {}
        for work in workloads:
            if (
                work["kind"] == target.get("kind")
                and work["name"] == target.get("name")
                and work["namespace"] == hpa["namespace"]
            ):
                work["replicas"] = max(work["replicas"] or 0, int(hpa["spec"].get("maxReplicas", 1)))

    results = []
    for work in workloads:
        work["requests"] = pod_requests(work["pod"])
        work["groups"], work["rejections"] = [], {}
        for group in nodegroups:
            reasons = selector_problems(work["pod"], group["labels"]) + taint_problems(work["pod"], group["taints"])
            if work["requests"][GPU_RESOURCE] > 0 and group["allocatable"][GPU_RESOURCE] <= 0:
                reasons.append("requests nvidia.com/gpu but the group's nodes have no NVIDIA GPU")
            if reasons:
                work["rejections"][group["name"]] = reasons
            else:
                work["groups"].append(group["name"])

    # Nodes at max size, less what the DaemonSets that land on each take.
    nodes = []
    for group in nodegroups:
        free = dict(group["allocatable"])
        for work in workloads:
            if work["kind"] == "DaemonSet" and group["name"] in work["groups"]:
                for key in ("cpu", "memory", GPU_RESOURCE):
                    free[key] -= work["requests"][key]
                free["pods"] -= 1
        group["free_after_daemonsets"] = dict(free)
        for index in range(group["max_size"]):
            nodes.append({"group": group["name"], "index": index, "free": dict(free)})
    for group in nodegroups:
        group["daemonsets"] = sorted(
            w["ref"] for w in workloads if w["kind"] == "DaemonSet" and group["name"] in w["groups"]
        )

    by_group = {g["name"]: g for g in nodegroups}
    for work in workloads:
        if work["kind"] != "DaemonSet" or not work["groups"]:
            continue
        short = [
            g
            for g in work["groups"]
            if by_group[g]["free_after_daemonsets"]["pods"] < 0
            or any(by_group[g]["free_after_daemonsets"][k] < -1e-9 for k in ("cpu", "memory", GPU_RESOURCE))
        ]
        for name in short:
            work["groups"].remove(name)
            work["rejections"][name] = [
                f"the DaemonSets on {name} together need more than one node has "
                f"({_fmt_res(by_group[name]['allocatable'])}, {by_group[name]['allocatable']['pods']} pods)"
            ]

    # First fit, biggest first, of every replica of every non-DaemonSet workload.
    placements = {}
    order = sorted(
        (w for w in workloads if w["kind"] != "DaemonSet"),
        key=lambda w: (-w["requests"][GPU_RESOURCE], -w["requests"]["cpu"], -w["requests"]["memory"], w["ref"]),
    )
    for work in order:
        placed = []
        for _replica in range(work["replicas"] or 0):
            node = next((n for n in nodes if n["group"] in work["groups"] and _fits(n["free"], work["requests"])), None)
            if node is None:
                break
            for key in ("cpu", "memory", GPU_RESOURCE):
                node["free"][key] -= work["requests"][key]
            node["free"]["pods"] -= 1
            placed.append(f"{node['group']}#{node['index']}")
        placements[work["ref"]] = placed

    for work in workloads:
        entry = {
            "workload": work["ref"],
            "source": work["source"],
            "replicas": work["replicas"],
            "requests": {k: round(v, 1) for k, v in work["requests"].items()},
            "groups": work["groups"],
            "rejections": work["rejections"],
            "fits": True,
            "why": "",
            "closest_group": None,
            "placed_on": placements.get(work["ref"], []),
        }
        if not work["groups"]:
            entry["fits"] = False
            closest = min(work["rejections"].items(), key=lambda kv: (len(kv[1]), kv[0]), default=(None, []))
            entry["closest_group"] = closest[0]
            entry["why"] = "; ".join(closest[1]) if closest[0] else "no node group is planned"
        elif work["kind"] != "DaemonSet" and len(entry["placed_on"]) < (work["replicas"] or 0):
            entry["fits"] = False
            entry["closest_group"] = work["groups"][0]
            entry["why"] = (
                f"only {len(entry['placed_on'])} of {work['replicas']} replicas fit beside the DaemonSets on "
                f"{', '.join(work['groups'])} at max size (each replica requests {_fmt_res(work['requests'])})"
            )
        results.append(entry)

    claim_results = []
    default_classes = [name for name, c in classes.items() if c.get("default")]
    for claim in claims:
        name = claim["spec"].get("storageClassName")
        entry = {"claim": claim["ref"], "source": claim["source"], "storage_class": name, "fits": True, "why": ""}
        if name == "":
            entry.update(fits=False, why='storageClassName "" needs a pre-created PersistentVolume; none is planned')
        elif name is None and not default_classes:
            entry.update(
                fits=False,
                why="no storageClassName and the cluster has no default StorageClass (EKS 1.30+ creates none)",
            )
        else:
            cls_name = name or default_classes[0]
            cls = classes.get(cls_name)
            provisioner = (cls or {}).get("provisioner")
            entry["storage_class"] = cls_name
            installed = provisioners | ({IN_TREE_EBS} if EBS_CSI in provisioners else set())
            if cls is None:
                entry.update(fits=False, why=f"StorageClass {cls_name} is neither rendered nor in the cluster")
            elif provisioner not in installed:
                entry.update(fits=False, why=f"StorageClass {cls_name}'s provisioner {provisioner} is not installed")
        claim_results.append(entry)

    hpa_results = []
    for hpa in hpas:
        for metric in hpa["spec"].get("metrics") or []:
            mtype = metric.get("type")
            body = metric.get(mtype[0].lower() + mtype[1:] if mtype else "", {}) or {}
            name = body.get("name") or (body.get("metric") or {}).get("name")
            api = METRIC_APIS.get(mtype)
            entry = {
                "hpa": hpa["ref"],
                "source": hpa["source"],
                "type": mtype,
                "metric": name,
                "api": api,
                "fits": True,
                "why": "",
            }
            if api is None:
                entry.update(fits=False, why=f"unknown metric type {mtype}")
            elif api not in apis:
                entry.update(fits=False, why=f"{mtype} metric {name} needs the {api} API and nothing serves it")
            elif api == "custom.metrics.k8s.io" and adapter_names is not None and name not in adapter_names:
                entry.update(
                    fits=False,
                    why=f"no prometheus-adapter rule produces {name} "
                    f"(it serves {', '.join(sorted(adapter_names)) or 'nothing'})",
                )
            hpa_results.append(entry)

    failures = [
        f"{r['workload']}: {r['why']} (closest group: {r['closest_group'] or 'none'})" for r in results if not r["fits"]
    ]
    failures += [f"PVC {c['claim']}: {c['why']}" for c in claim_results if not c["fits"]]
    failures += [f"HPA {h['hpa']}: {h['why']}" for h in hpa_results if not h["fits"]]
    return {
        "schedulable": not failures,
        "failures": failures,
        "workloads": results,
        "claims": claim_results,
        "hpas": hpa_results,
        "nodegroups": [
            {
                k: g[k]
                for k in (
                    "name",
                    "instance_types",
                    "max_size",
                    "labels",
                    "taints",
                    "allocatable",
                    "per_type",
                    "free_after_daemonsets",
                    "daemonsets",
                )
            }
            for g in nodegroups
        ],
        "counts": {
            "workloads": len(results),
            "unschedulable": sum(1 for r in results if not r["fits"]),
            "claims": len(claim_results),
            "hpas": len(hpa_results),
        },
    }


def describe_types(ec2, instance_types):
    """{type: describe_instance_types entry}; ``ec2`` is a boto3 client wrapped with AWSRetry."""
    wanted = sorted(set(instance_types))
    if not wanted:
        return {}
    try:
        pages = ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=wanted).build_full_result()
    except (BotoCoreError, ClientError) as exc:
        raise SchedulabilityError(f"describe_instance_types {', '.join(wanted)}: {exc}") from exc
    return {t["InstanceType"]: t for t in pages.get("InstanceTypes", [])}


def run(params, ec2, extra_docs=None, check_mode=False):
    """Load, describe, prove, and write the record (not in check mode).

    ``ec2`` is a boto3 EC2 client, or a callable returning one: it is only needed (and only created)
    for instance types that ``params["instance_type_info"]`` does not already describe.
    """
    docs = load_documents(params["manifests"]) + list(extra_docs or [])
    if params.get("eks_system_pods", True):
        docs = [("eks-system-pods", d) for d in eks_system_workloads()] + docs
    types = [t for g in params["nodegroups"] for t in g.get("instance_types") or []]
    known = {t["InstanceType"]: t for t in params.get("instance_type_info") or [] if t.get("InstanceType")}
    missing = [t for t in types if t not in known]
    if missing:
        known.update(describe_types(ec2() if callable(ec2) else ec2, missing))
    groups = plan_nodegroups(params["nodegroups"], known)
    classes = {
        c["name"]: {"provisioner": c.get("provisioner"), "default": bool(c.get("default"))}
        for c in params.get("storage_classes") or []
    }
    result = prove(docs, groups, classes, params.get("provisioners"), params.get("metric_apis"))
    dest = params.get("dest")
    if dest and not check_mode:
        text = json.dumps(result, indent=2, sort_keys=True) + "\n"
        try:
            write_atomic(dest, text)
        except OSError as exc:
            raise SchedulabilityError(f"cannot write {dest}: {exc}") from exc
    result["dest"] = dest
    return result
