# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name rules of the AWS services this collection names resources in, for preflight.

Why by hand: neither botocore nor the AWS collections validate a name before
the create call; AWS then refuses it only after the VPC, the NAT gateway and the
cluster exist. Each rule below is the service's documented naming rule; each
function returns the first rule a name breaks (a short phrase) or None.
"""

from __future__ import annotations

import ipaddress
import re

# S3 general purpose buckets (docs: "Bucket naming rules").
S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "sthree-configurator", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# IAM: role names up to 64, policy names up to 128 characters of [\w+=,.@-].
IAM_NAME_RE = re.compile(r"^[A-Za-z0-9_+=,.@-]+$")
IAM_MAX_LENGTH = {"role": 64, "policy": 128}
# EKS: cluster names 1-100, node group names 1-63 characters, starting with a letter or digit.
EKS_NAME_RE = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$")
EKS_MAX_LENGTH = {"cluster": 100, "nodegroup": 63}
# ECR repository names: 2-256 characters, lowercase path components.
ECR_REPOSITORY_RE = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
# AWS Budgets: 1-100 characters, no ':' and no '\'.
BUDGET_MAX_LENGTH = 100


def s3_bucket_problem(name):
    """The S3 bucket naming rule `name` breaks, or None."""
    name = str(name)
    if not 3 <= len(name) <= 63:
        return f"an S3 bucket name has 3-63 characters (this one has {len(name)})"
    if not S3_BUCKET_RE.match(name):
        return ("an S3 bucket name has only lowercase letters, digits, '.' and '-', "
                "and starts and ends with a letter or digit")
    if ".." in name:
        return "an S3 bucket name has no two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "an S3 bucket name is not formatted as an IP address"
    for prefix in S3_RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"S3 reserves the bucket name prefix '{prefix}'"
    for suffix in S3_RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"S3 reserves the bucket name suffix '{suffix}'"
    return None


def iam_name_problem(name, kind="role"):
    """The IAM naming rule a role or policy name breaks, or None."""
    name = str(name)
    limit = IAM_MAX_LENGTH[kind]
    if not 1 <= len(name) <= limit:
        return f"an IAM {kind} name has 1-{limit} characters (this one has {len(name)})"
    if not IAM_NAME_RE.match(name):
        return f"an IAM {kind} name has only letters, digits and + = , . @ _ -"
    return None


def eks_name_problem(name, kind="cluster"):
    """The EKS naming rule a cluster or node group name breaks, or None."""
    name = str(name)
    limit = EKS_MAX_LENGTH[kind]
    if not 1 <= len(name) <= limit:
        return f"an EKS {kind} name has 1-{limit} characters (this one has {len(name)})"
    if not EKS_NAME_RE.match(name):
        return f"an EKS {kind} name has only letters, digits, '-' and '_', and starts with a letter or digit"
    return None


def ecr_repository_problem(name):
    """The ECR repository naming rule `name` breaks, or None."""
    name = str(name)
    if not 2 <= len(name) <= 256:
        return f"an ECR repository name has 2-256 characters (this one has {len(name)})"
    if not ECR_REPOSITORY_RE.match(name):
        return ("an ECR repository name is lowercase path components of letters and digits, "
                "separated by '/', with single '.', '_' or '-' inside a component")
    return None


def budget_name_problem(name):
    """The AWS Budgets naming rule `name` breaks, or None."""
    name = str(name)
    if not 1 <= len(name) <= BUDGET_MAX_LENGTH:
        return f"a budget name has 1-{BUDGET_MAX_LENGTH} characters (this one has {len(name)})"
    if ":" in name or "\\" in name:
        return "a budget name has no ':' and no '\\'"
    return None


RULES = {
    "s3_bucket": s3_bucket_problem,
    "iam_role": lambda name: iam_name_problem(name, "role"),
    "iam_policy": lambda name: iam_name_problem(name, "policy"),
    "eks_cluster": lambda name: eks_name_problem(name, "cluster"),
    "eks_nodegroup": lambda name: eks_name_problem(name, "nodegroup"),
    "ecr_repository": ecr_repository_problem,
    "budget": budget_name_problem,
}


def name_problem(name, kind):
    """The rule of service `kind` (a key of RULES) that `name` breaks, or None."""
    try:
        rule = RULES[kind]
    except KeyError:
        raise ValueError(f"unknown name kind {kind!r}: expected one of {', '.join(sorted(RULES))}") from None
    return rule(name)
