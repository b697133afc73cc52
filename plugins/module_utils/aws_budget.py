# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An AWS Budgets cost budget with one email alarm, kept idempotent.

The module owns the budget it names:

* the budget itself: a COST budget with a fixed limit in USD, a time unit and
  optional tag filters (``CostFilters.TagKeyValue = ["user:<key>$<value>"]``);
* exactly one notification on it: ACTUAL spend GREATER_THAN ``threshold_pct``
  PERCENTAGE of the limit, with exactly one EMAIL subscriber. Any other
  notification of the budget (for example the one of an earlier threshold) is
  removed.

API use, identical on real AWS and on the local emulator (whose fixes add
``DescribeSubscribersForNotification`` and ``UpdateBudget`` to moto):
``DescribeBudget`` -> ``CreateBudget`` (with the notification and subscriber
in one call) or ``UpdateBudget``; ``DescribeNotificationsForBudget`` +
``DescribeSubscribersForNotification`` to read the alarm; a notification
whose subscribers differ is deleted and created again (``CreateNotification``
with its subscribers), which needs no subscriber-level calls.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP
from decimal import Decimal
from decimal import InvalidOperation

from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import GpuE2eAWSError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.aws_errors import aws_call

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library

TIME_UNITS = ("DAILY", "MONTHLY", "QUARTERLY", "ANNUALLY")
# Fields AWS computes; never sent back in UpdateBudget.
READ_ONLY_BUDGET_KEYS = ("CalculatedSpend", "LastUpdatedTime", "HealthStatus")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# AWS: budget names are 1-100 characters without ':' and '\'.
NAME_RE = re.compile(r"^[^:\\]{1,100}$")


class AwsBudgetError(GpuE2eAWSError):
    """The one error type of the budget logic; the module catches it once."""


# --- pure helpers (unit-tested without AWS) ---------------------------------


def money(value) -> Decimal:
    """A USD amount rounded to cents, from a float, an int or AWS's string ('5.0')."""
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise AwsBudgetError(message=f"not an amount in USD: {value!r}") from exc


def tag_cost_filters(tags) -> dict:
    """{'stack': 'gpu-e2e'} -> {'TagKeyValue': ['user:stack$gpu-e2e']} (user-defined cost allocation tags)."""
    if not tags:
        return {}
    return {"TagKeyValue": sorted(f"user:{key}${value}" for key, value in tags.items())}


def tags_from_cost_filters(cost_filters) -> dict:
    """The inverse of tag_cost_filters, for reporting; other filter types are ignored."""
    tags = {}
    for entry in (cost_filters or {}).get("TagKeyValue", []):
        key, sep, value = entry.partition("$")
        if sep:
            tags[key[len("user:"):] if key.startswith("user:") else key] = value
    return tags


def normalize_cost_filters(cost_filters) -> dict:
    return {key: sorted(values) for key, values in (cost_filters or {}).items() if values}


def validate(params) -> None:
    if not NAME_RE.match(params["name"]):
        raise AwsBudgetError(message=f"budget name {params['name']!r} must be 1-100 characters without ':' or '\\'")
    if params["state"] != "present":
        return
    if params["limit_usd"] <= 0:
        raise AwsBudgetError(message=f"limit_usd must be greater than 0, got {params['limit_usd']}")
    if params["threshold_pct"] <= 0:
        raise AwsBudgetError(message=f"threshold_pct must be greater than 0, got {params['threshold_pct']}")
    if not EMAIL_RE.match(params["email"] or ""):
        raise AwsBudgetError(message=f"email {params['email']!r} is not an email address")
    for key, value in (params.get("cost_filters_tags") or {}).items():
        if not key or "$" in key or "$" in str(value):
            raise AwsBudgetError(message=f"cost_filters_tags entry {key!r}: {value!r} may not be empty or contain '$'")


def desired_budget(params) -> dict:
    """The budget as the Budgets API spells it (without notifications)."""
    budget = {
        "BudgetName": params["name"],
        "BudgetType": "COST",
        "TimeUnit": params["time_unit"],
        "BudgetLimit": {"Amount": str(money(params["limit_usd"])), "Unit": "USD"},
    }
    cost_filters = tag_cost_filters(params.get("cost_filters_tags"))
    if cost_filters:
        budget["CostFilters"] = cost_filters
    return budget


def desired_notification(params) -> dict:
    return {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": float(params["threshold_pct"]),
        "ThresholdType": "PERCENTAGE",
    }


def email_subscribers(email) -> list:
    return [{"SubscriptionType": "EMAIL", "Address": email}]


