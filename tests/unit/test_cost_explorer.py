"""The Cost Explorer audit: seeded answers, spot savings, the billing-lag flag, the run timeline."""
from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from aws_emulator_process import emulator_client, running_emulator
from ansible.module_utils.urls import open_url
from botocore.exceptions import ClientError

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils import cost_explorer as ce
from ansible_collections.gpu_e2e.platform.plugins.module_utils import emulator_cost_explorer_seed as emulator_seed
from ansible_collections.gpu_e2e.platform.plugins.module_utils.cost_timeline import timeline_from_run_dir

UTC = datetime.UTC
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run" / "gpu-e2e" / "20261122T060000Z"
TAGS = {"stack": "gpu-e2e", "project": "gpu-e2e-platform"}


def group(service, usage, usd, quantity):
    return {"Keys": [service, usage], "Metrics": {"UnblendedCost": {"Amount": str(usd), "Unit": "USD"},
                                                  "UsageQuantity": {"Amount": str(quantity), "Unit": "Hrs"}}}


def day(date, *groups):
    return {"TimePeriod": {"Start": date, "End": date}, "Total": {}, "Groups": list(groups), "Estimated": True}


SEEDED = [
    day("2026-11-20",
        group(ce.SERVICE_EC2, "SpotUsage:g4dn.xlarge", 1.05, 5.0),
        group(ce.SERVICE_EC2, "BoxUsage:t3.medium", 0.0832, 2.0),  # not a GPU: not in GPU hours
        group(ce.SERVICE_EC2_OTHER, "NatGateway-Hours", 0.225, 5.0),
        group(ce.SERVICE_EC2_OTHER, "NatGateway-Bytes", 0.01, 0.2)),
    day("2026-11-21",
        group(ce.SERVICE_EC2, "USE2-SpotUsage:g4dn.xlarge", 1.05, 5.0),
        group(ce.SERVICE_EC2, "BoxUsage:g4dn.xlarge", 0.526, 1.0),
        group(ce.SERVICE_EC2_OTHER, "USE2-NatGateway-Hours", 0.225, 5.0),
        group(ce.SERVICE_EKS, "USE1-AmazonEKS-Hours:perCluster", 1.0, 10.0)),
]


