"""The embedded AWS emulator of the local profile: moto server plus the fixes it needs.

Started by the bootstrap role (gpu_e2e.platform.local_process) on 127.0.0.1.
Every fix below is a known moto 5.2.5 fault that would otherwise make a second
`ansible-playbook site.yml` report changes, or make a preflight meaningless.
They are applied in-process before the server starts; nothing in site-packages
is edited. Each fix is small, named after the fault, and checked by
tests/unit/test_aws_emulator.py.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

# Realistic spot prices (USD/hour) so the spot preflight has something to judge.
# Override with a JSON file {"g4dn.xlarge": 0.21, ...} named by
# GPU_E2E_EMULATOR_SPOT_PRICES, e.g. to reproduce "price above the cap".
DEFAULT_SPOT_PRICES = {
    "g4dn.xlarge": 0.2104,
    "g4dn.2xlarge": 0.3010,
    "g5.xlarge": 0.4124,
    "g6.xlarge": 0.3712,
}
DEFAULT_UNKNOWN_PRICE = 0.1


def fix_nat_gateway_resource_type() -> None:
    """NAT gateway tags are reported as resource type `nat-gateway`; AWS says `natgateway`.

    amazon.aws filters describe_tags by resource type `natgateway`, finds nothing
    and re-tags the NAT gateway on every run.
    """
    from moto.ec2 import utils as ec2_utils

    ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"  # same dict object as in moto.ec2.models.tags


def fix_nodegroup_update_config() -> None:
    """create_nodegroup leaves `updateConfig` unset; AWS defaults it to maxUnavailable=1.

    community.aws.eks_nodegroup compares it on the second run and crashes on None.
    """
    from moto.eks import models as eks_models

    original_init = eks_models.Nodegroup.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if not self.update_config:
            self.update_config = {"maxUnavailable": 1}

    eks_models.Nodegroup.__init__ = __init__


def fix_nodegroup_tagging() -> None:
    """ListTagsForResource/TagResource/UntagResource accept only cluster ARNs; AWS also takes nodegroup ARNs."""
    from moto.eks import models as eks_models

    backend = eks_models.EKSBackend

    def find_nodegroup(self, arn):
        for cluster in self.clusters.values():
            for nodegroup in cluster.nodegroups.values():
                if nodegroup.arn == arn:
                    return nodegroup
        return None

    def wrap(name, on_nodegroup):
        original = getattr(backend, name)

        def method(self, resource_arn, *args, **kwargs):
            nodegroup = find_nodegroup(self, resource_arn)
            if nodegroup is None:
                return original(self, resource_arn, *args, **kwargs)
            return on_nodegroup(nodegroup, *args, **kwargs)

        setattr(backend, name, method)

    def list_tags(nodegroup):
        return nodegroup.tags

    def tag(nodegroup, tags):
        nodegroup.tags.update(tags)

    def untag(nodegroup, tag_keys):
        # A single ?tagKeys=k arrives as a plain string.
        for key in [tag_keys] if isinstance(tag_keys, str) else tag_keys or []:
            nodegroup.tags.pop(key, None)

    wrap("list_tags_for_resource", list_tags)
    wrap("tag_resource", tag)
    wrap("untag_resource", untag)


def load_spot_prices() -> dict:
    path = os.environ.get("GPU_E2E_EMULATOR_SPOT_PRICES")
    if not path:
        return dict(DEFAULT_SPOT_PRICES)
    with open(path, encoding="utf-8") as handle:
        prices = json.load(handle)
    return {str(k): float(v) for k, v in prices.items()}


def fix_spot_price_history(prices: dict) -> None:
    """Every spot price is 0.00001 with a 2006 timestamp; answer with a price table and a current timestamp."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses import spot_instances

    def describe_spot_price_history(self):
        instance_types = self._get_param("InstanceTypes", [])
        offerings = self.ec2_backend.describe_spot_price_history(instance_types, self._filters_from_querystring())
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        history = [
            {
                "InstanceType": o["InstanceType"],
                "ProductDescription": "Linux/UNIX (Amazon VPC)",
                "SpotPrice": f"{prices.get(o['InstanceType'], DEFAULT_UNKNOWN_PRICE):.6f}",
                "AvailabilityZone": o["Location"],
                "Timestamp": now,
            }
            for o in offerings
        ]
        return ActionResult({"SpotPriceHistory": history})

    spot_instances.SpotInstances.describe_spot_price_history = describe_spot_price_history


