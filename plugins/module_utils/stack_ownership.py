# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Proof that a resource is this stack's: the evidence a leftover record carries.

Exact only: the tag ``stack=<stack_name>``; an id, ARN or name recorded by a
run of the stack; or a tag a cluster controller sets (VPC CNI, EBS CSI, load
balancer controller, EKS) naming a cluster that is itself proven to be this
stack's. A name prefix is never evidence.
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory as inv

# Tags the cluster's controllers put on what they create: key template -> required value (None: the cluster name).
CLUSTER_TAGS = (
    ("kubernetes.io/cluster/{cluster}", ("owned",)),
    ("elbv2.k8s.aws/cluster", None),
    ("eks:cluster-name", None),
    ("aws:eks:cluster-name", None),
    ("cluster.k8s.amazonaws.com/name", None),  # VPC CNI interfaces
    ("KubernetesCluster", None),  # EBS CSI driver volumes (with k8sTagClusterId)
)


class Ownership:
    def __init__(self, stack_name, records, clusters=()):
        self.stack = stack_name
        self.records = records
        self.clusters = set(clusters)  # clusters proven to be the stack's

    def add_cluster(self, name):
        self.clusters.add(name)

    def evidence(self, tags, *ids):
        """``{"by": ..., "detail": ...}`` or None."""
        tags = tags or {}
        if tags.get("stack") == self.stack:
            return {"by": inv.BY_TAG, "detail": f"tagged stack={self.stack}"}
        recorded = self.records.has(*ids)
        if recorded:
            return {"by": inv.BY_RECORD, "detail": f"{recorded} recorded by a run of the stack"}
        for cluster in sorted(self.clusters):
            for template, values in CLUSTER_TAGS:
                key = template.format(cluster=cluster)
                if key in tags and tags[key] in (values or (cluster,)):
                    return {"by": inv.BY_CLUSTER_TAG, "detail": f"tagged {key}={tags[key]} (stack cluster)"}
        return None

    def recorded_name(self, kind, name):
        if self.records.has_name(kind, name):
            return {"by": inv.BY_RECORD, "detail": f"name {name} recorded by a run of the stack"}
        return None

    @staticmethod
    def of_cluster(cluster, what):
        return {"by": inv.BY_CLUSTER, "detail": f"{what} of stack cluster {cluster}"}
