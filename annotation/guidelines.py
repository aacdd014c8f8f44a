"""The annotator guideline, generated from the codebook: `annotation/GUIDELINES.md` and the project's
instructions in Label Studio (the same text, as HTML)."""

from __future__ import annotations

import html
from pathlib import Path

from corpus.codebook import ACTOR_LABEL, POLICY_LABEL, Codebook

GUIDELINES_PATH = Path(__file__).with_name("GUIDELINES.md")

# A block is (kind, payload): ("h1"|"h2"|"h3"|"p", text), ("ul", [text]), ("table", (header, rows)).
Block = tuple[str, object]


def _blocks(cb: Codebook) -> list[Block]:
    stances = ", ".join(f"`{s}`" for s in cb.stance_names)
    qualifiers = ", ".join(f"`{q}`" for q in cb.qualifier_names) or "none"
    blocks: list[Block] = [
        ("h1", f"Annotation guideline: {cb.name}"),
        ("p", f"Codebook version {cb.version}. This file is generated from `corpus/codebook.yaml` by "
              "`python -m annotation guidelines`; edit the codebook, never this file."),
        ("p", cb.description.strip()),
        ("h2", "How to annotate an article"),
        ("ul", [
            f"Mark every mention of an actor that takes a position with the `{ACTOR_LABEL}` label, and "
            f"every mention of a policy option it takes a position on with the `{POLICY_LABEL}` label.",
            "Select the span, then pick its canonical actor or policy option in the box that appears. "
            "Only when none fits, type a short canonical name in the free-text box instead.",
            f"Draw a relation from the {ACTOR_LABEL} span to the {POLICY_LABEL} span and give it exactly "
            f"one stance label ({stances}); add a qualifier ({qualifiers}) where it applies.",
            "Code only positions attributed to an actor in the text, never the journalist's framing.",
            "Finish with the article-level choices below, then submit. Skip an article only if it is "
            "unreadable.",
        ]),
        ("h2", "Span labels"),
        ("ul", [f"**{s.value}**: {s.definition.strip()}" for s in cb.span_labels]),
        ("h2", "Stance labels (relation labels)"),
    ]
    for s in cb.stance_labels:
        blocks.append(("h3", s.id if s.label == s.id else f"{s.id} ({s.label})"))
        blocks.append(("p", s.definition.strip()))
        if s.decision_rules:
            blocks.append(("ul", list(s.decision_rules)))
    if cb.stance_qualifiers:
        blocks.append(("h2", "Qualifiers (optional extra relation labels)"))
        blocks.append(("ul", [f"**{q.id}**: {q.definition.strip()}" for q in cb.stance_qualifiers]))
    types = {t.id: t.label for t in cb.actor_types}
    blocks += [
        ("h2", "Actor types"),
        ("ul", [f"**{t.label}** (`{t.id}`): {t.definition.strip()}" for t in cb.actor_types]),
        ("h2", "Canonical actors"),
        ("table", (["id", "actor", "type", "also written as"],
                   [[f"`{a.id}`", a.label, types.get(a.type, a.type), "; ".join(a.aliases)]
                    for a in cb.actors])),
        ("h2", "Policy options"),
        ("table", (["id", "option", "definition", "examples"],
                   [[f"`{p.id}`", p.label, p.definition.strip(), "; ".join(f"\"{e}\"" for e in p.examples)]
                    for p in cb.policy_options])),
    ]
    if cb.article_labels:
        blocks.append(("h2", "Article-level labels (one choice each)"))
        blocks.append(("ul", [f"**{a.label}** (`{a.id}`): {a.definition.strip()} Choices: "
                              + ", ".join(f"`{c}`" for c in a.choices) for a in cb.article_labels]))
    return blocks


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def guidelines_markdown(cb: Codebook) -> str:
    """The guideline as Markdown (the content of GUIDELINES.md)."""
    out: list[str] = []
    for kind, payload in _blocks(cb):
        if kind in ("h1", "h2", "h3"):
            out += ["#" * int(kind[1]) + " " + str(payload), ""]
        elif kind == "p":
            out += [str(payload), ""]
        elif kind == "ul":
            out += [f"- {item}" for item in payload] + [""]  # type: ignore[union-attr]
        elif kind == "table":
            header, rows = payload  # type: ignore[misc]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _inline_html(text: str) -> str:
    """Escape, then render the two inline marks the guideline uses: **bold** and `code`."""
    parts = html.escape(text, quote=False).split("`")
    parts = [f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)]
    bold = "".join(parts).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(bold))


def guidelines_html(cb: Codebook) -> str:
    """The guideline as HTML: Label Studio's project instructions (`expert_instruction`)."""
    out: list[str] = []
    for kind, payload in _blocks(cb):
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{_inline_html(str(payload))}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline_html(str(payload))}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in payload) + "</ul>")  # type: ignore[union-attr]
        elif kind == "table":
            header, rows = payload  # type: ignore[misc]
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                           for row in rows)
            out.append(f"<table><tr>{head}</tr>{body}</table>")
    return "\n".join(out) + "\n"