def fix_budgets_subscribers_and_update() -> None:
    """Budgets DescribeSubscribersForNotification and UpdateBudget answer 500 (not implemented).

    moto stores each notification's subscribers but cannot return them, and cannot change a
    budget in place; gpu_e2e.platform.aws_budget needs both to be idempotent, as on AWS.
    """
    from moto.budgets.exceptions import NotFoundException
    from moto.budgets.responses import BudgetsResponse
    from moto.core.utils import unix_time

    def find_budget(self, name):
        budget = self.backend.budgets[self._get_param("AccountId")].get(name)
        if budget is None:
            raise NotFoundException(f"Unable to get budget: {name} - the budget doesn't exist.")
        return budget

    def key(notification):  # how AWS identifies a notification
        return (notification.get("NotificationType"), notification.get("ComparisonOperator"),
                float(notification.get("Threshold", 0)), notification.get("ThresholdType", "PERCENTAGE"))

    def describe_subscribers_for_notification(self):
        budget = find_budget(self, self._get_param("BudgetName"))
        wanted = key(self._get_param("Notification"))
        for notification in budget.notifications:
            if key(notification.details) == wanted:
                return json.dumps({"Subscribers": notification.subscribers})
        raise NotFoundException("Unable to find the notification of the budget.")

    def update_budget(self):
        new_budget = self._get_param("NewBudget")
        budget = find_budget(self, new_budget["BudgetName"])
        new_budget.setdefault("TimePeriod", budget.budget["TimePeriod"])
        new_budget["LastUpdatedTime"] = unix_time()
        budget.budget = new_budget
        return json.dumps({})

    BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification
    BudgetsResponse.update_budget = update_budget


def fix_eks_update_cluster_config() -> None:
    """UpdateClusterConfig replaces the whole resourcesVpcConfig and answers with the cluster, not an update.

    AWS merges the endpoint-access fields into the cluster's VPC config (subnets stay) and answers
    {"update": {...}}; gpu_e2e.platform.eks_cluster_config needs both to converge and re-run with no change.
    The update is reported Successful at once (nothing to wait for in the emulator).
    """
    import uuid

    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.eks.responses import EKSResponse

    def update_cluster_config(self):
        name = self._get_param("name")
        cluster = self.eks_backend.describe_cluster(name=name)
        vpc_config = self._get_param("resourcesVpcConfig")
        logging = self._get_param("logging")
        params = []
        if vpc_config:
            cluster.resources_vpc_config = dict(cluster.resources_vpc_config or {}, **vpc_config)
            params = [{"type": key, "value": json.dumps(value)} for key, value in sorted(vpc_config.items())]
        if logging:
            cluster.logging = logging
            params.append({"type": "ClusterLogging", "value": json.dumps(logging)})
        update = {"id": str(uuid.uuid4()), "status": "Successful",
                  "type": "EndpointAccessUpdate" if vpc_config else "LoggingUpdate",
                  "params": params, "createdAt": utcnow(), "errors": []}
        return ActionResult({"update": update})

    EKSResponse.update_cluster_config = update_cluster_config


def inject_faults(spec: str | None = None) -> dict:
    """Fault injection for tests only: GPU_E2E_EMULATOR_FAULTS='{"delete_subnet": 1}'.

    Maps an EC2 backend method that deletes something (delete_subnet, delete_vpc) to how many of its first
    calls answer DependencyViolation, as AWS does while EKS still holds ENIs in the subnet. -1: every call.
    Unset (every real run): nothing is patched.
    """
    spec = os.environ.get("GPU_E2E_EMULATOR_FAULTS", "") if spec is None else spec
    faults = {str(k): int(v) for k, v in (json.loads(spec) if spec else {}).items()}
    if not faults:
        return {}
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend

    left = dict(faults)
    for name in faults:
        if name not in ("delete_subnet", "delete_vpc"):
            raise SystemExit(f"GPU_E2E_EMULATOR_FAULTS: cannot inject a fault into {name!r}")
        original = getattr(EC2Backend, name)

        def failing(self, resource_id, *args, _name=name, _original=original, **kwargs):
            if left[_name] != 0:
                left[_name] -= 1 if left[_name] > 0 else 0
                raise DependencyViolationError(
                    f"The {_name.split('_', 1)[1]} '{resource_id}' has dependencies and cannot be deleted.")
            return _original(self, resource_id, *args, **kwargs)

        setattr(EC2Backend, name, failing)
    return faults


def apply_fixes() -> None:
    fix_nat_gateway_resource_type()
    fix_nodegroup_update_config()
    fix_nodegroup_tagging()
    fix_spot_price_history(load_spot_prices())
    fix_budgets_subscribers_and_update()
    fix_eks_update_cluster_config()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Embedded AWS emulator (moto server with fixes).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the emulator binds to loopback only")
    # IAM managed policies (AmazonEKSWorkerNodePolicy, ...) must be attachable.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    apply_fixes()
    inject_faults()
    from moto.server import main as moto_main

    moto_main(["-H", args.host, "-p", str(args.port)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
