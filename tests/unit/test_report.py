"""The evidence pack, rendered from the fixture run directory tests/fixtures/run/gpu-e2e/20261122T060000Z."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import EvidenceError
from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import render
from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import unit_economics
from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import utilisation_column
from ansible_collections.gpu_e2e.platform.plugins.module_utils.evidence import load_run
from ansible_collections.gpu_e2e.platform.plugins.modules import evidence

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run" / "gpu-e2e" / "20261122T060000Z"
SECTIONS = ["## Problem", "## Architecture", "## Run", "## KPIs", "## Cost", "## Teardown"]


@pytest.fixture
def run_dir(tmp_path):
    """A copy of the fixture run, so tests may remove or change pieces."""
    dest = tmp_path / "runs" / "gpu-e2e" / FIXTURE.name
    shutil.copytree(FIXTURE, dest)
    return dest


def report_of(run_dir):
    content, extra = render("report", str(run_dir), str(run_dir / "report.md"))
    return content, extra


def test_the_report_follows_problem_architecture_run_kpis_cost_teardown(run_dir):
    content, extra = report_of(run_dir)

    positions = [content.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert extra["missing"] == []
    assert "```mermaid" in content and "flowchart LR" in content
    for hop in ("VPC", "EKS", "GPU", "TRITON", "ALB", "PROM", "GRAF"):
        assert hop in content


def test_the_report_carries_the_runs_real_numbers(run_dir):
    kpis = json.loads((run_dir / "kpis.json").read_text())
    cost = json.loads((run_dir / "cost.json").read_text())

    content, _extra = report_of(run_dir)

    smoke = kpis["headline"]["smoke"]
    assert f"| smoke | {smoke['p50_ms']:.1f} | {smoke['p95_ms']:.1f} | {smoke['p99_ms']:.1f} |" in content
    assert "| PASS |" in content and "SLO gate: **PASSED**" in content
    assert f"${cost['estimated']['total_usd']:.4f}" in content
    assert f"| GPU hours, spot | {cost['estimated']['gpu_hours']['spot']:.2f} |" in content
    assert "(incomplete: billing lag)" in content
    assert "**0 leftovers**" in content


def test_plots_are_linked_relative_to_the_report_and_exist(run_dir):
    content, _extra = report_of(run_dir)

    links = [line[line.index("](") + 2:-1] for line in content.splitlines() if line.startswith("![")]
    assert links, "no plot linked"
    for link in links:
        assert not link.startswith("/")
        assert (run_dir / link).is_file()


def test_a_local_report_says_emulated_random_weights_and_cpu(run_dir):
    for document in ("report", "cost_audit", "case_study", "post"):
        content, _extra = render(document, str(run_dir), str(run_dir / f"{document}.md"))
        lowered = content.lower()
        assert "emulated" in lowered, document
        assert "random" in lowered, document
        assert "cpu" in lowered, document


def test_the_kpi_table_says_what_its_utilisation_column_measured(run_dir):
    content, _extra = render("report", str(run_dir), str(run_dir / "report.md"))
    assert "| runtime CPU (% of one core) | SLO |" in content
    assert utilisation_column({"a": {"utilisation_label": "GPU utilisation (DCGM_FI_DEV_GPU_UTIL, %)"}}) \
        == "GPU utilisation"
    mixed = {"a": {"utilisation_label": "GPU utilisation (%)"}, "b": {"utilisation_label": "runtime CPU"}}
    assert utilisation_column(mixed) == "utilisation"


def test_an_aws_report_does_not_claim_emulation(run_dir):
    content, _extra = render("report", str(run_dir), str(run_dir / "report.md"), platform_target="aws")
    assert "emulated" not in content.split("## Problem", maxsplit=1)[0].lower()
    assert "AWS profile" in content


def test_a_run_without_load_test_cost_or_teardown_says_so(run_dir):
    for name in ("kpis.json", "cost.json", "leftovers.json", "smoke.json", "events.json"):
        (run_dir / name).unlink()
    shutil.rmtree(run_dir / "loadtest")

    content, extra = render("report", str(run_dir), str(run_dir / "report.md"), platform_target="local")

    assert sorted(extra["missing"]) == ["cost", "events", "kpis", "leftovers", "smoke"]
    assert "The load test did not run in this run" in content
    assert "No cost audit yet" in content
    assert "Teardown has not run yet" in content
    assert [s for s in SECTIONS if s not in content] == []
    for document in ("cost_audit", "case_study", "post"):
        assert render(document, str(run_dir), str(run_dir / "x.md"), platform_target="local")[0]


def test_an_unreadable_input_is_named_not_fatal(run_dir):
    (run_dir / "kpis.json").write_text("{not json")
    content, extra = report_of(run_dir)
    assert "kpis" in extra["missing"]
    assert "Unreadable inputs: kpis.json" in content


def test_leftovers_are_listed_with_their_cost(run_dir):
    leftovers = json.loads((run_dir / "leftovers.json").read_text())
    leftovers.update(count=1, est_usd_per_day_total=1.08, leftovers=[{
        "service": "ec2", "type": "natgateway", "id": "nat-0d0d0d0d0d0d0d0d0", "name": "gpu-e2e-nat",
        "reason": "tagged stack=gpu-e2e; state available", "est_usd_per_day": 1.08}])
    (run_dir / "leftovers.json").write_text(json.dumps(leftovers))

    content, _extra = report_of(run_dir)

    assert "**1 leftovers**, about $1.08/day" in content
    assert "| ec2/natgateway | `nat-0d0d0d0d0d0d0d0d0` | gpu-e2e-nat |" in content


def test_cost_per_million_inferences_comes_from_throughput_and_instance_price(run_dir):
    run = load_run(str(run_dir))
    econ = unit_economics(run)
    best = run["kpis"]["headline"]["smoke"]["inferences_per_s"]  # the highest SLO-passing throughput

    assert econ["instance_type"] == "g4dn.xlarge"
    assert econ["measured"]["inferences_per_s"] == best
    assert econ["measured"]["spot_usd_per_1m"] == pytest.approx(0.2104 / (best * 3600) * 1e6)
    assert econ["measured"]["on_demand_usd_per_1m"] == pytest.approx(0.526 / (best * 3600) * 1e6)

    content, _extra = render("cost_audit", str(run_dir), str(run_dir / "cost-audit.md"))
    assert f"${econ['measured']['spot_usd_per_1m']:,.2f} on spot" in content
    for needle in ("GPU hours", "Spot savings", "Total spend", "NAT gateway hours", "0 leftovers",
                   "update-cost-allocation-tags-status"):
        assert needle in content


def test_the_case_study_is_one_page_and_the_post_is_short(run_dir):
    case, _extra = render("case_study", str(run_dir), str(run_dir / "case-study.md"))
    post, _extra = render("post", str(run_dir), str(run_dir / "post.md"))
    assert len(case.splitlines()) < 80
    assert len(post.split()) < 300
    assert "inferences/s" in post and "0 leftovers" in post


def run_module(args):
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        evidence.main()
    return exited.value.code


def test_the_module_writes_once_then_reports_no_change(run_dir, tmp_path, capsys):
    docs = tmp_path / "docs"
    args = {"document": "post", "run_dir": str(run_dir), "dest": str(docs / "post.md"),
            "plot_dest": str(docs / "assets" / "post-plot.png"), "platform_target": "local", "stack_name": "gpu-e2e"}

    assert run_module(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert run_module(args) == 0
    second = json.loads(capsys.readouterr().out)

    assert first["changed"] is True and second["changed"] is False
    assert (docs / "assets" / "post-plot.png").read_bytes()[:4] == b"\x89PNG"
    assert "](assets/post-plot.png)" in (docs / "post.md").read_text()


def test_check_mode_writes_nothing(run_dir, tmp_path, capsys):
    dest = tmp_path / "report.md"
    args = {"document": "report", "run_dir": str(run_dir), "dest": str(dest), "_ansible_check_mode": True}

    assert run_module(args) == 0

    assert json.loads(capsys.readouterr().out)["changed"] is True
    assert not dest.exists()


def test_a_missing_run_directory_fails_cleanly(tmp_path):
    with pytest.raises(EvidenceError, match="does not exist"):
        render("report", str(tmp_path / "nope"), str(tmp_path / "r.md"))


def test_a_trained_model_run_shows_each_smoke_image_and_never_says_random(run_dir):
    smoke = json.loads((run_dir / "smoke.json").read_text())
    smoke.update({"model_name": "efficientnet_lite0", "weights": "trained", "known_answer": {
        "checked": True, "passed": True, "images": [
            {"image": "coffee.png", "expect": ["espresso"], "within": 1,
             "matched": {"index": 967, "label": "espresso", "score": 14.1, "probability": 0.957},
             "top_5": [{"index": 967, "label": "espresso", "score": 14.1, "probability": 0.957},
                       {"index": 968, "label": "cup", "score": 9.9, "probability": 0.014},
                       {"index": 925, "label": "consomme", "score": 9.2, "probability": 0.007},
                       {"index": 960, "label": "chocolate sauce", "score": 8.7, "probability": 0.004}]}]}})
    (run_dir / "smoke.json").write_text(json.dumps(smoke))
    kpis = (run_dir / "kpis.json").read_text().replace(
        "no GPU); the built-in model's weights are random.", "no GPU). Model efficientnet_lite0 with trained weights.")
    (run_dir / "kpis.json").write_text(kpis)
    for document in ("report", "cost_audit", "case_study", "post"):
        content, _extra = render(document, str(run_dir), str(run_dir / f"{document}.md"))
        assert "random" not in content.lower(), document
    content, _extra = report_of(run_dir)
    assert "**trained ImageNet weights** (the smoke test checked known answers on real photos)" in content
    assert "| coffee.png | espresso (top-1) | espresso 0.957; cup 0.014; consomme 0.007 | pass |" in content


def test_a_random_weights_run_says_the_known_answer_was_skipped(run_dir):
    content, _extra = report_of(run_dir)
    assert "Known-answer check skipped: the served weights are random: no known answer to check." in content


def test_the_report_shows_the_scheduling_proof_when_the_run_has_one(run_dir):
    """Without k8s/schedulability.json there is no section; with one, its groups and verdicts are tabled."""
    assert "## Scheduling" not in report_of(run_dir)[0]
    (run_dir / "k8s").mkdir(exist_ok=True)
    (run_dir / "k8s" / "schedulability.json").write_text(json.dumps({
        "schedulable": False, "failures": ["x"],
        "nodegroups": [{"name": "gpu-e2e-system", "instance_types": ["t3.medium"], "max_size": 3,
                        "allocatable": {"cpu": 1930, "memory": 3247, "pods": 17, "nvidia.com/gpu": 0},
                        "free_after_daemonsets": {"cpu": 1805, "memory": 3247, "pods": 15, "nvidia.com/gpu": 0}}],
        "workloads": [{"workload": "Deployment kube-system/coredns", "replicas": 2, "fits": True,
                       "groups": ["gpu-e2e-system"]},
                      {"workload": "Deployment apps/big", "replicas": 1, "fits": False, "why": "too big",
                       "groups": []}]}))
    content = report_of(run_dir)[0]
    assert "**1 failure(s)**" in content
    assert ("| gpu-e2e-system | t3.medium | 3 | 1,930m CPU, 3,247 MiB, 17 pods | 1,805m CPU, 3,247 MiB, 15 pods |"
            in content)
    assert "| Deployment kube-system/coredns | 2 | yes | gpu-e2e-system |" in content
    assert "| Deployment apps/big | 1 | NO: too big | - |" in content
    assert content.index("## Scheduling") < content.index("## KPIs")
