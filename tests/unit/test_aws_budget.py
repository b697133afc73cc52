"""gpu_e2e.platform.aws_budget: pure logic, a fake client shaped like real AWS, and the module end to end
against the embedded emulator (roles/bootstrap/files/aws_emulator.py) on a free loopback port."""
from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest
from ansible.module_utils.testing import patch_module_args
from aws_emulator_process import emulator_client, free_port, running_emulator

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_budget as ab
from ansible_collections.gpu_e2e.platform.plugins.modules import aws_budget as module

ACCOUNT = "123456789012"  # moto's default account


def params(**overrides):
    base = {
        "name": "gpu-e2e-monthly",
        "limit_usd": 5.0,
        "threshold_pct": 80.0,
        "email": "ops@example.com",
        "cost_filters_tags": {"stack": "gpu-e2e"},
        "time_unit": "MONTHLY",
        "state": "present",
    }
    base.update(overrides)
    return base


# --- pure logic ------------------------------------------------------------------------------


def test_tag_filters_use_the_user_cost_allocation_tag_syntax():
    assert ab.tag_cost_filters({"stack": "gpu-e2e", "owner": "team"}) == {
        "TagKeyValue": ["user:owner$team", "user:stack$gpu-e2e"]
    }
    assert ab.tag_cost_filters({}) == {} and ab.tag_cost_filters(None) == {}
    assert ab.tags_from_cost_filters(ab.tag_cost_filters({"stack": "gpu-e2e"})) == {"stack": "gpu-e2e"}


def test_desired_budget_is_a_cost_budget_with_a_usd_limit_in_cents():
    budget = ab.desired_budget(params(limit_usd=12.345, cost_filters_tags=None))
    assert budget == {
        "BudgetName": "gpu-e2e-monthly",
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": "12.35", "Unit": "USD"},
    }


def test_aws_spelling_of_the_same_budget_is_no_difference():
    desired = ab.desired_budget(params())
    as_aws_returns_it = dict(
        desired,
        BudgetLimit={"Amount": "5.0", "Unit": "USD"},
        CostFilters={"TagKeyValue": ["user:stack$gpu-e2e"]},
        CostTypes={"IncludeTax": True},
        CalculatedSpend={"ActualSpend": {"Amount": "1.2", "Unit": "USD"}},
    )
    assert ab.budget_differences(as_aws_returns_it, desired) == []
    changed = dict(as_aws_returns_it, BudgetLimit={"Amount": "6", "Unit": "USD"}, TimeUnit="DAILY", CostFilters={})
    assert ab.budget_differences(changed, desired) == ["limit_usd", "time_unit", "cost_filters_tags"]


def test_update_keeps_unmanaged_settings_and_drops_computed_ones():
    current = {
        "BudgetName": "b", "BudgetType": "COST", "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": "5.0", "Unit": "USD"},
        "CostTypes": {"IncludeTax": False},
        "TimePeriod": {"Start": 1, "End": 2},
        "CalculatedSpend": {}, "LastUpdatedTime": 3, "HealthStatus": {"Status": "HEALTHY"},
        "CostFilters": {"Service": ["Amazon EC2"]},
    }
    desired = ab.desired_budget(params(name="b", limit_usd=9, cost_filters_tags=None))
    new = ab.updated_budget(current, desired)
    assert new["CostTypes"] == {"IncludeTax": False} and new["TimePeriod"] == {"Start": 1, "End": 2}
    assert new["BudgetLimit"] == {"Amount": "9.00", "Unit": "USD"}
    assert not {"CalculatedSpend", "LastUpdatedTime", "HealthStatus", "CostFilters"} & set(new)
    assert "TimePeriod" not in ab.updated_budget(current, dict(desired, TimeUnit="DAILY"))


def test_notifications_are_identified_like_aws_does():
    desired = ab.desired_notification(params())
    assert ab.same_notification(dict(desired, Threshold=80, NotificationState="ALARM"), desired)
    assert not ab.same_notification(dict(desired, Threshold=90.0), desired)
    assert not ab.same_notification(dict(desired, NotificationType="FORECASTED"), desired)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": "bad:name"}, "without ':'"),
        ({"limit_usd": 0.0}, "limit_usd must be greater than 0"),
        ({"threshold_pct": -1.0}, "threshold_pct must be greater than 0"),
        ({"email": "not-an-address"}, "is not an email address"),
        ({"cost_filters_tags": {"stack": "a$b"}}, "may not be empty or contain '$'"),
    ],
)
def test_invalid_inputs_are_refused_before_any_call(overrides, message):
    with pytest.raises(ab.AwsBudgetError, match=message.replace("$", r"\$")):
        ab.ensure(lambda service: pytest.fail(f"called {service}"), params(**overrides), check_mode=False)


