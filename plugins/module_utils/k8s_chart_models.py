# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workloads of the upstream charts that cannot be templated offline, built from their values.

kube-prometheus-stack, the DCGM exporter, the AWS Load Balancer Controller and prometheus-adapter come
from chart repositories, which are not reachable on the local profile; only the values this collection
renders exist there. For the scheduling proof, what matters of each chart's workloads is their kind,
replica count, nodeSelector, tolerations, affinity, resources and volume claims, and each chart takes
those straight from a documented values key. This module maps those keys (with the chart's own
defaults where the values leave them unset) to the objects the chart would create: for example the
Prometheus resource that the operator turns into a StatefulSet, or the admission-webhook Jobs that run
as Helm hooks. Where a chart is rendered for real (``helm template`` on the aws profile), pass its
manifests to the proof instead.
"""

from __future__ import annotations

import copy

from ansible_collections.gpu_e2e.platform.plugins.module_utils.k8s_schedulability import SchedulabilityError


def _get(values, path, default=None):
    node = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return copy.deepcopy(default)
        node = node[key]
    return copy.deepcopy(node)


def _pod(values, prefix, containers, default_node_selector=None, default_tolerations=None):
    base = values if not prefix else (_get(values, prefix, {}) or {})
    return {
        "nodeSelector": base.get("nodeSelector", default_node_selector),
        "tolerations": base.get("tolerations", default_tolerations),
        "affinity": base.get("affinity"),
        "containers": containers,
    }


def _meta(name, namespace, labels=None):
    return {"name": name, "namespace": namespace, "labels": labels or {}}


def _operator_resource(kind, name, namespace, spec, storage_key):
    """A Prometheus or Alertmanager custom resource with the fields the scheduling proof reads."""
    body = {
        "replicas": spec.get("replicas", 1),
        "resources": spec.get("resources") or {},
        "nodeSelector": spec.get("nodeSelector"),
        "tolerations": spec.get("tolerations"),
        "affinity": spec.get("affinity"),
    }
    if spec.get(storage_key):
        body["storage"] = spec[storage_key]
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": kind, "metadata": _meta(name, namespace), "spec": body}


def _deployment(name, namespace, replicas, pod):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace),
        "spec": {"replicas": replicas, "template": {"spec": pod}},
    }


def kube_prometheus_stack(release, namespace, values):
    docs = []
    if _get(values, "prometheusOperator.enabled", True):
        docs.append(
            _deployment(
                f"{release}-operator",
                namespace,
                1,
                _pod(
                    values,
                    "prometheusOperator",
                    [{"name": "kube-prometheus-stack", "resources": _get(values, "prometheusOperator.resources", {})}],
                ),
            )
        )
        if _get(values, "prometheusOperator.admissionWebhooks.enabled", True) and _get(
            values, "prometheusOperator.admissionWebhooks.patch.enabled", True
        ):
            for job in ("create", "patch"):
                docs.append(
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "metadata": _meta(f"{release}-admission-{job}", namespace),
                        "spec": {
                            "template": {
                                "spec": _pod(
                                    values,
                                    "prometheusOperator.admissionWebhooks.patch",
                                    [
                                        {
                                            "name": job,
                                            "resources": _get(
                                                values, "prometheusOperator.admissionWebhooks.patch.resources", {}
                                            ),
                                        }
                                    ],
                                )
                            }
                        },
                    }
                )
    # The operator turns each custom resource into a StatefulSet; both take the same scheduling fields.
    operator_resources = (("Prometheus", "prometheus", "storageSpec"), ("Alertmanager", "alertmanager", "storage"))
    for kind, key, storage_key in operator_resources:
        if _get(values, f"{key}.enabled", True):
            docs.append(_operator_resource(kind, f"{release}-{key}", namespace,
                                           _get(values, f"{key}.{key}Spec", {}) or {}, storage_key))
    if _get(values, "grafana.enabled", True):
        containers = [{"name": "grafana", "resources": _get(values, "grafana.resources", {})}]
        for sidecar in ("dashboards", "datasources"):
            if _get(values, f"grafana.sidecar.{sidecar}.enabled", False):
                containers.append(
                    {"name": f"grafana-sc-{sidecar}", "resources": _get(values, "grafana.sidecar.resources", {})}
                )
        docs.append(
            _deployment(
                f"{release}-grafana",
                namespace,
                _get(values, "grafana.replicas", 1),
                _pod(values, "grafana", containers),
            )
        )
        if _get(values, "grafana.persistence.enabled", False):
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": _meta(f"{release}-grafana", namespace),
                    "spec": {"storageClassName": _get(values, "grafana.persistence.storageClassName")},
                }
            )
    if _get(values, "kubeStateMetrics.enabled", True):
        docs.append(
            _deployment(
                f"{release}-kube-state-metrics",
                namespace,
                _get(values, "kube-state-metrics.replicas", 1),
                _pod(
                    values,
                    "kube-state-metrics",
                    [{"name": "kube-state-metrics", "resources": _get(values, "kube-state-metrics.resources", {})}],
                ),
            )
        )
    if _get(values, "nodeExporter.enabled", True):
        # The node-exporter chart's defaults: linux nodes, tolerate every NoSchedule taint.
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": _meta(f"{release}-prometheus-node-exporter", namespace),
                "spec": {
                    "template": {
                        "spec": _pod(
                            values,
                            "prometheus-node-exporter",
                            [
                                {
                                    "name": "node-exporter",
                                    "resources": _get(values, "prometheus-node-exporter.resources", {}),
                                }
                            ],
                            default_node_selector={"kubernetes.io/os": "linux"},
                            default_tolerations=[{"effect": "NoSchedule", "operator": "Exists"}],
                        )
                    }
                },
            }
        )
    return docs


def dcgm_exporter(release, namespace, values):
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": _meta(release, namespace),
            "spec": {
                "template": {
                    "spec": _pod(values, "", [{"name": "exporter", "resources": values.get("resources") or {}}])
                }
            },
        }
    ]


def aws_load_balancer_controller(release, namespace, values):
    return [
        _deployment(
            release,
            namespace,
            values.get("replicaCount", 2),
            _pod(values, "", [{"name": "aws-load-balancer-controller", "resources": values.get("resources") or {}}]),
        )
    ]


def prometheus_adapter(release, namespace, values):
    docs = [
        _deployment(
            release,
            namespace,
            values.get("replicas", 1),
            _pod(values, "", [{"name": "prometheus-adapter", "resources": values.get("resources") or {}}]),
        )
    ]
    rules = values.get("rules") or {}
    default_rules = rules.get("default", True)
    if default_rules or rules.get("custom"):
        docs.append(
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
                "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta1"},
            }
        )
    if rules.get("external"):
        docs.append(
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
                "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1"},
            }
        )
    if rules.get("resource"):
        docs.append(
            {
                "apiVersion": "apiregistration.k8s.io/v1",
                "kind": "APIService",
                "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"group": "metrics.k8s.io", "version": "v1beta1"},
            }
        )
    if not default_rules:
        # Only the custom rules are served: the proof checks HPA metric names against them.
        import yaml

        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": _meta(release, namespace, {"app.kubernetes.io/name": "prometheus-adapter"}),
                "data": {"config.yaml": yaml.safe_dump({"rules": rules.get("custom") or []})},
            }
        )
    return docs


CHARTS = {
    "kube-prometheus-stack": kube_prometheus_stack,
    "dcgm-exporter": dcgm_exporter,
    "aws-load-balancer-controller": aws_load_balancer_controller,
    "prometheus-adapter": prometheus_adapter,
}


def chart_documents(chart, release, namespace, values):
    """The workload objects ``chart`` would create for ``values``."""
    builder = CHARTS.get(chart)
    if builder is None:
        raise SchedulabilityError(
            f"no workload model for chart {chart!r} (known: {', '.join(sorted(CHARTS))}); "
            "render it and pass its manifests instead"
        )
    docs = builder(release, namespace, values or {})
    for doc in docs:
        doc.setdefault("metadata", {}).setdefault("annotations", {})["gpu-e2e/modelled-from-values"] = chart
    return docs


def charts_documents(charts):
    """(source, document) of every chart entry: ``{chart, release, namespace, values_files?, values?}``."""
    import yaml

    out = []
    for entry in charts or []:
        values = {}
        for path in entry.get("values_files") or []:
            try:
                with open(path, encoding="utf-8") as handle:
                    loaded = yaml.safe_load(handle) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise SchedulabilityError(
                    f"chart {entry.get('chart')}: cannot read values file {path} ({exc})"
                ) from exc
            values = _merge(values, loaded)
        values = _merge(values, entry.get("values") or {})
        source = ", ".join(entry.get("values_files") or []) or f"{entry.get('chart')} values"
        for doc in chart_documents(
            entry.get("chart"), entry.get("release") or entry.get("chart"), entry.get("namespace") or "default", values
        ):
            out.append((f"{source} (modelled from the values of chart {entry.get('chart')})", doc))
    return out


def _merge(base, extra):
    """Helm's values merge: dicts merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, val in extra.items():
        if isinstance(val, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], val)
        else:
            merged[key] = copy.deepcopy(val)
    return merged
