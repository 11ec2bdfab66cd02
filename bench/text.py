"""User text on adversarial input: the blameless check and Markdown, 100 KB each.

    python bench/text.py [--runs 5] [--size 100000]

Prints, for each input, the best of ``--runs`` wall times (milliseconds) of the paths a request
takes: ``markdown_problem`` (the save/preview check that answers 400), ``render_markdown`` (what
a page shows, including a stored text beyond the limits) and ``check_text`` (the blameless
check run on every post-mortem view). The baseline, in the same run, is rendering plain prose
of the same size. Budget (issue 11): every path under 50 ms. No database or server needed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from bench.harness import machine, write_doc_section  # noqa: E402
from incidents.markdown import markdown_problem, render_markdown  # noqa: E402
from postmortems.blameless import check_text  # noqa: E402

BUDGET_MS = 50.0
NAMES = ["alice", "Alice Smith", "bob", "Bob Martin", "carol", "dave"] * 5


def plain_prose(size: int) -> str:
    words = [
        "the", "checkout", "bot", "stopped", "answering", "after", "the", "model", "endpoint",
        "returned", "errors", "and", "the", "probe", "opened", "an", "incident", "which", "the",
        "on-call", "engineer", "acknowledged", "within", "minutes", "alice", "bob", "restarted",
    ]  # fmt: skip
    rng = random.Random(7)
    text, paragraph = [], []
    while sum(map(len, text)) < size:
        paragraph.append(" ".join(rng.choice(words) for _ in range(14)) + ".")
        if len(paragraph) == 4:
            text.append(" ".join(paragraph) + "\n\n")
            paragraph = []
    return "".join(text)[:size]


def nested_list(size: int) -> str:
    lines, total, depth = [], 0, 0
    while total < size:
        lines.append("  " * depth + "- x\n")
        total += len(lines[-1])
        depth += 1
    return "".join(lines)[:size]


def inputs(size: int) -> dict[str, str]:
    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    under_cap = size if size <= 100_000 else 100_000
    return {
        "plain prose (baseline)": plain_prose(size),
        "[ repeated": fill("["),
        "[ x 7,900 + prose (rendered: under the limit)": fill("[")[:7_900]
        + plain_prose(under_cap - 7_900),
        "autolinks x 1,000 + prose (rendered)": fill("<http://a> ")[:11_000]
        + plain_prose(under_cap - 11_000),
        "table of 3,900 cells + prose (rendered)": (
            "|a|b|c|\n|-|-|-|\n" + "|x|y|z|\n" * 970 + plain_prose(under_cap)
        )[:under_cap],
        "quotes 16 deep on every line (rendered)": fill("> " * 16 + "x\n"),
        "nested brackets [[[...]]]": "[" * (size // 2) + "]" * (size // 2),
        "links [a]( unclosed": fill("[a]("),
        "images ![ unclosed": fill("!["),
        "emphasis _*_* mix": fill("_*"),
        "emphasis *a **a": fill("*a **a "),
        "backtick runs `a``": fill("`a``"),
        "autolinks <http://a": fill("<http://a"),
        "nested quotes >>>": fill(">"),
        "nested lists (indent)": nested_list(size),
        "nested lists - - -": fill("- "),
        "table 1 column x rows": ("|a|\n|-|\n" + "|x|\n" * size)[:size],
        "link reference defs": fill("[a]: "),
        "entities &#x41;": fill("&#x41;"),
        "blame: he forgot (one sentence)": fill("he forgot "),
        "blame: he forgot. (a finding per sentence)": fill("he forgot. "),
        "blame: person 7 words from blame, per sentence": fill("he a b c d e f forgot. "),
        "blame: names and blame, hyphenated": fill("alice-forgot-"),
        "blame: name soup, no blame": fill("alice bob carol dave "),
        "blame: blame soup, no person": fill("forgot mistake careless "),
    }


def best_ms(function, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function(text)
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()

    paths = {
        "check (400?)": markdown_problem,
        "render": render_markdown,
        "blameless": lambda text: check_text(text, NAMES, field="summary"),
    }
    rows = []
    header = f"{'input (' + str(args.size // 1000) + ' KB)':46} " + " ".join(
        f"{name:>13}" for name in paths
    )
    print(machine())
    print(header)
    worst = 0.0
    for name, text in inputs(args.size).items():
        figures = {path: best_ms(function, text, args.runs) for path, function in paths.items()}
        problem = markdown_problem(text)
        verdict = f"refused (400) / shown as plain text: {problem}" if problem else "rendered"
        worst = max(worst, *figures.values())
        print(f"{name:46} " + " ".join(f"{v:13.1f}" for v in figures.values()))
        rows.append((name, figures, verdict))
    print(f"worst path: {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")

    if args.no_doc:
        return
    lines = [
        "### User text: blameless check and Markdown (`make bench-text`)",
        "",
        f"{args.size // 1000} KB per input, best of {args.runs} runs; {machine()}; the machine "
        "was shared with other engineers' test runs while measured, so figures are noisy (the "
        "best of several runs is kept). Budget: every path under 50 ms; the baseline is "
        "rendering plain prose of the same size in the same run.",
        "",
        "Markdown is rendered by cmark-gfm (C, no recursion) and sanitised by nh3. Before "
        "rendering, `incidents.markdown.markdown_problem` checks the documented limits in one "
        "linear pass: 100,000 characters; no line opening more than 16 quotes/lists; outside "
        "code blocks at most 8,000 inline markup characters, 1,000 links and 4,000 table "
        "separators. Saving or previewing beyond them is a 400 naming the limit; a text stored "
        "before is shown as escaped plain text. The blameless check clips sentences at 2,000 "
        "characters, reads 2 KB chunks once per precompiled pattern, and stops at 100 findings "
        "or 200 sentences holding both a person and blame language. Before (same machine, "
        "development runs): Python-Markdown took 673 ms for plain 100 KB, 45 s for 10 KB of "
        "`[` and 197 s for 20 KB; the pairwise blameless check was cubic (issue 11: 30 s for "
        "4 KB of `he forgot `).",
        "",
        "| input | markdown_problem ms | render_markdown ms | blameless ms | outcome |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, figures, verdict in rows:
        values = " | ".join(f"{v:.1f}" for v in figures.values())
        outcome = re.sub(r" \(.*?\)", "", verdict.split(";")[0])  # no markup in the table
        lines.append(f"| {name} | {values} | {outcome} |")
    lines.append("")
    lines.append(f"Worst path: {worst:.1f} ms against a budget of {BUDGET_MS:.0f} ms.")
    write_doc_section(
        ROOT / "docs" / "performance.md", "bench-text", "\n".join(lines), title="Performance"
    )


if __name__ == "__main__":
    main()
