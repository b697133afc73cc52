# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence pack: Markdown documents rendered from one run directory.

Documents (all from the same data, so their numbers agree):

* ``report``: ``runs/<stack>/<ts>/report.md``, Problem → Architecture → Run →
  KPIs → Cost → Teardown;
* ``cost_audit``: ``docs/cost-audit.md``, the spend of the run;
* ``case_study``: ``docs/case-study.md``, one page;
* ``post``: ``docs/post.md``, a short shareable write-up with one plot.

Inputs read from the run directory, each optional (a missing piece is said,
never guessed): ``inputs.yml`` (only its stamp), ``aws/*.json``, ``smoke.json``,
``kpis.json``, ``events.json``, ``plots/*.png`` and the plots named in
kpis.json, ``cost.json`` (cost_explorer_info + cost_timeline_info),
``leftovers.json`` (stack_leftovers_info). Pure Python; the module writes the
files.
"""

from __future__ import annotations

import glob
import json
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_prices
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import binary_file
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import combined
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import read_bytes
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import read_text
from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import text_file

# Public reference (NVIDIA DeepLearningExamples): Triton ResNet50 on one T4, ONNX Runtime + TensorRT FP16,
# dynamic batching, 32 concurrent requests. Used only as a labelled comparison, never as a measurement.
REFERENCE_T4_RESNET50_INFER_PER_S = 2050.0
DEFAULT_GPU_INSTANCE = "g4dn.xlarge"

MERMAID = """```mermaid
flowchart LR
  subgraph VPC["VPC (2 AZs, 1 NAT gateway)"]
    subgraph EKS["EKS cluster"]
      GPU["spot GPU node group<br/>{instance}"]
      TRITON["NVIDIA Triton<br/>{model}"]
      PROM["Prometheus + DCGM exporter"]
      GRAF["Grafana"]
    end
    ALB["ALB"]
  end
  LOCUST["Locust load test"] --> ALB --> TRITON
  TRITON --> GPU
  S3["S3 model repository"] --> TRITON
  PROM --> TRITON
  PROM --> GPU
  GRAF --> PROM
```"""


class EvidenceError(Exception):
    """The one error type of the renderer; the module catches it once."""


# -- reading the run directory -------------------------------------------------
def _load_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"_unreadable": f"{os.path.basename(path)}: {exc}"}


def load_run(run_dir, platform_target=None, stack_name=None):
    """Everything the documents need, with None for what the run did not produce."""
    if not os.path.isdir(run_dir):
        raise EvidenceError(f"run directory {run_dir} does not exist")

    def usable(doc):
        return doc if isinstance(doc, dict) and "_unreadable" not in doc else None

    run = {
        "run_dir": os.path.abspath(run_dir),
        "run_id": os.path.basename(os.path.normpath(run_dir)),
        "stack_name": stack_name or os.path.basename(os.path.dirname(os.path.abspath(run_dir))),
        "aws": {},
        "unreadable": [],
    }
    for name in ("kpis", "smoke", "events", "cost", "leftovers"):
        doc = _load_json(os.path.join(run_dir, f"{name}.json"))
        if isinstance(doc, dict) and "_unreadable" in doc:
            run["unreadable"].append(doc["_unreadable"])
        run[name] = usable(doc)
    for path in sorted(glob.glob(os.path.join(run_dir, "aws", "*.json"))):
        doc = _load_json(path)
        if isinstance(doc, dict) and "_unreadable" not in doc:
            run["aws"][os.path.splitext(os.path.basename(path))[0]] = doc
    target = platform_target
    for doc in (run["leftovers"], run["kpis"] and next(iter((run["kpis"].get("scenarios") or {}).values()), None)):
        if not target and isinstance(doc, dict):
            target = doc.get("platform_target")
    run["platform_target"] = target or "unknown"
    run["local"] = run["platform_target"] == "local"
    run["plots"] = collect_plots(run_dir, run["kpis"])
    return run


def collect_plots(run_dir, kpis):
    """[(label, absolute path)] of the PNG plots of the run that exist."""
    found = []
    seen = set()
    for scenario, doc in sorted(((kpis or {}).get("scenarios") or {}).items()):
        for kind, path in sorted((doc.get("plots") or {}).items()):
            if not isinstance(path, str):
                continue
            if not os.path.isfile(path):  # the run directory was moved or copied: look in it
                path = os.path.join(run_dir, "loadtest", scenario, os.path.basename(path))
            path = os.path.abspath(path)
            if os.path.isfile(path) and path not in seen:
                seen.add(path)
                found.append((f"{scenario} {kind}", path))
    for path in sorted(glob.glob(os.path.join(os.path.abspath(run_dir), "plots", "*.png"))):
        if path not in seen:
            seen.add(path)
            found.append((os.path.splitext(os.path.basename(path))[0].replace("_", " "), path))
    return found


# -- numbers ---------------------------------------------------------------
def fmt(value, digits=2, unit=""):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def usd(value, digits=2):
    return "n/a" if value is None else f"${value:,.{digits}f}"


def best_throughput(kpis):
    """(scenario, inferences/s, slo_passed) of the highest SLO-passing throughput; else the highest; else None."""
    headline = (kpis or {}).get("headline") or {}
    rows = []
    for name, row in headline.items():
        rate = row.get("inferences_per_s") or row.get("rps")
        if isinstance(rate, (int, float)) and rate > 0:
            rows.append((bool(row.get("slo_passed")), rate, name))
    if not rows:
        return None
    passed = [r for r in rows if r[0]]
    chosen = max(passed or rows, key=lambda r: r[1])
    return {"scenario": chosen[2], "inferences_per_s": chosen[1], "slo_passed": chosen[0]}


def gpu_prices(cost):
    """(instance type, spot $/h, on-demand $/h) of the run's GPU nodes, from cost.json, with table fallbacks."""
    itype, spot = DEFAULT_GPU_INSTANCE, None
    for item in ((cost or {}).get("estimated") or {}).get("items") or []:
        if item.get("resource") == "instance" and aws_prices.is_gpu_instance_type(item.get("label", "").split(" ")[0]):
            itype = item["label"].split(" ")[0]
            if "spot" in item.get("label", ""):
                spot = item.get("usd_per_hour")
            break
    on_demand = (((cost or {}).get("on_demand_prices") or {}).get(itype) or {}).get("usd_per_hour")
    if on_demand is None:
        on_demand = aws_prices.on_demand_hourly(itype)
    if spot is None:
        spot = aws_prices.spot_hourly(itype)
    return itype, spot, on_demand


def unit_economics(run):
    """Cost per 1M inferences from the measured throughput and the GPU instance price."""
    best = best_throughput(run.get("kpis"))
    itype, spot, on_demand = gpu_prices(run.get("cost"))

    def per_million(price, rate):
        if price is None or not rate:
            return None
        return price / (rate * 3600.0) * 1_000_000

    result = {
        "instance_type": itype,
        "spot_usd_per_hour": spot,
        "on_demand_usd_per_hour": on_demand,
        "measured": None,
        "reference": {
            "inferences_per_s": REFERENCE_T4_RESNET50_INFER_PER_S,
            "what": "public reference, not measured here: Triton ResNet50 on one T4 (TensorRT FP16, dynamic "
                    "batching, 32 concurrent requests), NVIDIA DeepLearningExamples",
            "spot_usd_per_1m": per_million(spot, REFERENCE_T4_RESNET50_INFER_PER_S),
            "on_demand_usd_per_1m": per_million(on_demand, REFERENCE_T4_RESNET50_INFER_PER_S),
        },
    }
    if best:
        result["measured"] = dict(best, spot_usd_per_1m=per_million(spot, best["inferences_per_s"]),
                                  on_demand_usd_per_1m=per_million(on_demand, best["inferences_per_s"]))
    return result


# -- shared blocks -----------------------------------------------------------
def served_weights(run):
    """What smoke.json says the served weights were (trained, random, ...), or None when it does not say."""
    return (run.get("smoke") or {}).get("weights")


def weights_sentence(run):
    """One sentence on the served weights: 'random' only when they are."""
    weights = served_weights(run)
    model = (run.get("smoke") or {}).get("model_name") or "the model"
    if weights == "random":
        return "The built-in model's **weights are random** (its predictions are meaningless)."
    if weights == "trained":
        known = ((run.get("smoke") or {}).get("known_answer") or {})
        checked = " (the smoke test checked known answers on real photos)" if known.get("passed") else ""
        return f"The served model, {model}, has **trained ImageNet weights**{checked}."
    if weights:
        return f"The served model's weights are {weights}."
    return "This run does not record which weights were served."


def weights_phrase(run):
    weights = served_weights(run)
    return f"{weights} model weights" if weights else "unrecorded model weights"


def smoke_image_rows(smoke):
    """The Run section's smoke-image table: each photo's top-3 with probabilities, or why it was skipped."""
    known = (smoke or {}).get("known_answer")
    if not known:
        return []
    if not known.get("checked"):
        return ["", f"Known-answer check skipped: {known.get('reason', 'no reason recorded')}."]
    rows = ["", "Smoke images (top-3 from Triton's classification extension, probabilities from the softmax of "
            "the same output):", "", "| image | expected | top-3 | result |", "|---|---|---|---|"]
    for image in known.get("images") or []:
        top = "; ".join(
            f"{c.get('label') or '#' + str(c.get('index'))} "
            + (f"{c['probability']:.3f}" if c.get("probability") is not None else f"(score {c.get('score')})")
            for c in (image.get("top_5") or [])[:3])
        result = "pass" if image.get("matched") else "FAILED"
        rows.append(f"| {image.get('image')} | {' or '.join(image.get('expect') or [])} "
                    f"(top-{image.get('within', 1)}) | {top} | {result} |")
    return rows


def serving_line(run):
    """What served the model, from smoke.json's server metadata (the version the server reported)."""
    version = ((run.get("smoke") or {}).get("server") or {}).get("version")
    if run["local"]:
        return f"NVIDIA Triton {version or '2.51'} on CPU (onnxruntime through a Python-based backend)"
    return f"NVIDIA Triton {version or '(version not recorded)'} on GPU"


def honesty_banner(run):
    if run["local"]:
        return ("> **Local profile.** AWS was **emulated** (moto on 127.0.0.1): nothing was created in a real "
                "account and nothing was billed. The model was served by " + serving_line(run) + ". "
                f"{weights_sentence(run)} "
                "Every latency and throughput figure is a **CPU figure** (onnxruntime on the "
                "controller), not a GPU figure. Costs are what the recorded timeline would cost on AWS at list "
                "prices; the \"billed\" column comes from the emulator's Cost Explorer, seeded from the same "
                "timeline.")
    if run["platform_target"] == "aws":
        return f"> **AWS profile.** Real AWS resources, {serving_line(run)}; figures measured in this run."
    return "> Profile unknown: this run directory does not say whether AWS was real or emulated."


def diagram(run):
    itype, _spot, _od = gpu_prices(run.get("cost"))
    model = (run.get("smoke") or {}).get("model_name") or "ONNX model"
    return MERMAID.format(instance=itype + (" (emulated)" if run["local"] else ""),
                          model=model + (" (Triton on CPU)" if run["local"] else ""))


def utilisation_column(headline):
    """The utilisation column's title, from the KPIs' labels.

    GPU utilisation on aws; locally the host CPU Triton reports (nv_cpu_utilization, % of all cores). Runs
    recorded before tritonserver served locally measured the serving process in % of one core.
    """
    labels = {row.get("utilisation_label") or "" for row in headline.values()}
    if len(labels) == 1:
        label = labels.pop()
        if "GPU" in label and "not GPU" not in label:
            return "GPU utilisation"
        if "CPU" in label and "one core" in label:
            return "runtime CPU (% of one core)"
        if "CPU" in label:
            return "host CPU (% of all cores)"
    return "utilisation"


def kpi_rows(kpis):
    headline = (kpis or {}).get("headline") or {}
    rows = ["| scenario | P50 ms | P95 ms | P99 ms | req/s | inferences/s | errors % | "
            f"{utilisation_column(headline)} | SLO |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for name, row in sorted(headline.items()):
        verdict = {True: "PASS", False: "FAIL"}.get(row.get("slo_passed"), "not judged")
        util = row.get("utilisation_avg_pct")
        rows.append(f"| {name} | {fmt(row.get('p50_ms'), 1)} | {fmt(row.get('p95_ms'), 1)} | "
                    f"{fmt(row.get('p99_ms'), 1)} | {fmt(row.get('rps'), 1)} | {fmt(row.get('inferences_per_s'), 1)}"
                    f" | {fmt(row.get('error_rate_pct'), 2)} | {fmt(util, 0, ' %') if util is not None else 'n/a'} "
                    f"| {verdict} |")
    return rows


def slo_rows(kpis):
    rows = ["| scenario | SLO | target | measured | verdict |", "|---|---|---:|---:|---|"]
    for name, doc in sorted(((kpis or {}).get("scenarios") or {}).items()):
        for result in (doc.get("slo") or {}).get("results") or []:
            rows.append(f"| {name} | {result.get('kpi', result.get('slo'))} | {result.get('comparison', '')} "
                        f"{fmt(result.get('target'), 2)} | {fmt(result.get('measured'), 2)} | "
                        f"{'PASS' if result.get('passed') else 'FAIL'} |")
    return rows if len(rows) > 2 else []


def cost_rows(cost):
    est = (cost or {}).get("estimated") or {}
    billed = (cost or {}).get("billed") or {}
    gpu_e = est.get("gpu_hours") or {}
    gpu_b = billed.get("gpu_hours") or {}
    flag = "" if billed.get("complete") else " (incomplete: billing lag)"
    return [
        "| figure | estimated (timeline x prices) | billed (Cost Explorer) |",
        "|---|---:|---:|",
        f"| total spend | {usd(est.get('total_usd'), 4)} | {usd(billed.get('total_usd'), 4)}{flag} |",
        f"| GPU hours, spot | {fmt(gpu_e.get('spot'), 2)} | {fmt(gpu_b.get('spot'), 2)} |",
        f"| GPU hours, on-demand | {fmt(gpu_e.get('on_demand'), 2)} | {fmt(gpu_b.get('on_demand'), 2)} |",
        f"| NAT gateway hours | {fmt(est.get('nat_gateway_hours'), 2)} | {fmt(billed.get('nat_gateway_hours'), 2)} |",
        f"| spot savings vs on-demand | {usd(est.get('spot_savings_usd'), 4)} | "
        f"{usd(billed.get('spot_savings_usd'), 4)} |",
    ]


def unit_rows(econ):
    rows = ["| throughput | inferences/s | $ per 1M inferences (spot) | $ per 1M inferences (on-demand) |",
            "|---|---:|---:|---:|"]
    measured = econ.get("measured")
    if measured:
        label = f"measured, scenario `{measured['scenario']}`" + ("" if measured["slo_passed"] else " (SLO failed)")
        rows.append(f"| {label} | {fmt(measured['inferences_per_s'], 1)} | {usd(measured['spot_usd_per_1m'], 2)} | "
                    f"{usd(measured['on_demand_usd_per_1m'], 2)} |")
    ref = econ["reference"]
    rows.append(f"| public reference (T4, ResNet50, not measured here) | {fmt(ref['inferences_per_s'], 0)} | "
                f"{usd(ref['spot_usd_per_1m'], 4)} | {usd(ref['on_demand_usd_per_1m'], 4)} |")
    return rows


def leftover_verdict(leftovers):
    if leftovers is None:
        return None
    count = leftovers.get("count", len(leftovers.get("leftovers") or []))
    verdict = str(leftovers.get("verdict") or "")
    failed = ", ".join(s.get("step", "?") for s in leftovers.get("failed_steps") or [])
    if verdict.startswith("unknown"):  # the state the check looked at was lost: never "0 leftovers"
        return f"**{verdict}** (checked at {leftovers.get('checked_at', '?')})."
    if failed:
        return f"**{count} leftovers; teardown steps failed: {failed}** (checked at " \
               f"{leftovers.get('checked_at', '?')})."
    if count == 0:
        return f"**0 leftovers**: nothing of stack `{leftovers.get('stack_name', '?')}` is left (checked at " \
               f"{leftovers.get('checked_at', '?')})."
    return f"**{count} leftovers**, about {usd(leftovers.get('est_usd_per_day_total'))}/day (checked at " \
           f"{leftovers.get('checked_at', '?')})."


def leftover_rows(leftovers):
    rows = []
    items = (leftovers or {}).get("leftovers") or []
    if items:
        rows += ["| service/type | id | name | why | $/day |", "|---|---|---|---|---:|"]
        for item in items:
            rows.append(f"| {item.get('service')}/{item.get('type')} | `{item.get('id')}` | {item.get('name', '')} | "
                        f"{item.get('reason', '')} | {usd(item.get('est_usd_per_day'))} |")
    return rows


def rel(path, start_dir):
    return os.path.relpath(path, start_dir).replace(os.sep, "/")


def _lines(*blocks):
    out = []
    for block in blocks:
        if block is None:
            continue
        if isinstance(block, str):
            out.append(block)
        else:
            out.extend(block)
    return "\n".join(out).rstrip() + "\n"


# -- documents ----------------------------------------------------------------
# --- Scheduling: the offline proof of k8s/schedulability.json ---------------------------------------------
def scheduling_rows(run):
    """The '## Scheduling' section: where each workload may run, and what did not fit."""
    doc = _load_json(os.path.join(run["run_dir"], "k8s", "schedulability.json"))
    if not isinstance(doc, dict) or "_unreadable" in doc or "workloads" not in doc:
        return []
    verdict = ("**every workload fits**." if doc.get("schedulable")
               else f"**{len(doc.get('failures') or [])} failure(s)**.")
    out = ["## Scheduling", "",
           "Offline proof that every rendered workload fits the planned node groups at their max size "
           "(k8s/schedulability.json): " + verdict, "",
           "| node group | types | max | allocatable per node | left after DaemonSets |", "|---|---|---:|---|---|"]
    for group in doc.get("nodegroups") or []:
        alloc, free = group.get("allocatable") or {}, group.get("free_after_daemonsets") or {}

        def res(r):
            text = f"{fmt(r.get('cpu'), 0)}m CPU, {fmt(r.get('memory'), 0)} MiB, {r.get('pods', '?')} pods"
            return text + (f", {fmt(r.get('nvidia.com/gpu'), 0)} GPU" if r.get("nvidia.com/gpu") else "")
        out.append(f"| {group.get('name')} | {', '.join(group.get('instance_types') or [])} | "
                   f"{group.get('max_size')} | {res(alloc)} | {res(free)} |")
    out += ["", "| workload | replicas | fits | on |", "|---|---:|---|---|"]
    for work in doc.get("workloads") or []:
        replicas = work.get("replicas") if work.get("replicas") is not None else "per node"
        fits = "yes" if work.get("fits") else "NO: " + str(work.get("why"))
        out.append(f"| {work.get('workload')} | {replicas} | {fits} | {', '.join(work.get('groups') or []) or '-'} |")
    return out + [""]


def render_report(run, dest_dir):
    """report.md: Problem → Architecture → Run → KPIs → Cost → Teardown."""
    kpis, cost, leftovers, smoke = run["kpis"], run["cost"], run["leftovers"], run["smoke"]
    econ = unit_economics(run)
    out = [f"# Evidence pack: stack `{run['stack_name']}`, run {run['run_id']}", "", honesty_banner(run), ""]

    out += ["## Problem", "",
            "Serve an image classifier on GPUs behind an SLO (P95 latency, error rate, throughput), know what "
            "it costs per million inferences, and prove that nothing is left billing afterwards.", ""]
    targets = _slo_targets(kpis)
    if targets:
        out += ["SLO targets: " + ", ".join(targets) + ".", ""]

    out += ["## Architecture", "", diagram(run), ""]
    ids = _resource_rows(run["aws"])
    if ids:
        out += ["Resources recorded by this run:", "", *ids, ""]

    out += ["## Run", "", "| item | value |", "|---|---|",
            f"| run | `{run['run_id']}` |", f"| profile | {run['platform_target']} |",
            f"| stack | `{run['stack_name']}` |"]
    if smoke:
        top = (smoke.get("top_k") or [{}])[0]
        out += [f"| model | {smoke.get('model_name', '?')} v{smoke.get('model_version', '?')} "
                f"({smoke.get('platform', '?')}) |",
                f"| smoke test | {'passed' if smoke.get('passed') else 'FAILED'}: P50 "
                f"{fmt((smoke.get('latency_ms') or {}).get('p50'), 2)} ms over "
                f"{(smoke.get('latency_ms') or {}).get('requests', '?')} requests, top-1 class {top.get('index', '?')}"
                + (" of a synthetic image (random weights: the class is meaningless)"
                   if served_weights(run) == "random" else " of a synthetic image") + " |"]
    else:
        out += ["| smoke test | not run in this run (no smoke.json) |"]
    out += smoke_image_rows(smoke)
    out += [""]
    events = (run["events"] or {}).get("events") or []
    if events:
        out += ["Events (annotations):", ""]
        out += [f"- {e.get('time', '?')}" + (f" → {e['time_end']}" if e.get("time_end") else "")
                + f": {e.get('text', '')}" for e in events[:40]]
        if len(events) > 40:
            out += [f"- ... and {len(events) - 40} more in events.json"]
        out += [""]

    out += scheduling_rows(run)

    out += ["## KPIs", ""]
    if kpis:
        passed = (kpis.get("slo") or {}).get("passed")
        out += [f"SLO gate: **{'PASSED' if passed else 'FAILED'}**"
                f"{'' if (kpis.get('slo') or {}).get('enforced', True) else ' (not enforced)'}.", ""]
        out += kpi_rows(kpis) + [""]
        slo = slo_rows(kpis)
        if slo:
            out += slo + [""]
        for note in kpis.get("notes") or []:
            out += [f"- {note}"]
        if kpis.get("notes"):
            out += [""]
    else:
        out += ["The load test did not run in this run (no kpis.json): there are no KPIs to report.", ""]
    if run["plots"]:
        for label, path in run["plots"]:
            out += [f"![{label}]({rel(path, dest_dir)})", ""]

    out += ["## Cost", ""]
    if cost:
        out += cost_rows(cost) + [""]
        out += [f"Billed figures: {(cost.get('billed') or {}).get('note', '')}", ""]
        out += unit_rows(econ) + [""]
        out += _cost_method(cost, run)
    else:
        out += ["No cost audit yet: it runs in `playbooks/teardown.yml` (cost_explorer_info).", ""]

    out += ["## Teardown", ""]
    verdict = leftover_verdict(leftovers)
    if verdict:
        out += [verdict, ""] + leftover_rows(leftovers)
        untagged = (leftovers or {}).get("untagged_in_stack_vpcs") or []
        if untagged:
            out += ["", f"{len(untagged)} untagged resources were seen in the stack's VPCs or named like the stack's;"
                    " they are not the stack's and were not touched: "
                    + ", ".join(f"`{u.get('id')}`" for u in untagged[:10])]
    else:
        out += ["Teardown has not run yet: `ansible-playbook playbooks/teardown.yml -e teardown_confirm=true` "
                "deletes the stack, checks for leftovers and completes this report."]
    if run["unreadable"]:
        out += ["", "Unreadable inputs: " + "; ".join(run["unreadable"])]
    return _lines(out)


def _slo_targets(kpis):
    labels = {"p95_ms": "P95 latency <= {} ms", "error_rate_pct": "error rate <= {} %",
              "min_throughput_rps": "throughput >= {} req/s"}
    for doc in ((kpis or {}).get("scenarios") or {}).values():
        targets = (doc.get("slo") or {}).get("targets")
        if targets:
            return [labels.get(k, k + " {}").format(fmt(v, 0 if float(v).is_integer() else 2))
                    for k, v in targets.items()]
    return []


def _resource_rows(aws):
    rows = []
    picks = (("vpc", "vpc_id"), ("vpc", "nat_gateway_id"), ("eks", "cluster_name"), ("gpu_nodegroup", "nodegroup_name"),
             ("model_s3", "bucket"), ("ecr", "name"), ("triton_iam", "triton_role_arn"), ("budget", "name"))
    for record, key in picks:
        value = (aws.get(record) or {}).get(key)
        if value:
            rows.append(f"- {record}.{key}: `{value}`")
    return rows


def _cost_method(cost, run):
    tags = cost.get("cost_allocation_tags") or {}
    prices = cost.get("on_demand_prices") or {}
    out = ["How these figures were made:", "",
           f"- Window: {(cost.get('window') or {}).get('start')} → {(cost.get('window') or {}).get('end')} "
           f"({fmt((cost.get('window') or {}).get('hours'), 2)} h).",
           "- Estimated: " + ((cost.get("estimated") or {}).get("basis") or "timeline x prices") + "."]
    for itype, price in sorted(prices.items()):
        out.append(f"- On-demand price of {itype}: {usd(price.get('usd_per_hour'), 4)}/h ({price.get('source')}).")
    if tags:
        out.append("- Cost allocation tags: " + ", ".join(f"`{k}` {v}" for k, v in sorted(tags.items())) + ".")
    out.append("- Cost per 1M inferences = instance $/h / (inferences/s x 3600) x 1,000,000"
               + (" — locally the throughput is a CPU figure, so this number only shows the method."
                  if run["local"] else "."))
    return out + [""]


def render_cost_audit(run, dest_dir):
    cost, leftovers = run["cost"], run["leftovers"]
    econ = unit_economics(run)
    out = [f"# Cost audit: stack `{run['stack_name']}`, run {run['run_id']}", "",
           "_Generated by the cost_audit role from the run directory; do not edit by hand._", "",
           honesty_banner(run), ""]
    if not cost:
        out += ["No cost audit recorded in this run (no cost.json).", ""]
    else:
        billed = cost.get("billed") or {}
        est = cost.get("estimated") or {}
        out += ["## Headline", "",
                f"- Total spend: {usd(est.get('total_usd'), 4)} estimated, {usd(billed.get('total_usd'), 4)} billed"
                f"{'' if billed.get('complete') else ' (billed figures incomplete: Cost Explorer lags ~24 h)'}.",
                f"- GPU hours: {fmt((est.get('gpu_hours') or {}).get('total'), 2)} "
                f"({fmt((est.get('gpu_hours') or {}).get('spot'), 2)} spot).",
                f"- Spot savings: {usd(est.get('spot_savings_usd'), 4)} versus on-demand.",
                f"- NAT gateway hours: {fmt(est.get('nat_gateway_hours'), 2)}."]
        measured = econ.get("measured")
        if measured:
            out.append(f"- Cost per 1M inferences: {usd(measured['spot_usd_per_1m'])} on spot, "
                       f"{usd(measured['on_demand_usd_per_1m'])} on-demand, at the measured "
                       f"{fmt(measured['inferences_per_s'], 1)} inferences/s"
                       + (" (a CPU figure)" if run["local"] else "") + ".")
        else:
            out.append("- Cost per 1M inferences: no measured throughput in this run (no kpis.json).")
        out.append("- Leftovers: " + (leftover_verdict(leftovers) or "not checked yet."))
        out += ["", "## Estimated and billed", "", *cost_rows(cost), "",
                f"Billing lag: {billed.get('note', 'n/a')}", "", "## By service (billed)", "",
                "| service | USD |", "|---|---:|"]
        out += [f"| {svc} | {usd(amount, 4)} |" for svc, amount in sorted((billed.get("by_service") or {}).items())]
        if not billed.get("by_service"):
            out += ["| (no billed data in the window yet) | |"]
        out += ["", "## Timeline (estimated)", "", "| what | count | from | to | hours | $/h | USD | source |",
                "|---|---:|---|---|---:|---:|---:|---|"]
        for item in est.get("items") or []:
            out.append(f"| {item.get('label')} | {item.get('count')} | {item.get('start')} | {item.get('end')} | "
                       f"{fmt(item.get('hours'), 3)} | {usd(item.get('usd_per_hour'), 4)} | "
                       f"{usd(item.get('usd'), 4)} | {item.get('source', '')} |")
        out += ["", "## Cost per 1M inferences", "", *unit_rows(econ), "", *_cost_method(cost, run)]
    out += ["## Activating the cost allocation tags (real AWS)", "",
            "Cost Explorer filters by tag only for **activated cost allocation tags**, and only for usage after "
            "activation. Once per payer account, after the tags have appeared on a resource:", "",
            "```bash",
            "aws ce update-cost-allocation-tags-status --cost-allocation-tags-status \\",
            "  TagKey=stack,Status=Active TagKey=project,Status=Active",
            "aws ce list-cost-allocation-tags --tag-keys stack project   # Status: Active",
            "```", "",
            "(Console: Billing and Cost Management → Cost allocation tags → select `stack` and `project` → "
            "Activate.) Activation can take up to 24 hours to show; until then the billed column stays at $0 "
            "while the estimate is already right. Each Cost Explorer API request costs $0.01.", ""]
    return _lines(out)


def headline_numbers(run):
    """The few numbers the case study and the post lead with."""
    kpis = run["kpis"] or {}
    best = best_throughput(kpis)
    row = ((kpis.get("headline") or {}).get(best["scenario"]) if best else None) or {}
    econ = unit_economics(run)
    est = (run["cost"] or {}).get("estimated") or {}
    return {
        "scenario": best["scenario"] if best else None,
        "inferences_per_s": best["inferences_per_s"] if best else None,
        "p95_ms": row.get("p95_ms"),
        "p99_ms": row.get("p99_ms"),
        "error_rate_pct": row.get("error_rate_pct"),
        "slo_passed": (kpis.get("slo") or {}).get("passed") if kpis else None,
        "spot_usd_per_1m": (econ.get("measured") or {}).get("spot_usd_per_1m"),
        "total_usd": est.get("total_usd"),
        "spot_savings_usd": est.get("spot_savings_usd"),
        "gpu_hours": (est.get("gpu_hours") or {}).get("total"),
        "leftovers": (run["leftovers"] or {}).get("count") if run["leftovers"] else None,
        "instance_type": econ["instance_type"],
    }


def _headline_bullets(run, numbers):
    cpu = " (CPU figure)" if run["local"] else ""
    out = []
    if numbers["inferences_per_s"] is not None:
        out.append(f"- **{fmt(numbers['inferences_per_s'], 1)} inferences/s** at P95 {fmt(numbers['p95_ms'], 0)} ms, "
                   f"{fmt(numbers['error_rate_pct'], 2)} % errors (scenario `{numbers['scenario']}`){cpu}; SLO gate "
                   f"{'passed' if numbers['slo_passed'] else 'failed'}.")
    else:
        out.append("- No load test in this run: no latency or throughput figures.")
    if numbers["spot_usd_per_1m"] is not None:
        out.append(f"- **{usd(numbers['spot_usd_per_1m'])} per 1M inferences** on a spot {numbers['instance_type']} "
                   f"at that throughput{cpu}.")
    if numbers["total_usd"] is not None:
        out.append(f"- Run cost {usd(numbers['total_usd'], 4)} (estimated; {fmt(numbers['gpu_hours'], 2)} GPU hours, "
                   f"{usd(numbers['spot_savings_usd'], 4)} saved by spot)"
                   + (" — emulated, nothing was billed" if run["local"] else "") + ".")
    if numbers["leftovers"] is not None:
        out.append(f"- **{numbers['leftovers']} leftovers** after teardown.")
    return out


def _first_plot(run):
    preferred = [p for p in run["plots"] if "throughput" in p[0] or "sweep" in p[0]]
    return (preferred or run["plots"] or [None])[0]


def render_case_study(run, dest_dir):
    numbers = headline_numbers(run)
    out = [f"# Case study: a measured GPU inference platform, torn down to zero ({run['stack_name']})", "",
           f"_Generated from run `{run['run_id']}` ({run['platform_target']} profile); do not edit by hand._", "",
           honesty_banner(run), "",
           "**Problem.** GPU inference blueprints stand a stack up, but rarely say whether it met its latency "
           "objective, what a million inferences cost, or whether teardown left anything billing.", "",
           "**Approach.** One Ansible collection provisions VPC → EKS → spot GPU node group → NVIDIA Triton → "
           "Prometheus/Grafana, load-tests it with Locust against an SLO gate, tears it down in reverse order "
           "touching only resources tagged with the stack, proves nothing is left, and audits the spend with "
           "Cost Explorer (estimated now, billed after the ~24 h lag). The same code runs offline against an "
           "embedded AWS emulator and NVIDIA Triton on CPU, so every path is tested in CI.", "",
           diagram(run), "", "**Results.**", "", *_headline_bullets(run, numbers), ""]
    if run["kpis"]:
        out += kpi_rows(run["kpis"]) + [""]
    if run["cost"]:
        out += cost_rows(run["cost"]) + [""]
    out += ["**Caveats.** "
            + (f"Local figures are CPU figures with {weights_phrase(run)} and emulated AWS; they demonstrate the "
               "method, not GPU performance. " if run["local"] else "")
            + "Cost estimates use list prices and exclude data transfer; billed figures are final only after the "
              "billing lag.", "",
            f"Full evidence: `runs/{run['stack_name']}/{run['run_id']}/report.md`."]
    return _lines(out)


def render_post(run, dest_dir, plot_dest=None):
    numbers = headline_numbers(run)
    out = [f"# GPU inference, measured and torn down to zero: {run['stack_name']}", "",
           "_Short write-up generated from run `" + run["run_id"] + "`._", ""]
    if run["local"]:
        out += [f"*Local run: AWS emulated, {weights_phrase(run)}, CPU figures — the method, not GPU numbers.*", ""]
    out += ["I built an Ansible collection that stands up a GPU inference platform on AWS (EKS, spot GPU nodes, "
            "NVIDIA Triton, Prometheus/Grafana), load-tests it against an SLO, tears it down and proves nothing "
            "is left, then audits the bill. Headline numbers from one run:", "", *_headline_bullets(run, numbers), ""]
    if plot_dest:
        out += [f"![{os.path.splitext(os.path.basename(plot_dest))[0]}]({rel(plot_dest, dest_dir)})", ""]
    out += ["The whole lifecycle is two commands (`make run`, `make test`) and runs offline in CI."]
    return _lines(out)


def render(document, run_dir, dest, platform_target=None, stack_name=None, plot_dest=None):
    """(content, extra) of one document; ``extra`` says which plot the post wants copied where."""
    run = load_run(run_dir, platform_target, stack_name)
    dest_dir = os.path.dirname(os.path.abspath(dest))
    extra = {"missing": [n for n in ("kpis", "smoke", "events", "cost", "leftovers") if run[n] is None],
             "plot_source": None}
    if document == "report":
        return render_report(run, dest_dir), extra
    if document == "cost_audit":
        return render_cost_audit(run, dest_dir), extra
    if document == "case_study":
        return render_case_study(run, dest_dir), extra
    if document == "post":
        plot = _first_plot(run)
        if plot and plot_dest:
            extra["plot_source"] = plot[1]
            return render_post(run, dest_dir, plot_dest), extra
        return render_post(run, dest_dir, plot[1] if plot else None), extra
    raise EvidenceError(f"unknown document {document!r}")


def write_if_changed(path, content, check_mode=False, diffs=None):
    """Write ``content`` to ``path`` unless it is already there; True when it changed (or would).

    The change (before/after text) is appended to ``diffs`` when given.
    """
    before = read_text(path)
    if before == content:
        return False
    if diffs is not None:
        diffs.append(text_file(path, before, content))
    if not check_mode:
        write_atomic(path, content)
    return True


def copy_if_changed(src, dest, check_mode=False, diffs=None):
    """Copy ``src`` to ``dest`` unless it holds the same bytes; the change (as digests) goes to ``diffs``."""
    with open(src, "rb") as handle:
        data = handle.read()
    before = read_bytes(dest)
    if before == data:
        return False
    if diffs is not None:
        diffs.append(binary_file(dest, before, data))
    if not check_mode:
        write_atomic(dest, data)
    return True


def write_document(params, check_mode=False):
    """Render ``params["document"]`` and write it (and the post's plot) when it changed; the module's result.

    Check mode renders the same document and compares it, writing nothing, so it reports the same change.
    """
    content, extra = render(params["document"], params["run_dir"], params["dest"], params.get("platform_target"),
                            params.get("stack_name"), params.get("plot_dest"))
    changed = False
    plot = None
    diffs = []
    if extra["plot_source"]:
        plot = params["plot_dest"]
        changed |= copy_if_changed(extra["plot_source"], plot, check_mode, diffs)
    changed |= write_if_changed(params["dest"], content, check_mode, diffs)
    return {"changed": changed, "dest": params["dest"], "missing": extra["missing"], "plot": plot,
            "diff": combined(diffs)}