def same_notification(current, desired) -> bool:
    """AWS identifies a notification by type, operator, threshold and threshold type."""
    return (
        current.get("NotificationType") == desired["NotificationType"]
        and current.get("ComparisonOperator") == desired["ComparisonOperator"]
        and current.get("ThresholdType", "PERCENTAGE") == desired["ThresholdType"]
        and float(current.get("Threshold", -1)) == float(desired["Threshold"])
    )


def same_subscribers(current, desired) -> bool:
    def key(subscribers):
        return sorted((s.get("SubscriptionType"), s.get("Address")) for s in subscribers or [])

    return key(current) == key(desired)


def budget_differences(current, desired) -> list:
    """Names of the managed fields in which the current budget differs from the desired one."""
    differences = []
    current_limit = (current.get("BudgetLimit") or {}).get("Amount")
    if current_limit is None or money(current_limit) != money(desired["BudgetLimit"]["Amount"]):
        differences.append("limit_usd")
    if (current.get("BudgetLimit") or {}).get("Unit", "USD") != "USD":
        differences.append("limit_unit")
    if current.get("TimeUnit") != desired["TimeUnit"]:
        differences.append("time_unit")
    if current.get("BudgetType") != desired["BudgetType"]:
        differences.append("budget_type")
    if normalize_cost_filters(current.get("CostFilters")) != normalize_cost_filters(desired.get("CostFilters")):
        differences.append("cost_filters_tags")
    return differences


def updated_budget(current, desired) -> dict:
    """NewBudget for UpdateBudget: the current budget with the managed fields replaced.

    Unmanaged settings (CostTypes, ...) are kept. A fixed limit replaces planned
    limits and auto-adjustment, and a new time unit starts a new time period.
    """
    new = {k: v for k, v in current.items() if k not in READ_ONLY_BUDGET_KEYS}
    for key in ("PlannedBudgetLimits", "AutoAdjustData", "CostFilters"):
        new.pop(key, None)
    if current.get("TimeUnit") != desired["TimeUnit"]:
        new.pop("TimePeriod", None)
    new.update(desired)
    return new


def summary(budget, notification, subscribers) -> dict:
    """What the module returns as `budget` (and shows in --diff)."""
    if not budget:
        return {}
    emails = sorted(s["Address"] for s in subscribers or [] if s.get("SubscriptionType") == "EMAIL")
    limit = (budget.get("BudgetLimit") or {}).get("Amount")
    return {
        "name": budget["BudgetName"],
        "limit_usd": float(money(limit)) if limit is not None else None,
        "threshold_pct": float(notification["Threshold"]) if notification else None,
        "email": ", ".join(emails) if emails else None,
        "time_unit": budget.get("TimeUnit"),
        "cost_filters_tags": tags_from_cost_filters(budget.get("CostFilters")),
    }


def describe_notification(notification, subscribers=None) -> str:
    text = "{NotificationType} {ComparisonOperator} {Threshold:g} {ThresholdType}".format(
        NotificationType=notification.get("NotificationType"),
        ComparisonOperator=notification.get("ComparisonOperator"),
        Threshold=float(notification.get("Threshold", 0)),
        ThresholdType=notification.get("ThresholdType", "PERCENTAGE"),
    )
    if subscribers is not None:
        text += " -> " + ", ".join(sorted(f"{s['SubscriptionType']}:{s['Address']}" for s in subscribers))
    return text


# --- the Budgets API, with errors translated once ---------------------------