# --- a fake client shaped like real AWS answers ----------------------------------------------


class FakeAws:
    """Budgets + STS answering the way AWS does (amounts as '5.0', NotificationState), recording writes."""

    def __init__(self, budget=None, notifications=()):
        self.budget = budget
        self.notifications = list(notifications)  # (notification, subscribers)
        self.writes = []

    def __call__(self, service):
        return self

    def get_caller_identity(self, aws_retry):
        return {"Account": "111122223333"}

    def describe_budget(self, AccountId, BudgetName, aws_retry):
        assert AccountId == "111122223333"
        if self.budget is None:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "NotFoundException", "Message": "not found"}}, "DescribeBudget")
        return {"Budget": self.budget}

    def describe_notifications_for_budget(self, AccountId, BudgetName, aws_retry, MaxResults, NextToken=None):
        return {"Notifications": [n for n, _subs in self.notifications]}

    def describe_subscribers_for_notification(self, AccountId, BudgetName, Notification, aws_retry, MaxResults):
        return {"Subscribers": next(s for n, s in self.notifications if n is Notification)}

    def __getattr__(self, name):  # every write operation
        def write(**kwargs):
            self.writes.append(name)
            return {}

        return write


def aws_shaped_budget():
    return {
        "BudgetName": "gpu-e2e-monthly",
        "BudgetLimit": {"Amount": "5.0", "Unit": "USD"},
        "CostFilters": {"TagKeyValue": ["user:stack$gpu-e2e"]},
        "CostTypes": {"IncludeTax": True},
        "TimeUnit": "MONTHLY",
        "TimePeriod": {"Start": 0, "End": 1},
        "CalculatedSpend": {"ActualSpend": {"Amount": "0.42", "Unit": "USD"}},
        "BudgetType": "COST",
        "LastUpdatedTime": 0,
    }


def aws_shaped_notification(threshold=80.0):
    return {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": threshold,
            "ThresholdType": "PERCENTAGE", "NotificationState": "OK"}


def test_an_unchanged_budget_on_aws_makes_no_write_call():
    fake = FakeAws(aws_shaped_budget(),
                   [(aws_shaped_notification(), [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}])])
    result = ab.ensure(fake, params(), check_mode=False)
    assert result["changed"] is False and result["actions"] == [] and fake.writes == []
    assert result["budget"] == {"name": "gpu-e2e-monthly", "limit_usd": 5.0, "threshold_pct": 80.0,
                                "email": "ops@example.com", "time_unit": "MONTHLY",
                                "cost_filters_tags": {"stack": "gpu-e2e"}}


def test_a_second_subscriber_is_replaced_by_recreating_the_notification():
    subscribers = [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"},
                   {"SubscriptionType": "SNS", "Address": "arn:aws:sns:us-east-1:111122223333:t"}]
    fake = FakeAws(aws_shaped_budget(), [(aws_shaped_notification(), subscribers)])
    assert ab.ensure(fake, params(), check_mode=True)["changed"] is True
    assert fake.writes == []  # check mode
    ab.ensure(fake, params(), check_mode=False)
    assert fake.writes == ["delete_notification", "create_notification"]


# --- the module against the embedded emulator ------------------------------------------------


@pytest.fixture(scope="module")
def endpoint():
    with running_emulator() as url:
        yield url


@pytest.fixture
def budgets(endpoint):
    return emulator_client(endpoint, "budgets")


@pytest.fixture
def name():
    return f"test-{uuid.uuid4().hex[:10]}"


def run(endpoint, capsys, check=False, diff=False, **args):
    args = dict(args, endpoint_url=endpoint, region="us-east-1",
                access_key="local-emulator-key", secret_key="local-emulator-secret",
                _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def alarm(**overrides):
    params = {"limit_usd": 5, "threshold_pct": 80, "email": "ops@example.com",
              "cost_filters_tags": {"stack": "gpu-e2e"}}
    params.update(overrides)
    return params


def notifications_of(budgets, name):
    found = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)["Notifications"]
    return [(n["Threshold"], [s["Address"] for s in budgets.describe_subscribers_for_notification(
        AccountId=ACCOUNT, BudgetName=name, Notification=n)["Subscribers"]]) for n in found]


