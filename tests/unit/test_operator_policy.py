"""docs/iam/operator-policy*.json: derived from the modules the roles call, current, scoped, and lint-clean."""
from __future__ import annotations

import json

import parliament
import pytest

import gen_operator_policy as gen  # scripts/gen_operator_policy.py (scripts/ is on pytest's pythonpath)

READ_PREFIXES = ("Describe", "List", "Get")


@pytest.fixture(scope="module")
def policy_map():
    return gen.load_map()


@pytest.fixture(scope="module")
def policy(policy_map):
    return gen.build_policy(gen.default_stack_name(), policy_map=policy_map)


def test_every_aws_module_the_roles_call_has_a_mapping(policy_map):
    missing = gen.unmapped_modules(policy_map=policy_map)
    assert missing == {}, "add these modules to scripts/operator_policy_map.yml: " + ", ".join(
        f"{m} ({', '.join(f)})" for m, f in sorted(missing.items()))


def test_the_policy_files_are_what_the_generator_produces_now(policy):
    stale = gen.stale_outputs(policy)
    assert stale == [], f"run `python scripts/gen_operator_policy.py`; out of date: {stale}"


def test_parliament_finds_nothing(policy):
    documents = [policy] + gen.managed_parts(policy)
    for document in documents:
        findings = parliament.analyze_policy_string(json.dumps(document)).findings
        assert [(f.issue, f.detail) for f in findings] == []


def test_parliament_would_catch_an_unknown_action():
    bad = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeVpcz"], "Resource": "*"}]}
    assert "UNKNOWN_ACTION" in {f.issue for f in parliament.analyze_policy_string(json.dumps(bad)).findings}


def test_own_modules_are_granted_exactly_what_their_code_calls(policy_map):
    assert gen.own_module_mismatches(policy_map=policy_map) == {}


def test_scripts_that_call_aws_are_listed_and_granted_what_they_call(policy_map):
    assert gen.unlisted_scripts(policy_map=policy_map) == []
    assert gen.script_gaps(policy_map=policy_map) == {}


def test_nothing_but_reads_is_allowed_on_every_resource_without_a_condition(policy):
    for statement in policy["Statement"]:
        if statement["Resource"] == "*" and "Condition" not in statement:
            writes = [a for a in statement["Action"] if not a.split(":", 1)[1].startswith(READ_PREFIXES)]
            assert writes == [], f"{statement['Sid']} allows writes on *"


def test_every_ec2_write_is_tied_to_the_stack_tag(policy):
    """Every EC2 write needs the stack tag, except deletes of what Kubernetes controllers made for the
    stack's cluster (CSI volumes, CNI interfaces, controller security groups), which carry the cluster's
    own tag instead: those statements allow deletes only, and only with the tag naming the stack's cluster."""
    stack = gen.default_stack_name()
    cluster_tags = {f"aws:ResourceTag/kubernetes.io/cluster/{stack}": "owned",
                    "aws:ResourceTag/cluster.k8s.amazonaws.com/name": stack,
                    "aws:ResourceTag/elbv2.k8s.aws/cluster": stack}
    by_cluster_tag = 0
    for statement in policy["Statement"]:
        ec2_writes = [a for a in statement["Action"]
                      if a.startswith("ec2:") and not a.split(":", 1)[1].startswith(READ_PREFIXES)]
        if not ec2_writes:
            continue
        tags = statement["Condition"]["StringEquals"]
        if stack in (tags.get("aws:RequestTag/stack"), tags.get("aws:ResourceTag/stack")):
            continue
        assert len(tags) == 1 and tags.items() <= cluster_tags.items(), statement["Sid"]
        assert all(a.split(":", 1)[1].startswith("Delete") for a in ec2_writes), statement["Sid"]
        by_cluster_tag += 1
    assert by_cluster_tag == 3


def test_tag_on_create_is_limited_to_the_creates_the_roles_make(policy):
    statements = {s["Sid"]: s for s in policy["Statement"]}
    creates = {a.split(":", 1)[1] for a in statements["Ec2CreateOnlyWithTheStackTag"]["Action"]}
    tagging = statements["Ec2TagOnlyWhileCreating"]
    assert tagging["Action"] == ["ec2:CreateTags"]
    assert set(tagging["Condition"]["StringEquals"]["ec2:CreateAction"]) == creates
    assert {"CreateVpc", "CreateSubnet", "CreateNatGateway"} <= creates


def test_managed_parts_fit_aws_limit_and_hold_every_statement_once(policy):
    parts = gen.managed_parts(policy)
    assert all(gen.policy_size(part) <= gen.MANAGED_POLICY_LIMIT for part in parts)
    assert [s for part in parts for s in part["Statement"]] == policy["Statement"]


def test_names_follow_the_stack(policy_map):
    other = gen.build_policy("other-stack", cluster="other-cluster", policy_map=policy_map)
    text = json.dumps(other)
    assert "arn:aws:iam::*:role/other-stack-*" in text and "cluster/other-cluster" in text
    assert gen.default_stack_name() + "-" not in text


# --- the scanner on a synthetic tree: it must notice what it should ------------------------------


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_scanner_finds_modules_in_nested_blocks_and_tells_aws_from_local(tmp_path, policy_map):
    write(tmp_path / "roles" / "demo" / "tasks" / "main.yml", """---
- name: A block.
  block:
    - name: Create a queue nobody mapped.
      amazon.aws.sqs_queue:
        name: q
  rescue:
    - name: Our AWS module.
      gpu_e2e.platform.fancy_aws:
        x: 1
  always:
    - name: Our local module.
      gpu_e2e.platform.local_thing: {}
    - name: A mapped module.
      amazon.aws.ec2_vpc_net_info: {}
""")
    write(tmp_path / "plugins" / "modules" / "fancy_aws.py", "from x import AnsibleAWSModule\n")
    write(tmp_path / "plugins" / "modules" / "local_thing.py", "from x import AnsibleModule\n")
    used = gen.aws_modules_used(tmp_path)
    assert set(used) == {"amazon.aws.sqs_queue", "gpu_e2e.platform.fancy_aws", "amazon.aws.ec2_vpc_net_info"}
    assert set(gen.unmapped_modules(tmp_path, policy_map)) == {"amazon.aws.sqs_queue", "gpu_e2e.platform.fancy_aws"}
    with pytest.raises(gen.PolicyError, match="amazon.aws.sqs_queue .*roles/demo/tasks/main.yml"):
        gen.build_policy("s", root=tmp_path, policy_map=policy_map)


def test_scanner_notices_a_script_that_calls_aws(tmp_path, policy_map):
    write(tmp_path / "roles" / "demo" / "files" / "helper.py", "import boto3\nboto3.client('sqs').list_queues()\n")
    write(tmp_path / "roles" / "demo" / "files" / "plain.py", "import json\n")
    assert gen.unlisted_scripts(tmp_path, policy_map) == ["roles/demo/files/helper.py"]
    with pytest.raises(gen.PolicyError, match="helper.py"):
        gen.build_policy("s", root=tmp_path, policy_map=policy_map)


def test_generator_check_mode_reports_a_stale_file(tmp_path, capsys):
    output = tmp_path / "operator-policy.json"
    assert gen.main(["--output", str(output)]) == 0
    assert gen.main(["--output", str(output), "--check"]) == 0
    output.write_text("{}\n", encoding="utf-8")
    assert gen.main(["--output", str(output), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