class BudgetsApi:
    def __init__(self, client, account_id):
        self.client = client
        self.account_id = account_id

    def _call(self, what, method, **kwargs):
        return aws_call(AwsBudgetError, what, getattr(self.client, method), AccountId=self.account_id, **kwargs)

    def describe_budget(self, name):
        found = aws_call(AwsBudgetError, f"describe budget {name}", self.client.describe_budget,
                         missing="NotFoundException", AccountId=self.account_id, BudgetName=name)
        return found["Budget"] if found else None

    def notifications(self, name):
        found, token = [], None
        while True:
            kwargs = {"BudgetName": name, "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            page = self._call(f"list the notifications of budget {name}", "describe_notifications_for_budget", **kwargs)
            found.extend(page.get("Notifications") or [])
            token = page.get("NextToken")
            if not token:
                return found

    def subscribers(self, name, notification):
        found, token = [], None
        while True:
            kwargs = {"BudgetName": name, "Notification": notification, "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            page = self._call(
                f"list the subscribers of a notification of budget {name}",
                "describe_subscribers_for_notification",
                **kwargs,
            )
            found.extend(page.get("Subscribers") or [])
            token = page.get("NextToken")
            if not token:
                return found

    def create_budget(self, budget, notification, subscribers):
        self._call(
            f"create budget {budget['BudgetName']}",
            "create_budget",
            Budget=budget,
            NotificationsWithSubscribers=[{"Notification": notification, "Subscribers": subscribers}],
        )

    def update_budget(self, budget):
        self._call(f"update budget {budget['BudgetName']}", "update_budget", NewBudget=budget)

    def delete_budget(self, name):
        self._call(f"delete budget {name}", "delete_budget", BudgetName=name)

    def create_notification(self, name, notification, subscribers):
        self._call(
            f"create a notification of budget {name}",
            "create_notification",
            BudgetName=name,
            Notification=notification,
            Subscribers=subscribers,
        )

    def delete_notification(self, name, notification):
        self._call(f"delete a notification of budget {name}", "delete_notification", BudgetName=name,
                   Notification=notification)


def account_id_of(sts_client) -> str:
    return aws_call(AwsBudgetError, "look up the AWS account id (STS GetCallerIdentity)",
                    sts_client.get_caller_identity)["Account"]


# --- the state machine -------------------------------------------------------


def read_state(api, name, desired_notif):
    """(budget, our notification, its subscribers, [(other notification, its subscribers)]) as they are now.

    A budget has at most 5 notifications, so reading every subscriber list is cheap and makes --diff exact.
    """
    budget = api.describe_budget(name)
    if budget is None:
        return None, None, [], []
    ours, subscribers, others = None, [], []
    for notification in api.notifications(name):
        its_subscribers = api.subscribers(name, notification)
        if ours is None and desired_notif is not None and same_notification(notification, desired_notif):
            ours, subscribers = notification, its_subscribers
        else:
            others.append((notification, its_subscribers))
    return budget, ours, subscribers, others


def diff_view(budget_summary, notifications) -> dict:
    if not budget_summary:
        return {}
    return dict(budget_summary, notifications=sorted(notifications))


def ensure(client, params, check_mode):
    """Make the budget match params; returns changed, budget, actions and diff.

    `client(service)` returns a boto3 client wrapped with AWSRetry.
    """
    if botocore is None:
        raise AwsBudgetError(message="botocore is required")
    validate(params)
    api = BudgetsApi(client("budgets"), account_id_of(client("sts")))
    name = params["name"]
    present = params["state"] == "present"
    want_notif = desired_notification(params) if present else None

    budget, ours, subscribers, others = read_state(api, name, want_notif)
    before_notifications = [describe_notification(n, subs) for n, subs in others]
    if ours is not None:
        before_notifications.append(describe_notification(ours, subscribers))
    # The alarm the summary shows: ours, else the one a previous run left (e.g. another threshold).
    shown, shown_subscribers = (ours, subscribers) if ours is not None else (others[0] if others else (None, []))
    before = diff_view(summary(budget, shown, shown_subscribers), before_notifications)
    actions = []

    if not present:
        if budget is not None:
            actions.append(f"delete budget {name}")
            if not check_mode:
                api.delete_budget(name)
        return {"changed": bool(actions), "budget": {}, "actions": actions, "diff": {"before": before, "after": {}}}

    want_budget = desired_budget(params)
    want_subscribers = email_subscribers(params["email"])
    if budget is None:
        actions.append(f"create budget {name} with notification {describe_notification(want_notif, want_subscribers)}")
        if not check_mode:
            api.create_budget(want_budget, want_notif, want_subscribers)
    else:
        differences = budget_differences(budget, want_budget)
        if differences:
            actions.append(f"update budget {name} ({', '.join(differences)})")
            if not check_mode:
                api.update_budget(updated_budget(budget, want_budget))
        for notification, its_subscribers in others:
            actions.append(f"delete notification {describe_notification(notification, its_subscribers)}")
            if not check_mode:
                api.delete_notification(name, notification)
        if ours is None or not same_subscribers(subscribers, want_subscribers):
            if ours is not None:
                # Replacing the notification swaps its subscribers with calls the emulator also has.
                actions.append(f"delete notification {describe_notification(ours, subscribers)}")
                if not check_mode:
                    api.delete_notification(name, ours)
            actions.append(f"create notification {describe_notification(want_notif, want_subscribers)}")
            if not check_mode:
                api.create_notification(name, want_notif, want_subscribers)

    after_summary = summary(want_budget, want_notif, want_subscribers)
    after = diff_view(after_summary, [describe_notification(want_notif, want_subscribers)])
    return {
        "changed": bool(actions),
        "budget": after_summary,
        "actions": actions,
        "diff": {"before": before, "after": after},
    }