def test_module_creates_then_reports_no_change(endpoint, budgets, name, capsys):
    first = run(endpoint, capsys, name=name, **alarm())
    assert first["changed"] is True
    assert first["budget"] == {"name": name, "limit_usd": 5.0, "threshold_pct": 80.0, "email": "ops@example.com",
                               "time_unit": "MONTHLY", "cost_filters_tags": {"stack": "gpu-e2e"}}
    created = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"]
    assert created["CostFilters"] == {"TagKeyValue": ["user:stack$gpu-e2e"]}
    assert float(created["BudgetLimit"]["Amount"]) == 5.0 and created["BudgetType"] == "COST"
    assert notifications_of(budgets, name) == [(80.0, ["ops@example.com"])]

    second = run(endpoint, capsys, name=name, **alarm())
    assert second["changed"] is False and second["actions"] == []
    assert second["budget"] == first["budget"]


def test_check_mode_creates_nothing_and_diff_shows_the_budget(endpoint, budgets, name, capsys):
    result = run(endpoint, capsys, check=True, diff=True, name=name, **alarm())
    assert result["changed"] is True
    assert result["diff"]["before"] == {} and result["diff"]["after"]["limit_usd"] == 5.0
    with pytest.raises(botocore.exceptions.ClientError, match="NotFoundException"):
        budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)


def test_changes_are_applied_in_place_and_converge(endpoint, budgets, name, capsys):
    run(endpoint, capsys, name=name, **alarm())
    # Out of band: someone adds a forecast alarm; the module owns the budget and removes it.
    budgets.create_notification(
        AccountId=ACCOUNT, BudgetName=name,
        Notification={"NotificationType": "FORECASTED", "ComparisonOperator": "GREATER_THAN",
                      "Threshold": 100.0, "ThresholdType": "PERCENTAGE"},
        Subscribers=[{"SubscriptionType": "EMAIL", "Address": "someone@example.com"}])
    wanted = alarm(limit_usd=7.5, threshold_pct=90, email="new@example.com", cost_filters_tags={})

    preview = run(endpoint, capsys, check=True, diff=True, name=name, **wanted)
    assert preview["changed"] is True
    assert preview["diff"]["before"]["limit_usd"] == 5.0 and preview["diff"]["after"]["limit_usd"] == 7.5
    assert float(budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"]["BudgetLimit"]["Amount"]) == 5

    applied = run(endpoint, capsys, name=name, **wanted)
    assert applied["changed"] is True
    assert applied["actions"][0] == f"update budget {name} (limit_usd, cost_filters_tags)"
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)["Budget"]
    assert float(budget["BudgetLimit"]["Amount"]) == 7.5 and not budget.get("CostFilters")
    assert notifications_of(budgets, name) == [(90.0, ["new@example.com"])]
    assert run(endpoint, capsys, name=name, **wanted)["changed"] is False


def test_only_the_email_changes(endpoint, budgets, name, capsys):
    run(endpoint, capsys, name=name, **alarm())
    result = run(endpoint, capsys, name=name, **alarm(email="other@example.com"))
    assert result["changed"] is True
    assert [a.split(" ")[0] for a in result["actions"]] == ["delete", "create"]
    assert notifications_of(budgets, name) == [(80.0, ["other@example.com"])]
    assert run(endpoint, capsys, name=name, **alarm(email="other@example.com"))["changed"] is False


def test_absent_deletes_once_and_check_mode_keeps_it(endpoint, budgets, name, capsys):
    run(endpoint, capsys, name=name, **alarm())
    assert run(endpoint, capsys, check=True, name=name, state="absent")["changed"] is True
    budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)  # still there
    gone = run(endpoint, capsys, name=name, state="absent")
    assert gone["changed"] is True and gone["budget"] == {}
    with pytest.raises(botocore.exceptions.ClientError, match="NotFoundException"):
        budgets.describe_budget(AccountId=ACCOUNT, BudgetName=name)
    assert run(endpoint, capsys, name=name, state="absent")["changed"] is False


def test_email_is_required_when_present(endpoint, name, capsys):
    result = run(endpoint, capsys, name=name, limit_usd=5)
    assert result["failed"] is True and "email" in result["msg"]


def test_api_errors_fail_with_one_message(capsys):
    # Nothing listens on this port: the failure is reported once, as a module failure, not a traceback.
    result = run(f"http://127.0.0.1:{free_port()}", capsys, name="x", **alarm())
    assert result["failed"] is True and result["msg"].startswith("Failed to look up the AWS account id")


def test_emulator_answers_subscribers_of_an_unknown_notification_with_not_found(endpoint, budgets, name, capsys):
    run(endpoint, capsys, name=name, **alarm())
    other = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 1.0,
             "ThresholdType": "PERCENTAGE"}
    with pytest.raises(botocore.exceptions.ClientError, match="NotFoundException"):
        budgets.describe_subscribers_for_notification(AccountId=ACCOUNT, BudgetName=name, Notification=other)