class FakeCE:
    """get_cost_and_usage answering seeded pages (split in two by NextPageToken), like the wrapped client."""

    def __init__(self, pages, tag_error=True):
        self.pages = pages
        self.requests = []
        self.tag_error = tag_error

    def get_cost_and_usage(self, aws_retry=False, **kwargs):
        self.requests.append(kwargs)
        index = int(kwargs.get("NextPageToken", 0))
        answer = {"ResultsByTime": self.pages[index]}
        if index + 1 < len(self.pages):
            answer["NextPageToken"] = str(index + 1)
        return answer

    def list_cost_allocation_tags(self, aws_retry=False, **kwargs):
        if self.tag_error:
            raise ClientError({"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                              "ListCostAllocationTags")
        return {"CostAllocationTags": [{"TagKey": "stack", "Status": "Active"}]}


class FakePricing:
    def __init__(self, price=None):
        self.price = price
        self.calls = 0

    def get_products(self, aws_retry=False, **kwargs):
        self.calls += 1
        if self.price is None:
            raise ClientError({"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                              "GetProducts")
        product = {"terms": {"OnDemand": {"X": {"priceDimensions": {"Y": {"pricePerUnit": {"USD": str(self.price)}}}}}}}
        return {"PriceList": [json.dumps(product)]}


def audit_with(pages, price=None, start="2026-11-20T00:00:00Z", end="2026-11-21T12:00:00Z", now=None, **params):
    fake_ce, fake_pricing = FakeCE(pages), FakePricing(price)
    clients = {"ce": fake_ce, "pricing": fake_pricing}
    result = ce.audit(lambda service, region=None: clients[service],
                      dict({"tags": TAGS, "start": start, "end": end}, **params),
                      now=now or datetime.datetime(2026, 11, 23, 0, 0, tzinfo=UTC))
    return result, fake_ce, fake_pricing


def test_usage_types_are_classified_with_and_without_region_prefix():
    assert ce.classify_usage_type("SpotUsage:g4dn.xlarge") == ("instance", "spot", "g4dn.xlarge")
    assert ce.classify_usage_type("USE2-BoxUsage:g5.2xlarge") == ("instance", "on_demand", "g5.2xlarge")
    assert ce.classify_usage_type("EUC1-NatGateway-Hours") == ("nat_gateway_hours",)
    assert ce.classify_usage_type("NatGateway-Bytes") is None
    assert ce.classify_usage_type("USE1-AmazonEKS-Hours:perCluster") == ("eks",)
    assert ce.classify_usage_type("EBS:VolumeUsage.gp3") is None


def test_billed_totals_gpu_hours_and_nat_hours_come_from_the_seeded_answer():
    result, fake_ce, _pricing = audit_with([SEEDED[:1], SEEDED[1:]])

    billed = result["billed"]
    assert len(fake_ce.requests) == 2  # followed NextPageToken
    assert billed["total_usd"] == pytest.approx(1.05 + 0.0832 + 0.225 + 0.01 + 1.05 + 0.526 + 0.225 + 1.0)
    assert billed["gpu_hours"] == {"spot": 10.0, "on_demand": 1.0, "total": 11.0}
    assert billed["nat_gateway_hours"] == pytest.approx(10.0)
    assert billed["by_service"][ce.SERVICE_EKS] == pytest.approx(1.0)
    request = fake_ce.requests[0]
    assert request["TimePeriod"] == {"Start": "2026-11-20", "End": "2026-11-22"}
    assert request["Filter"] == {"And": [
        {"Tags": {"Key": "project", "Values": ["gpu-e2e-platform"], "MatchOptions": ["EQUALS"]}},
        {"Tags": {"Key": "stack", "Values": ["gpu-e2e"], "MatchOptions": ["EQUALS"]}}]}


def test_spot_savings_use_the_fallback_price_when_the_pricing_api_fails():
    result, _ce, pricing = audit_with([SEEDED])

    assert pricing.calls == 1
    assert result["on_demand_prices"]["g4dn.xlarge"]["usd_per_hour"] == 0.526
    assert "fallback table (Pricing API failed: InternalFailure (HTTP 500))" == \
        result["on_demand_prices"]["g4dn.xlarge"]["source"]
    # on-demand price x spot hours - spot cost = 0.526 x 10 - 2.10
    assert result["billed"]["spot_savings_usd"] == pytest.approx(0.526 * 10 - 2.10)


def test_spot_savings_use_the_pricing_api_price_when_it_answers():
    result, _ce, _pricing = audit_with([SEEDED], price=0.6)

    assert result["on_demand_prices"]["g4dn.xlarge"] == {"usd_per_hour": 0.6, "source": "Pricing API"}
    assert result["billed"]["spot_savings_usd"] == pytest.approx(0.6 * 10 - 2.10)


def test_billed_figures_are_incomplete_while_the_window_is_newer_than_the_lag():
    end = "2026-11-21T12:00:00Z"
    recent, _ce, _p = audit_with([SEEDED], end=end, now=datetime.datetime(2026, 11, 21, 20, 0, tzinfo=UTC))
    settled, _ce, _p = audit_with([SEEDED], end=end, now=datetime.datetime(2026, 11, 22, 12, 30, tzinfo=UTC))
    shorter, _ce, _p = audit_with([SEEDED], end=end, now=datetime.datetime(2026, 11, 21, 20, 0, tzinfo=UTC),
                                  lag_hours=6)

    assert recent["billed"]["complete"] is False
    assert recent["billed"]["note"].startswith("INCOMPLETE")
    assert recent["billed"]["complete_after"] == "2026-11-22T12:00:00Z"
    assert settled["billed"]["complete"] is True
    assert shorter["billed"]["complete"] is True


def test_the_estimate_prices_the_timeline():
    timeline = [
        {"resource": "instance", "instance_type": "g4dn.xlarge", "capacity": "spot", "count": 2,
         "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T10:00:00Z"},
        {"resource": "nat_gateway", "start": "2026-11-20T00:00:00Z", "end": "2026-11-20T10:00:00Z"},
        {"resource": "eks_cluster"},  # the whole window
    ]
    result, _ce, _p = audit_with([SEEDED], timeline=timeline, start="2026-11-20T00:00:00Z",
                                 end="2026-11-20T12:00:00Z")

    est = result["estimated"]
    assert est["gpu_hours"] == {"spot": 20.0, "on_demand": 0.0, "total": 20.0}
    assert est["nat_gateway_hours"] == 10.0
    assert est["total_usd"] == pytest.approx(20 * 0.2104 + 10 * 0.045 + 12 * 0.10)
    assert est["spot_savings_usd"] == pytest.approx(20 * (0.526 - 0.2104))


def test_bad_inputs_raise_the_one_error_type():
    with pytest.raises(ce.CostExplorerError, match="resource must be one of"):
        audit_with([SEEDED], timeline=[{"resource": "dragon"}])
    with pytest.raises(ce.CostExplorerError, match="before it starts"):
        audit_with([SEEDED], start="2026-11-21T00:00:00Z", end="2026-11-20T00:00:00Z")
    with pytest.raises(ce.CostExplorerError, match="at least one tag"):
        audit_with([SEEDED], tags={"stack": ""})


def test_the_seed_bills_exactly_the_timeline_across_midnight():
    start = ce.parse_time("2026-11-20T22:00:00Z")
    end = ce.parse_time("2026-11-21T02:00:00Z")
    entries = [ce.normalize_entry(e, start, end) for e in (
        {"resource": "instance", "instance_type": "g4dn.xlarge", "capacity": "spot"},
        {"resource": "nat_gateway"}, {"resource": "public_ipv4"})]
    prices = aws_prices.default_table()

    seed = emulator_seed.seed_results(entries, start, end, prices)
    billed = ce.summarize_billed(seed["ResultsByTime"])

    assert [p["TimePeriod"]["Start"] for p in seed["ResultsByTime"]] == ["2026-11-20", "2026-11-21"]
    assert billed["total_usd"] == pytest.approx(ce.estimate(entries, prices)["total_usd"], abs=1e-4)
    assert billed["gpu_hours"]["spot"] == pytest.approx(4.0)
    assert billed["nat_gateway_hours"] == pytest.approx(4.0)


def test_the_timeline_is_read_from_the_run_directory():
    found = timeline_from_run_dir(str(FIXTURE))

    assert found["window"]["start"] == "2026-11-22T06:00:00Z"
    assert found["window"]["end"] == "2026-11-22T08:15:00Z"  # leftovers.json checked_at
    kinds = sorted((e["resource"], e["capacity"], e["instance_type"]) for e in found["timeline"])
    assert kinds == [("eks_cluster", "on_demand", ""), ("instance", "spot", "g4dn.xlarge"),
                     ("nat_gateway", "on_demand", ""), ("public_ipv4", "on_demand", "")]
    gpu = next(e for e in found["timeline"] if e["resource"] == "instance")
    assert gpu["start"] == "2026-11-22T06:10:00Z"
    assert found["records"] == ["aws/eks.json", "aws/gpu_nodegroup.json", "aws/vpc.json"]


def test_a_partial_run_has_a_partial_timeline(tmp_path):
    run = tmp_path / "20261122T060000Z"
    (run / "aws").mkdir(parents=True)
    shutil.copy(FIXTURE / "aws" / "vpc.json", run / "aws" / "vpc.json")

    found = timeline_from_run_dir(str(run), end="2026-11-22T07:00:00Z")

    assert sorted(e["resource"] for e in found["timeline"]) == ["nat_gateway", "public_ipv4"]
    with pytest.raises(ce.CostExplorerError, match="does not exist"):
        timeline_from_run_dir(str(tmp_path / "missing"))


# -- the whole path against the real emulator ----------------------------------
@pytest.fixture(scope="module")
def emulator():
    with running_emulator({"MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}) as url:
        yield url


def test_the_seeded_emulator_answers_the_audit(emulator):
    found = timeline_from_run_dir(str(FIXTURE))
    window = found["window"]
    seeded = emulator_seed.seed({"run_dir": str(FIXTURE), "emulator_url": emulator, "end": window["end"]}, open_url)
    assert seeded["changed"]
    assert (seeded["window"]["start"], seeded["window"]["end"]) == (window["start"], window["end"])

    def client(service, region=None):
        return RetryingBotoClientWrapper(emulator_client(emulator, service, region),
                                         AWSRetry.jittered_backoff(retries=1))

    result = ce.audit(client, {"tags": TAGS, "start": window["start"], "end": window["end"],
                               "timeline": found["timeline"], "check_cost_allocation_tags": False})

    assert result["billed"]["total_usd"] == pytest.approx(result["estimated"]["total_usd"], abs=1e-3)
    assert result["billed"]["gpu_hours"]["spot"] == pytest.approx(result["estimated"]["gpu_hours"]["spot"], abs=1e-3)
    assert result["billed"]["spot_savings_usd"] > 0
    assert result["on_demand_prices"]["g4dn.xlarge"]["source"].startswith("fallback table (Pricing API failed")


def test_the_seed_goes_only_to_the_emulator_on_loopback():
    """Seeding is emulator-only: an AWS endpoint or any other host is refused before anything is read or posted."""
    posted = []
    for url in ("https://ce.us-east-1.amazonaws.com", "http://10.0.0.5:5055", "", "ftp://127.0.0.1:5055"):
        with pytest.raises(ce.CostExplorerError, match="emulator_url must be"):
            emulator_seed.seed({"run_dir": str(FIXTURE), "emulator_url": url}, lambda *a, **k: posted.append(a))
    assert posted == []


def test_the_seed_posts_one_answer_and_nothing_in_check_mode():
    posted = []

    def opener(url, data=None, method=None, headers=None, timeout=None):
        posted.append((url, method, json.loads(data)))

    params = {"run_dir": str(FIXTURE), "emulator_url": "http://127.0.0.1:5055/"}
    dry = emulator_seed.seed(params, opener, check_mode=True)
    assert posted == [] and dry["ce_seed"]["ResultsByTime"]
    result = emulator_seed.seed(params, opener)
    assert posted == [("http://127.0.0.1:5055/moto-api/static/ce/cost-and-usage-results", "POST",
                       {"results": [result["ce_seed"]]})]
    assert result["url"] == posted[0][0]
