"""The `glm-eval` command line.

Exit codes: 0 success; 1 a provider refused (wrong key, unknown model id) or, for `check`, a
regression; 2 bad input (named with its fix, before anything is sent); 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from harness import __version__
from harness.errors import UserError, exit_status


def _run_flags(p: argparse.ArgumentParser, one_provider: bool = True) -> None:
    """Flags shared by `run` and `audit`; None means "not given" so a suite file's value stands.
    `audit` names its providers otherwise (`one_provider` False)."""
    g = p.add_argument_group("what to run")
    if one_provider:
        _provider_flags(g)
    _what_flags(g)
    _rest_flags(p)


def _provider_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--provider", help="a preset from configs/providers.yaml (see `glm-eval providers`); 'simulated' starts the offline simulator, "
                                      "'simulated@PROFILE' one of its provider profiles; 'openrouter@HOST' pins one upstream host")
    g.add_argument("--base-url", help="send to this OpenAI-compatible server instead (with no --provider, model names are sent as given)")
    g.add_argument("--api-key-env", help="the environment variable holding the key (the key itself is never a flag)")


def _what_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--models", help="comma-separated variants, e.g. glm-4.5,glm-4.5-air (see `glm-eval models`)")
    g.add_argument("--tasks", help="comma-separated task ids or task .yaml paths (see `glm-eval tasks`)")
    g.add_argument("--samples", type=int, help="samples per item (default: the task's own, as published: MATH-500 3, AIME 32, GPQA 8)")
    g.add_argument("--limit", type=int, help="a fixed, seeded subset of N items per task (the same N every time)")
    g.add_argument("--items", help="comma-separated item ids to run")
    g.add_argument("--seed", type=int, help="run seed: sent as a per-sample seed where the provider takes one, and shuffles choices (default 0)")
    g.add_argument("--protocol", choices=["strict", "zai-kit", "strict,zai-kit", "zai-kit,strict"], metavar="strict|zai-kit|strict,zai-kit",
                   help="strict (default): glm-eval's own rules; zai-kit: send and grade as Z.ai's glm-simple-evals does (no top_p, "
                        "cut-off reasoning graded, a checker model: needs --judge); 'strict,zai-kit' runs both and breaks down the gap")


def _rest_flags(p: argparse.ArgumentParser) -> None:
    from harness.providers import MAX_TOKENS, TEMPERATURE, TOP_P

    s = p.add_argument_group("sampling (defaults: the published GLM-4.5 protocol)")
    s.add_argument("--temperature", type=float, help=f"default {TEMPERATURE}")
    s.add_argument("--top-p", type=float, dest="top_p", help=f"default {TOP_P}")
    s.add_argument("--max-tokens", type=int, dest="max_tokens", help=f"default {MAX_TOKENS}, room for long thinking as in Z.ai's kit")
    s.add_argument("--thinking", choices=["on", "off", "on,off", "off,on"], metavar="on|off|on,off",
                   help="default on; 'on,off' runs both, one run folder each under --out, and reports them paired")
    s.add_argument("--no-stream", dest="stream", action="store_const", const=False, help="ask for whole JSON responses instead of SSE streams")
    rt = p.add_argument_group("routing on an aggregator (OpenRouter's provider preferences; --provider openrouter@HOST pins one host)")
    rt.add_argument("--route-order", dest="route_order", help="comma-separated upstream hosts to try in order, e.g. deepinfra,novita")
    rt.add_argument("--no-fallbacks", dest="allow_fallbacks", action="store_const", const=False, help="only the hosts of --route-order may answer")
    rt.add_argument("--quantizations", help="only hosts serving these quantizations, e.g. fp8,bf16")
    r = p.add_argument_group("how to send")
    r.add_argument("--concurrency", type=int, help="requests in flight per model (default: the provider's)")
    r.add_argument("--rpm", type=int, help="client-side requests-per-minute limit, 0 for none (default: the provider's)")
    r.add_argument("--timeout", type=float, dest="timeout_s", help="seconds to wait for a response (default 900)")
    r.add_argument("--max-attempts", type=int, dest="max_attempts", help="tries per request on 429/5xx/timeouts (default 6)")
    r.add_argument("--backoff", type=float, dest="backoff_s", help="seconds before the first retry, doubling each try, with jitter (default 1)")
    r.add_argument("--sim-time-scale", type=float, dest="sim_time_scale", help="simulated provider: 1.0 is real time (default 0.01)")
    o = p.add_argument_group("where")
    o.add_argument("--data-dir", type=Path, dest="data_dir", help="a local mirror laid out <hub-id>/<file> (or GLM_EVAL_DATA_DIR)")
    o.add_argument("--out", type=Path, help="the run's folder (default results/<time>-<provider>)")
    o.add_argument("--store", type=Path, help="the response store (default results/store.sqlite)")
    j = p.add_argument_group("judge model (off by default)")
    j.add_argument("--judge", help="PROVIDER:MODEL (or MODEL on the run's provider): reads GPQA letters for gpqa_diamond:zai-judge")
    j.add_argument("--judge-fallback", dest="judge_fallback", action="store_const", const=True,
                   help="also ask the judge whether a math answer the rules call different is equivalent (as Z.ai's kit does)")
    c = p.add_argument_group("cost")
    c.add_argument("--max-cost", type=float, dest="max_cost", help="stop sending once the spend, counting the worst case in flight, would pass this")
    c.add_argument("--price-as", dest="price_as", help="price the run with this preset of configs/prices.yaml (default: the provider's)")
    b = p.add_argument_group("batch (a provider's OpenAI-style batch API: Files + Batches)")
    b.add_argument("--batch", action="store_const", const=True,
                   help="send the missing requests as batches, at the batch price; answers land in the same store, and a "
                        "rerun collects batches an interrupted run submitted instead of paying again")
    b.add_argument("--batch-poll", type=float, dest="batch_poll_s", help="seconds between looks at a submitted batch (default 30)")
    p.add_argument("--cache-only", dest="cache_only", action="store_const", const=True,
                   help="replay: use only responses already in the store and send nothing (a missing one is an error naming it)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, its token and cost estimate, and send nothing")
    p.add_argument("--resend-filtered", dest="resend_filtered", action="store_const", const=True,
                   help="send again the items a provider's content filter refused (kept and not sent again otherwise)")
    p.add_argument("--probe", action="store_const", const=True,
                   help="first send `glm-eval probe`'s few requests per variant, print what they found and record it in the manifest")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glm-eval",
        description="Reasoning benchmarks for the GLM-4.5 family over OpenAI-compatible APIs.",
    )
    parser.add_argument("--version", action="version", version=f"glm-eval {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an evaluation", description="Run models x tasks; resumes from the store.")
    run.add_argument("suite", nargs="?", type=Path, help="a suite file (configs/suites/*.yaml); flags override its fields")
    _run_flags(run)
    run.add_argument("--no-report", dest="no_report", action="store_true", help="print the summary but write no report (charts take a few seconds)")
    seq = run.add_argument_group("a check in rounds (sends only what undecided cells still need)")
    seq.add_argument("--until-decided", dest="until_decided", action="store_true",
                     help="check against --baseline after each round of items, and stop sending to a model x task once it is decided")
    seq.add_argument("--baseline", type=Path, help="with --until-decided: a file written by `glm-eval baseline`")
    seq.add_argument("--rounds", type=int, default=4, help="looks per cell, each a further share of the baseline's items (default 4)")
    seq.add_argument("--tolerance", type=float, default=1.0, help="as `check --tolerance` (default 1.0 points)")
    seq.add_argument("--alpha", type=float, default=0.05, help="as `check --alpha`, spent over the looks (default 0.05)")
    seq.add_argument("--require-conclusive", dest="require_conclusive", action="store_true",
                     help="as `check --require-conclusive`: exit 3 when a cell is left undecided")
    run.set_defaults(func=cmd_run)

    audit = sub.add_parser(
        "audit", help="the same variants and items through several providers, each paired with the first",
        description="Run the same plan on every provider of --providers (one run folder each, one store, probed first) and "
                    "compare each with the first, item by item: accuracy difference with its interval and a verdict, "
                    "truncation, refusals and failures, tokens, latency, rate limits, cost per correct answer, and what each "
                    "provider honours. Writes AUDIT/report/. `glm-eval check AUDIT --tolerance T` gates on it.",
    )
    audit.add_argument("suite", nargs="?", type=Path, help="a suite file (configs/suites/*.yaml); flags override its fields")
    audit.add_argument("--providers", required=True,
                       help="comma-separated providers, the reference first: presets, openrouter@HOST (one upstream host, no "
                            "fallbacks), simulated@PROFILE (a simulator provider profile), e.g. zai,openrouter,local")
    audit.add_argument("--reference", help="the provider every other is paired with (default: the first of --providers)")
    _run_flags(audit, one_provider=False)
    audit.set_defaults(func=cmd_audit)

    demo = sub.add_parser("demo", help="all five variants on MATH-500, AIME 2024 and GPQA-Diamond against the simulated endpoint, offline")
    demo.add_argument("--limit", type=int, help="items per task (default: all)")
    demo.add_argument("--out", type=Path, default=Path("results/demo"))
    demo.add_argument("--data-dir", type=Path, dest="data_dir")
    demo.set_defaults(func=cmd_demo)

    probe = sub.add_parser("probe", help="a few cheap requests per variant: what the provider honours and sends back",
                           description="Per variant: does the key work and the model id exist, are thinking on and off honoured, "
                                       "which field carries the reasoning, do usage and reasoning tokens come back (streamed and not), "
                                       "the context limit where the server publishes it, the time to first token.")
    probe.add_argument("--provider", help="a preset from configs/providers.yaml")
    probe.add_argument("--base-url", help="an OpenAI-compatible server (alone: model names are sent as given)")
    probe.add_argument("--api-key-env", help="the environment variable holding the key")
    probe.add_argument("--models", help="comma-separated variants (default: every variant the provider offers)")
    probe.add_argument("--json", type=Path, dest="json_out", help="also write the findings to this JSON file")
    probe.set_defaults(func=cmd_probe)

    sim = sub.add_parser("sim", help="serve the simulated OpenAI-compatible endpoint")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    sim.add_argument("--tasks", default="math500", help="tasks whose answer key the simulator knows")
    sim.add_argument("--answer-key", type=Path, dest="answer_key", help="instead of --tasks: a JSONL file of {task, question, gold, kind}")
    sim.add_argument("--data-dir", type=Path, dest="data_dir")
    sim.add_argument("--time-scale", type=float, default=1.0, dest="time_scale", help="1.0 is real time")
    sim.add_argument("--log", type=Path, help="append one JSON line per request")
    sim.add_argument("--profiles", type=Path, help="per-variant profiles (default configs/simulator.yaml)")
    sim.add_argument("--stream-usage", choices=["always", "when_asked"], default="always", dest="stream_usage",
                     help="usage in every stream's last chunk (Z.ai; default), or only with stream_options.include_usage (vLLM, SGLang)")
    sim.add_argument("--max-model-len", type=int, dest="max_model_len",
                     help="a context limit as vLLM's: published in /v1/models, and longer requests refused with HTTP 400")
    sim.add_argument("--reasoning-format", choices=["field", "think_tags"], default="field", dest="reasoning_format",
                     help="reasoning in reasoning_content (default), or in <think> tags inside content (vLLM without a reasoning parser)")
    sim.add_argument("--provider-profile", dest="provider_profile",
                     help="play one host serving the models, a name under `providers` in the profiles file: its accuracy, "
                          "thinking switch, usage and speed, and its name as each response's top-level `provider`")
    sim.set_defaults(func=cmd_sim)

    grade = sub.add_parser("grade", help="grade responses produced elsewhere (JSONL with response and gold)")
    grade.add_argument("file", type=Path, help="one JSON object per line: response, gold (for mcq the correct letter)")
    grade.add_argument("--grader", required=True, choices=["math", "integer", "mcq", "exact", "regex"])
    grade.add_argument("--out", type=Path, help="write each line back with correct, extracted and reason added")
    grade.add_argument("--reasoning-open", action=argparse.BooleanOptionalAction, dest="reasoning_open",
                       help="every response starts inside a reasoning block its chat template opened: only text after "
                            "</think> (or <|end_of_thought|>) is an answer, none without it. Default: assumed when some "
                            "responses close a block and none opens one")
    grade.set_defaults(func=cmd_grade)

    report = sub.add_parser("report", help="tables, charts and a self-contained HTML page for one or more runs")
    report.add_argument("runs", nargs="+", type=Path, help="run folders (results/<run>)")
    report.add_argument("--out", type=Path, help="the report folder (default RUN/report, or beside the runs for several)")
    report.add_argument("--price-as", dest="price_as", help="price every run with this preset of configs/prices.yaml")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="paired comparison of two runs, or of two variants within one run")
    compare.add_argument("run_a", type=Path)
    compare.add_argument("run_b", type=Path, nargs="?", help="a second run (omit to compare two variants of RUN_A)")
    compare.add_argument("--a", dest="model_a", help="the variant on side A (within one run: required unless it has exactly two)")
    compare.add_argument("--b", dest="model_b", help="the variant on side B")
    compare.add_argument("--md", type=Path, help="also write the comparison as markdown to this file")
    compare.set_defaults(func=cmd_compare)

    regrade = sub.add_parser("regrade", help="grade a run's stored responses again (no network) and show what changed")
    regrade.add_argument("run", type=Path, help="a run folder (results/<run>)")
    audit_group = regrade.add_argument_group("a grader audit (the run's verdicts are left as they are)")
    audit_group.add_argument("--second-opinion", dest="second_opinion", nargs="?", const="math-verify", choices=["math-verify", "judge"],
                             help="grade every answered sample a second way, plain math-verify (the default) or a judge model, "
                                  "write RUN/second_opinion.csv and list every disagreement")
    audit_group.add_argument("--judge", help="with --second-opinion judge: PROVIDER:MODEL (or MODEL on the run's provider)")
    audit_group.add_argument("--data-dir", type=Path, dest="data_dir",
                             help="with --second-opinion judge: the data the run read, to rebuild its prompts (default: the run's own)")
    regrade.set_defaults(func=cmd_regrade)

    plan = sub.add_parser("plan", help="samples per item needed to detect a difference between two variants, and its cost")
    plan.add_argument("--task", required=True, help="a task id present in the run")
    plan.add_argument("--detect", type=float, required=True, help="the difference to detect, in accuracy points")
    plan.add_argument("--run", type=Path, help="the run whose per-item variance to use (default: the newest under results/ with the task)")
    plan.add_argument("--alpha", type=float, default=0.05, help="two-sided test level (default 0.05: 95%% confidence)")
    plan.add_argument("--power", type=float, default=0.8, help="chance of detecting a real difference of that size (default 0.8)")
    plan.add_argument("--price-as", dest="price_as", help="a preset of configs/prices.yaml (default: the run's provider's)")
    plan.add_argument("--tolerance", type=float, help="size a `glm-eval check` instead: the drop it tolerates (points); --detect is the drop it must catch")
    plan.add_argument("--cells", type=int, default=1, help="with --tolerance: the model x task cells the check splits alpha over (default 1)")
    plan.set_defaults(func=cmd_plan)

    from harness.gate.commands import add_commands

    add_commands(sub)

    for name, func, text in (
        ("models", cmd_models, "list the variants and each provider's id for them"),
        ("tasks", cmd_tasks, "list the built-in tasks"),
        ("providers", cmd_providers, "list the provider presets"),
    ):
        sub.add_parser(name, help=text).set_defaults(func=func)
    return parser


def run_spec_from(args: argparse.Namespace) -> Any:
    from harness.config import validate
    from harness.runspec import RunSpec, load_suite

    fields: dict[str, Any] = load_suite(args.suite) if getattr(args, "suite", None) else {}
    for name in RunSpec.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = value
    if "," in str(fields.get("protocol", "")):
        raise UserError(f"--protocol {fields['protocol']}: both protocols in one go is `glm-eval run`'s; here give strict or zai-kit")
    if isinstance(fields.get("thinking"), str):
        if "," in fields["thinking"]:
            raise UserError(f"--thinking {fields['thinking']}: both modes in one go is `glm-eval run`'s; here give on or off")
        fields["thinking"] = fields["thinking"] == "on"
    return validate(fields, RunSpec, str(args.suite) if getattr(args, "suite", None) else "command line")


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    if args.thinking and "," in args.thinking:
        if args.protocol and "," in args.protocol:
            raise UserError("--thinking on,off and --protocol strict,zai-kit each run twice: give one of them both ways, not both")
        return _run_both_modes(args, console)
    if args.protocol and "," in args.protocol:
        return _run_both_protocols(args, console)
    spec = run_spec_from(args)
    if args.until_decided:
        return _run_until_decided(spec, args, console)
    if args.baseline is not None:
        raise UserError("--baseline goes with --until-decided (or give it to `glm-eval check`)")
    if args.dry_run:
        return _print_plans([spec], console)
    from harness.api import run_spec

    return run_spec(spec, sys.argv[1:], console, report=not args.no_report).exit_code


def _print_plans(specs: list[Any], console: Console) -> int:
    """--dry-run: each plan, what the store holds of it and what it would cost; nothing is sent."""
    from harness import evaluate, summary

    for spec in specs:
        plan, _ = evaluate.prepare(spec, need_key=False)
        book, preset = evaluate.pricing(spec, plan.provider)
        summary.print_plan(plan, evaluate.store_path(spec), console, book, preset, batch=spec.batch)
    return 0


def _run_until_decided(spec: Any, args: argparse.Namespace, console: Console) -> int:
    from harness import evaluate
    from harness.gate.adaptive import adaptive_markdown, run_until_decided
    from harness.gate.summary import append_step_summary

    if args.baseline is None:
        raise UserError("--until-decided checks against a baseline: give --baseline PATH (written by `glm-eval baseline`)")
    if args.rounds < 1:
        raise UserError(f"--rounds {args.rounds}: give 1 or more")
    out = evaluate.run_dir_for(spec)
    check = run_until_decided(spec, args.baseline, out, args.rounds, args.tolerance, args.alpha, sys.argv[1:], console)
    markdown = adaptive_markdown(check)
    out.mkdir(parents=True, exist_ok=True)
    (out / "check.md").write_text(markdown, encoding="utf-8")
    append_step_summary(markdown)
    console.rule("check in rounds")
    console.print(markdown, markup=False, highlight=False)
    console.print(f"written: {out / 'check.md'}")
    return check.exit_code(args.require_conclusive)


def _run_both_modes(args: argparse.Namespace, console: Console) -> int:
    """`run --thinking on,off`: the same plan with thinking on and off, as two runs under one folder
    (the request bodies differ, so they are stored and keyed apart), then one report pairing them."""
    from harness import evaluate
    from harness.report.thinking import thinking_rows, thinking_tables

    modes = args.thinking.split(",")
    args.thinking = modes[0]
    spec = run_spec_from(args)
    out = evaluate.run_dir_for(spec)
    specs = [spec.model_copy(update={"thinking": mode == "on", "out": out / f"thinking-{mode}"}) for mode in modes]
    return _run_paired(args, console, out, specs, [f"thinking {mode}" for mode in modes], "thinking on against off",
                       lambda figures: thinking_tables(figures, thinking_rows(figures)))


def _run_both_protocols(args: argparse.Namespace, console: Console) -> int:
    """`run --protocol strict,zai-kit`: the plan under glm-eval's rules and under Z.ai's kit's, as two
    runs under one folder and one store (requests the two share are sent once), then the report's
    breakdown of the gap between them, rule by rule."""
    from harness import evaluate
    from harness.report.protocols import gap_tables

    protocols = args.protocol.split(",")
    args.protocol = "zai-kit"  # validated as the kit's run (it needs the judge, refuses --top-p)
    kit = run_spec_from(args)
    if kit.judge is None:
        raise UserError("--protocol strict,zai-kit: the kit grades with a checker model: give one with --judge PROVIDER:MODEL "
                        "(the kit's was Meta-Llama-3.1-70B-Instruct)")
    out = evaluate.run_dir_for(kit)
    shared = {"store": kit.store or evaluate.store_path(kit)}
    strict = kit.model_copy(update={"protocol": "strict", "judge": None, "judge_fallback": False, "out": out / "protocol-strict", **shared})
    kit = kit.model_copy(update={"out": out / "protocol-zai-kit", **shared})
    specs = [strict if name == "strict" else kit for name in protocols]
    return _run_paired(args, console, out, specs, [f"protocol {name}" for name in protocols], "strict against zai-kit: where the gap comes from",
                       gap_tables)


def _run_paired(args: argparse.Namespace, console: Console, out: Path, specs: list[Any], titles: list[str], heading: str,
                tables: Callable[[Any], list[Any]]) -> int:
    """Run each spec in turn under `out`, print `tables` of the pair, and write one report of both."""
    from harness import evaluate
    from harness.runview import RunView

    if args.dry_run:
        return _print_plans(specs, console)
    codes = []
    for one, title in zip(specs, titles):
        console.rule(title)
        codes.append(evaluate.execute(one, sys.argv[1:], RunView(console)).exit_code)
    from harness.report import write_report
    from harness.report.figures import collect
    from harness.report.terminal import rich_table
    from harness.runs import load_runs

    folders = [one.out for one in specs if one.out is not None]
    figures = collect(load_runs(folders))
    console.rule(heading)
    for table in tables(figures):
        console.print(rich_table(table))
    if not args.no_report:
        files = write_report(folders, out / "report")
        console.print(f"report: {files[0].parent / 'report.html'}")
    return max(codes)


def cmd_audit(args: argparse.Namespace, console: Console) -> int:
    from harness.audit.run import folder_for, run_audit
    from harness.report import write_report
    from harness.report.figures import collect
    from harness.report.providers import provider_tables
    from harness.report.terminal import rich_table
    from harness.runs import load_runs

    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    if not providers:
        raise UserError("--providers: name at least two, the reference first (e.g. zai,openrouter)")
    if args.reference:
        if args.reference not in providers:
            raise UserError(f"--reference {args.reference}: not one of --providers ({', '.join(providers)})")
        providers = [args.reference, *(p for p in providers if p != args.reference)]
    args.provider = providers[0]
    spec = run_spec_from(args)
    if args.dry_run:
        return _print_plans([spec.model_copy(update={"provider": name}) for name in providers], console)
    out = folder_for(spec.out)
    done = run_audit(spec.model_copy(update={"out": None}), providers, out, sys.argv[1:], console)
    runs = load_runs(list(done.runs.values()))
    figures = collect(runs)
    if figures.providers is None:
        raise UserError(f"{out}: the providers answered no variant in common")
    console.rule("audit")
    if runs.simulated:
        console.print(f"[bold white on red] {runs.simulated_mark()} [/]")
    for table in provider_tables(figures.providers, runs.simulated):
        if table.name in ("provider_accuracy", "provider_conformance"):
            console.print(rich_table(table))
    files = write_report(list(done.runs.values()), out / "report")
    console.print(f"report: {files[0].parent / 'report.html'}; gate on it with: glm-eval check {out} --tolerance POINTS")
    return done.exit_code


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from harness.api import run_spec
    from harness.config import validate
    from harness.family import variants
    from harness.runspec import RunSpec

    fields: dict[str, Any] = {
        "provider": "simulated",
        "models": list(variants()),
        "tasks": ["math500", "aime24", "gpqa_diamond"],
        "samples": 1,
        "out": args.out,
        "store": args.out / "store.sqlite",
        "price_as": "cometapi",  # what the simulated answers would cost at published prices
    }
    if args.limit:
        fields["limit"] = args.limit
    if args.data_dir:
        fields["data_dir"] = args.data_dir
    spec = validate(fields, RunSpec, "demo")
    console.print(f"[bold]glm-eval demo[/bold]: {len(fields['models'])} GLM-4.5 variants against the SIMULATED endpoint (offline; scores are not measurements)")
    return run_spec(spec, sys.argv[1:], console, allow_builtin_sample=True).exit_code


def cmd_probe(args: argparse.Namespace, console: Console) -> int:
    import json

    from harness.config import load_models
    from harness.probe import as_manifest, print_probe, probe
    from harness.providers import GENERIC, resolve_provider
    from harness.simproc import DEFAULT_SIM_KEY, simulator
    from harness.tasks import data_dir_from_env

    provider = resolve_provider(args.provider, args.base_url, args.api_key_env)
    models = load_models()
    if args.models:
        variants = [m.strip() for m in args.models.split(",") if m.strip()]
    elif provider.name == GENERIC:
        raise UserError("say which models to probe on this server: --models NAME[,NAME] (the ids its /models lists)")
    else:
        variants = [name for name, m in models.items() if provider.preset in m.ids]
    model_ids = {v: provider.model_id(v, models) for v in variants}
    key = provider.api_key()
    if provider.simulated:
        key = key or DEFAULT_SIM_KEY
    with contextlib.ExitStack() as stack:
        base_url = provider.config.base_url
        if provider.simulated and args.base_url is None:
            base_url = stack.enter_context(simulator(["math500"], data_dir_from_env(None), 0.001, key or DEFAULT_SIM_KEY, provider_profile=provider.host))
        found = probe(provider, base_url, key, model_ids)
    print_probe(found, f"{provider.name} ({base_url})" + (" (SIMULATED)" if provider.simulated else ""), console)
    if args.json_out:
        args.json_out.write_text(json.dumps(as_manifest(found), indent=2) + "\n", encoding="utf-8")
    return 0 if all(p.thinking_on.ok and p.whole.ok for p in found) else 1


def cmd_sim(args: argparse.Namespace, console: Console) -> int:
    import json

    from harness.simproc import answer_key_for
    from harness.simulator import DEFAULT_PROFILES, KeyItem, SimOptions, serve
    from harness.simulator.process import API_KEY_ENV

    if args.answer_key:
        lines = args.answer_key.read_text(encoding="utf-8").splitlines()
        key = [KeyItem(**json.loads(line)) for line in lines if line.strip()]
    else:
        from harness.tasks import data_dir_from_env

        key = answer_key_for(args.tasks.split(","), data_dir_from_env(args.data_dir))
    options = SimOptions(
        profiles_path=args.profiles or DEFAULT_PROFILES, api_key=os.environ.get(API_KEY_ENV) or "sim-key",
        time_scale=args.time_scale, request_log=args.log, stream_usage=args.stream_usage,
        max_model_len=args.max_model_len, reasoning_format=args.reasoning_format, provider_profile=args.provider_profile,
    )
    serve(options, key, args.host, args.port)
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from harness.report import write_report

    for run in args.runs:
        if not (run / "manifest.json").exists():
            raise UserError(f"{run} is not a run folder (no manifest.json); give folders that `glm-eval run` wrote")
    files = write_report(args.runs, args.out, price_as=args.price_as)
    for path in files:
        console.print(str(path))
    return 0


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from harness.report import compare, comparison_markdown, print_comparison

    for run in filter(None, (args.run_a, args.run_b)):
        if not (run / "manifest.json").exists():
            raise UserError(f"{run} is not a run folder (no manifest.json); give folders that `glm-eval run` wrote")
    try:
        comparison = compare(args.run_a, args.run_b, args.model_a, args.model_b)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print_comparison(comparison, console)
    if args.md:
        args.md.write_text(comparison_markdown(comparison), encoding="utf-8")
        console.print(f"markdown: {args.md}")
    return 0


def cmd_grade(args: argparse.Namespace, console: Console) -> int:
    from harness.graders.jsonl import grade_file

    if not args.file.is_file():
        what = "a folder" if args.file.is_dir() else "no such file"
        raise UserError(f"{args.file}: {what}; give a JSONL file, one {{\"response\", \"gold\"}} object per line")
    try:
        result = grade_file(args.file, args.grader, args.out, reasoning_open=args.reasoning_open)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    share = f" ({100 * result.correct / result.graded:.1f}%)" if result.graded else ""
    ambiguous = f", {result.ambiguous} ambiguous (letters named, none chosen)" if result.ambiguous else ""
    console.print(f"graded {result.graded} lines with the {args.grader} grader: {result.correct} correct{share}{ambiguous}")
    if result.reasoning_open and args.reasoning_open is None:
        console.print("responses close a reasoning block and none opens one: every line was read as starting inside "
                      "one (a line without </think> has no answer); --no-reasoning-open grades them whole")
    if args.out:
        console.print(f"verdicts: {args.out}")
    return 0


def cmd_regrade(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from harness.records import SECOND_OPINION as FILE
    from harness.regrade import regrade

    if args.second_opinion is not None:
        return _second_opinion(args, console)
    if args.judge or args.data_dir:
        raise UserError("--judge and --data-dir go with --second-opinion judge")
    graded, changes = regrade(args.run)
    if changes:
        table = Table(title=f"Verdicts that changed in {args.run}")
        for column in ("model", "task", "item", "sample", "old verdict", "new verdict", "reason"):
            table.add_column(column)
        for c in changes:
            verdict = lambda v: f"{'right' if v.correct else 'wrong'} ({v.extracted})"  # noqa: E731
            table.add_row(c.model, c.task, c.item_id, str(c.sample), verdict(c.old), verdict(c.new), c.new.reason)
        console.print(table)
    console.print(f"regraded {graded} samples: {len(changes)} verdicts changed; {args.run}/samples.jsonl updated")
    if changes and (args.run / FILE).exists():
        console.print(f"[yellow]note[/yellow]: {args.run / FILE} compares the verdicts before this regrade; "
                      f"run `glm-eval regrade {args.run} --second-opinion` again to compare the new ones")
    return 0


DISAGREEMENTS_SHOWN = 30  # more go to the file, with a count on the terminal


def _second_opinion(args: argparse.Namespace, console: Console) -> int:
    """`regrade RUN --second-opinion`: the run graded a second way, every disagreement, and the
    rate per model x task; samples.jsonl is not touched."""
    import pandas as pd
    from rich.markup import escape
    from rich.table import Table

    from harness import second_opinion
    from harness.records import read_manifest, write_second_opinion
    from harness.report.second_opinion import rates_table
    from harness.report.terminal import rich_table
    from harness.stats.agreement import disagreement_rates

    opinion = second_opinion.second_opinion(args.run, args.second_opinion, console, args.judge, args.data_dir)
    path = write_second_opinion(args.run, opinion.samples)
    samples = opinion.samples
    simulated = read_manifest(args.run).simulated
    if simulated:
        console.print("[bold white on red] SIMULATED [/] a run against glm-eval's simulated endpoint: its answers are a test double's")
    for task, why in opinion.without.items():
        console.print(f"[yellow]note[/yellow]: {task} has no second method: {why}")
    disagree = samples[~samples["agree"]]
    if not disagree.empty:
        table = Table(title=f"Disagreements: glm-eval against {opinion.method}", title_justify="left")
        for column in ("model", "task", "item", "sample", "glm-eval", "glm-eval reason", opinion.method, "its reason"):
            table.add_column(column, overflow="fold")

        def verdict(correct: bool, extracted: object) -> str:  # answers are LaTeX: "[a, b]" is not rich markup
            return f"{'right' if correct else 'wrong'} ({'nothing' if pd.isna(extracted) else escape(str(extracted))})"

        for r in disagree.head(DISAGREEMENTS_SHOWN).itertuples():
            table.add_row(r.model, r.task, escape(str(r.item_id)), str(r.sample), verdict(r.glm_eval_correct, r.glm_eval_extracted),
                          escape(str(r.glm_eval_reason)), verdict(r.second_correct, r.second_extracted), escape(str(r.second_reason)))
        console.print(table)
        if len(disagree) > DISAGREEMENTS_SHOWN:
            console.print(f"... and {len(disagree) - DISAGREEMENTS_SHOWN} more: every disagreement is in {path} (agree = False)")
    rates = disagreement_rates(samples)
    if not rates.empty:
        console.print(rich_table(rates_table(rates, list(rates["model"]), simulated)))
    share = f" ({100 * len(disagree) / len(samples):.1f}%)" if len(samples) else ""
    console.print(f"second opinion by {opinion.method}: {len(samples)} graded samples, {len(disagree)} disagreements{share}; "
                  f"{path} written; the run's verdicts are unchanged (`glm-eval report {args.run}` shows the rate)")
    if opinion.unanswered:
        print(f"glm-eval: {opinion.unanswered} samples are left out: the judge's requests about them failed; "
              f"run the same command again to ask again (answers already given are not paid twice)", file=sys.stderr)
        return 1
    return 0


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from harness import results, stats
    from harness.cost import PriceError, estimate_run_cost, load_prices, run_preset
    from harness.records import read_manifest

    run = args.run or results.latest_run_with(args.task)
    scores = results.read_samples(run)
    if args.task not in set(scores["task"]):
        raise UserError(f"{run} has no samples of task {args.task}; run it first or name another run with --run")
    detect, alpha = args.detect, args.alpha
    if args.tolerance is not None:
        # The check's one-sided test at alpha / cells must put its bound below -tolerance for a true drop
        # of --detect: the two-sided sizing at twice that level, for the difference detect - tolerance.
        if not 0 <= args.tolerance < args.detect or args.cells < 1:
            raise UserError("--tolerance must be at least 0 and below --detect, and --cells at least 1")
        detect, alpha = args.detect - args.tolerance, 2 * args.alpha / args.cells
    try:
        advice = stats.sample_size_advice(scores, args.task, detect, alpha, args.power)
    except ValueError as exc:
        raise UserError(f"{run}: {exc}; rerun the task with --samples 2 or more") from None
    console.print(
        f"{args.task}: from {run} ({advice.n_items} items x {advice.k_current} samples; within-item variance "
        f"{advice.within_var:.4f}, between-item variance of differences {advice.between_var:.4f}: {advice.between_source})"
    )
    if args.tolerance is not None:
        console.print(f"at {advice.k_current} samples per item, the smallest drop such a check fails with power {args.power:.0%}: "
                      f"{advice.detectable_pts_at_current_k + args.tolerance:.1f} points")
    else:
        console.print(f"at {advice.k_current} samples per item, the smallest difference detected with power {args.power:.0%}: "
                      f"{advice.detectable_pts_at_current_k:.1f} points")
    if advice.k_needed is None or advice.n_requests is None:  # None together
        console.print(f"no number of samples per item detects {args.detect} points on {advice.n_items} items: the items differ too much; add items")
        return 0
    per_variant = advice.n_requests // 2
    if args.tolerance is not None:
        console.print(
            f"for `glm-eval check --tolerance {args.tolerance:g} --alpha {args.alpha:g}` over {args.cells} cells to fail on a "
            f"{args.detect:g}-point drop with power {args.power:.0%}: {advice.k_needed} samples per item on these {advice.n_items} items, "
            f"{per_variant} requests per variant and run"
        )
    else:
        console.print(
            f"to detect {args.detect} points at {1 - args.alpha:.0%} confidence with power {args.power:.0%}: "
            f"{advice.k_needed} samples per item, {per_variant} requests per variant ({advice.n_requests} for the pair)"
        )
    book = load_prices()
    provider = str(scores["provider"].iloc[0])
    preset = run_preset(book, read_manifest(run), args.price_as)
    if preset is None:
        console.print(f"cost: provider {provider} has no prices; add --price-as PRESET ({', '.join(book.presets)})")
        return 0
    for model in scores["model"].unique():
        try:
            price = book.price_for(preset, model)
        except PriceError:
            console.print(f"  {model}: no price in preset {preset}")
            continue
        cost = estimate_run_cost(per_variant, advice.mean_prompt_tokens, advice.mean_completion_tokens, price)
        console.print(f"  {model}: {cost:.2f} {book.presets[preset].currency} (priced as {preset}; mean tokens of the run)")
    return 0


def cmd_models(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from harness.config import load_models, load_providers

    providers = list(load_providers())
    table = Table(title="GLM-4.5 variants and their ids per provider (configs/models.yaml)")
    table.add_column("variant")
    for name in providers:
        table.add_column(name)
    table.add_column("description")
    for variant, config in load_models().items():
        table.add_row(variant, *(config.ids.get(p, "-") for p in providers), config.description)
    console.print(table)
    return 0


def cmd_tasks(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from harness.tasks import builtin_tasks, load_spec

    table = Table(title="Built-in tasks (tasks/*.yaml); a path to your own task .yaml works too")
    for column in ("task", "dataset", "grader", "samples", "prompt source"):
        table.add_column(column)
    for name in builtin_tasks():
        spec, _ = load_spec(name)
        where = spec.dataset.hub_id or spec.dataset.path or ""
        table.add_row(spec.id, where + (" (gated)" if spec.dataset.gated else ""), spec.grader, str(spec.samples), spec.prompt.source)
    console.print(table)
    return 0


def cmd_providers(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from harness.config import load_providers

    table = Table(title="Provider presets (configs/providers.yaml)")
    for column in ("provider", "base URL", "key variable", "thinking switch", "concurrency", "rpm"):
        table.add_column(column)
    for name, p in load_providers().items():
        key = p.api_key_env + (" (optional)" if p.api_key_optional else "")
        table.add_row(name, p.base_url, key, p.thinking, str(p.concurrency), str(p.rpm or "-"))
    console.print(table)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    if not console.is_terminal:  # a log or a pipe: wide enough that tables do not wrap
        console = Console(highlight=False, width=160)
    signal.signal(signal.SIGTERM, _terminate)
    # A shell starts background jobs with SIGINT ignored, and children inherit that; a run must
    # still stop cleanly (and resumably) when asked to.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    func: Callable[[argparse.Namespace, Console], int] = args.func
    try:
        return func(args, console)
    except (Exception, KeyboardInterrupt) as exc:
        status = exit_status(exc)
        if status is None or (args.debug and not isinstance(exc, KeyboardInterrupt)):
            raise
        code, line = status
        print(f"glm-eval: {'error: ' if code != 130 else ''}{line}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
