"""A post-mortem as Markdown, for wikis."""

from __future__ import annotations

from postmortems.facts import MeasuredFacts, human_duration
from postmortems.services.whys import TreeNode


def _verdict_text(verdict, what: str) -> str:
    if verdict.state == "unknown":
        return f"unknown ({verdict.reason})"
    if verdict.state == "met":
        return f"met ({human_duration(verdict.actual)} within {human_duration(verdict.target)})"
    return f"missed by {human_duration(verdict.missed_by)} ({human_duration(verdict.actual)} against {human_duration(verdict.target)})"


def _tree_lines(nodes: list[TreeNode]) -> list[str]:
    lines = []
    for item in nodes:
        indent = "  " * item.depth
        root = " **(root cause)**" if item.node.is_root_cause else ""
        lines.append(f"{indent}- **Why?** {item.node.question}{root}")
        if item.node.answer:
            lines.append(f"{indent}  {item.node.answer}")
        lines += _tree_lines(item.children)
    return lines


def postmortem_markdown(postmortem, facts: MeasuredFacts, tree, factors, items) -> str:
    incident = postmortem.incident
    service = incident.service
    out = [
        f"# {postmortem.title}",
        "",
        f"- Incident: {incident.reference} ({incident.title})",
        f"- Service: {service.name}",
        f"- Severity: {incident.severity} ({incident.get_severity_display()})",
        f"- Status: {postmortem.get_status_display()}",
        f"- Responders: {', '.join(str(u) for u in postmortem.responders.all()) or '—'}",
        "",
        "## Measured facts",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| impact started | {facts.impact_started_at:%Y-%m-%d %H:%M:%S %Z} |",
        f"| time to detect | {human_duration(facts.time_to_detect)} |",
        f"| time to acknowledge | {human_duration(facts.time_to_acknowledge)} |",
        f"| time to mitigate | {human_duration(facts.time_to_mitigate)} |",
        f"| time to recover | {human_duration(facts.time_to_recover)} |",
        f"| RTO | {_verdict_text(facts.rto, 'RTO')} |",
        f"| data loss | {human_duration(facts.data_loss)} |",
        f"| RPO | {_verdict_text(facts.rpo, 'RPO')} |",
        f"| cost of downtime | {facts.downtime_cost if facts.downtime_cost is not None else '—'} |",
        "",
    ]
    for heading, text in (
        ("Summary", postmortem.summary),
        ("Impact", postmortem.impact),
        ("What went well", postmortem.what_went_well),
        ("What went wrong", postmortem.what_went_wrong),
        ("Lessons learned", postmortem.lessons_learned),
    ):
        if text.strip():
            out += [f"## {heading}", "", text.strip(), ""]
    out += ["## 5 Whys", ""] + (_tree_lines(tree) or ["(none)"]) + [""]
    out += ["## Contributing factors", ""]
    out += [
        f"- **{f.get_category_display()} / {f.get_factor_display()}**"
        + (f": {f.description}" if f.description else "")
        for f in factors
    ] or ["(none)"]
    out += [
        "",
        "## Action items",
        "",
        "| item | owner | due | priority | status |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in items:
        title = f"[{item.title}]({item.link})" if item.link else item.title
        out.append(
            f"| {title} | {item.owner or '—'} | {item.due_date or '—'} | "
            f"{item.get_priority_display()} | {item.get_status_display()} |"
        )
    if postmortem.no_action_needed:
        out += ["", f"No action needed: {postmortem.no_action_reason}"]
    out += ["", "## Timeline", ""]
    out += [
        f"- {e['at'][:19].replace('T', ' ')} {e['actor']}: {e['message']}"
        for e in postmortem.timeline_snapshot
    ]
    return "\n".join(out).rstrip() + "\n"
